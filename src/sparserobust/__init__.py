"""Sparse and robust deep learning: Double-Win lottery tickets and sparse adversarial training.

One folder per concern, each importing only the folders below it (README, "Design"):
foundations <- data, models, lottery <- training <- sparse, analysis <- pipeline <- performance.
"""

from .foundations.provenance import VERSION as __version__  # noqa: F401
