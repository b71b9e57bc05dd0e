"""What every layer uses: atomic writes, checksummed files and provenance, typed hyperparameters, the
device and GPU slots, data-parallel helpers, the architecture and device names a config may use.
The bottom layer: imports nothing from the package."""
