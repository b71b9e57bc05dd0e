"""Lottery tickets: masks (name -> bool tensor), pruning strategies registered by name, rewinding, the
export archive. May import: foundations, data, models."""
