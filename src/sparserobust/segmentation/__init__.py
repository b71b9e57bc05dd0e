"""VOC instance segmentation of a ticket (Fig. A10): Mask R-CNN on the masked backbone, its loop, pycocotools.
May import: foundations, data, models, lottery, training."""
