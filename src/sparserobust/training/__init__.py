"""The one training engine: PGD attacks, the step and its context, SGD and schedules, evaluation,
resumable checkpoints, a second kept best epoch. May import: foundations, data, models, lottery."""
