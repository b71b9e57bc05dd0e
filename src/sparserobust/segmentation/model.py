"""torchvision's Mask R-CNN (He et al. 2017; torchvision.models.detection.maskrcnn_resnet50_fpn's
construction) on a classification network of this package as the backbone body.

As torchvision builds a pre-trained detection backbone: BatchNorm frozen (FrozenBatchNorm2d with the
pre-trained statistics), `trainable_layers` of [layerK, ..., layer1, conv1] trained and the rest frozen,
layer1..layerK fed to a feature pyramid (BackboneWithFPN, LastLevelMaxPool). Heads and the settings in
DEFAULTS are torchvision's; `det` overrides them (the demo shrinks them).
"""

from torch import nn
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.ops import MultiScaleRoIAlign
from torchvision.ops.misc import FrozenBatchNorm2d

from ..models import registry

DEFAULTS = {"fpn_channels": 256, "representation": 1024, "mask_channels": [256, 256, 256, 256], "trainable_layers": 3,
            "anchor_sizes": [32, 64, 128, 256, 512], "aspect_ratios": [0.5, 1.0, 2.0]}
PASSED = ("min_size", "max_size", "rpn_pre_nms_top_n_train", "rpn_pre_nms_top_n_test", "rpn_post_nms_top_n_train",
          "rpn_post_nms_top_n_test", "rpn_batch_size_per_image", "box_batch_size_per_image", "box_detections_per_img",
          "box_score_thresh")  # MaskRCNN's own arguments, torchvision's defaults unless set


def freeze_bn(module):
    """Every BatchNorm2d replaced by a FrozenBatchNorm2d holding its affine parameters and statistics."""
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            frozen = FrozenBatchNorm2d(child.num_features, child.eps)
            for key in ("weight", "bias", "running_mean", "running_var"):
                getattr(frozen, key).copy_(getattr(child, key).detach())
            setattr(module, name, frozen)
        else:
            freeze_bn(child)
    return module


def depth(body):
    return sum(1 for name, _ in body.named_children() if name.startswith("layer"))


def freeze_layers(body, trainable):
    """torchvision's rule: the last `trainable` (0..5) of [layerK..layer1, conv1] train (bn1 too when
    all do); with K < 4 layers, K + 1 or more train the whole body."""
    names = [f"layer{i}" for i in range(depth(body), 0, -1)] + ["conv1"]
    if not 0 <= trainable <= 5:
        raise ValueError(f"segmentation.train.trainable_layers: {trainable}; torchvision takes 0 to 5")
    train = names[:trainable] + (["bn1"] if trainable >= len(names) else [])
    for name, param in body.named_parameters():
        param.requires_grad_(any(name.startswith(f"{t}.") for t in train))


def backbone(arch, state, det, trainable):
    body = registry.build(arch, 1000)
    result = body.load_state_dict({k: v for k, v in state.items() if not k.startswith("fc.")}, strict=False)
    if result.unexpected_keys or set(result.missing_keys) - {"fc.weight", "fc.bias"}:
        raise ValueError(f"pre-trained weights do not fit model.arch {arch}: {result}")
    freeze_layers(freeze_bn(body), trainable)
    k = depth(body)
    widths = [[m for m in getattr(body, f"layer{i}").modules() if isinstance(m, nn.Conv2d)][-1].out_channels
              for i in range(1, k + 1)]
    return BackboneWithFPN(body, {f"layer{i + 1}": str(i) for i in range(k)}, widths, det["fpn_channels"]), k


def build(arch, num_classes, state, det, mean, std):
    """The detector; `state`: the canonical pre-trained state dict of `arch` (fc.* ignored)."""
    unknown = sorted(set(det) - set(DEFAULTS) - set(PASSED))
    if unknown:
        raise ValueError(f"segmentation.detector: unknown settings {unknown}; known: {sorted({*DEFAULTS, *PASSED})}")
    det = {**DEFAULTS, **det}
    body, k = backbone(arch, state, det, det["trainable_layers"])
    if len(det["anchor_sizes"]) != k + 1:
        raise ValueError(f"segmentation.detector.anchor_sizes: {len(det['anchor_sizes'])} sizes, {arch} gives {k + 1} "
                         "feature maps (layer1..layerK and a max-pooled one): set one size per map")
    anchors = AnchorGenerator(tuple((s,) for s in det["anchor_sizes"]), (tuple(det["aspect_ratios"]),) * (k + 1))
    names, fpn, channels = [str(i) for i in range(k)], det["fpn_channels"], det["mask_channels"]
    return MaskRCNN(body, None, image_mean=list(mean), image_std=list(std), rpn_anchor_generator=anchors,
                    box_roi_pool=MultiScaleRoIAlign(names, 7, 2), mask_roi_pool=MultiScaleRoIAlign(names, 14, 2),
                    box_head=TwoMLPHead(fpn * 7 * 7, det["representation"]),
                    box_predictor=FastRCNNPredictor(det["representation"], num_classes),
                    mask_head=MaskRCNNHeads(fpn, channels, 1),
                    mask_predictor=MaskRCNNPredictor(channels[-1], channels[-1], num_classes),
                    **{key: det[key] for key in PASSED if key in det})


def backbone_mask(model, mask, source):
    """The ticket's mask (classification names) under the detector's names (backbone.body.<name>);
    the classifier (fc.*) is not part of the detector."""
    params = dict(model.named_parameters())
    out = {}
    for name, m in mask.items():
        if name.startswith("fc."):
            continue
        target = f"backbone.body.{name}"
        if target not in params or tuple(params[target].shape) != tuple(m.shape):
            got = tuple(params[target].shape) if target in params else "no such parameter"
            raise ValueError(f"{source}: the ticket's {name} {tuple(m.shape)} does not fit the detector's backbone "
                             f"({target}: {got}); the ticket was made for another model.arch")
        out[target] = m.bool()
    return out

