"""Datasets: demo, CIFAR/SVHN/Tiny-ImageNet arrays, streamed ImageNet/CUB/VisDA images, VOC instances,
batch augmentation, official layouts checked and fabricated. May import: foundations."""
