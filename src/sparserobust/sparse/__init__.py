"""Sparsity Winning Twice: Robust Bird's and Flying Bird(+)'s masks that move, and their training runs.
May import: foundations, data, models, lottery, training."""
