"""What the results mean: mask overlap, loss landscapes, the papers' definitions, collected tables,
published numbers, plots, and the audit of finished tables. May import: foundations, data, models, lottery, training, sparse."""
