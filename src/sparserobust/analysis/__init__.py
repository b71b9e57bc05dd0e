"""What the results mean: mask overlap, loss landscapes, the papers' definitions, collected tables,
published numbers and plots. May import: foundations, data, models, lottery, training, sparse."""
