"""Networks (ResNets of both papers), FLOPs, pre-trained weights in their published formats and fabricated
copies of them. May import: foundations, data."""
