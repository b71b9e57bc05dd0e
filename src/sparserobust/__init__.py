"""Sparse and robust deep learning: Double-Win lottery tickets and sparse adversarial training.

One module per concern: config, data, augment, models, weights, masks, pruning, attacks,
engine (the one training loop), evaluate, metrics, plotting, provenance.
"""

__version__ = "0.1.0"
