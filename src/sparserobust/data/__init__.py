"""Datasets: the demo family, CIFAR/SVHN/Tiny-ImageNet arrays, streamed image folders, batch augmentation,
official layouts checked and fabricated in them. May import: foundations."""
