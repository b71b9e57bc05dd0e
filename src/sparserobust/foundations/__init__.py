"""What every layer uses: atomic writes, checksummed files, provenance, typed hyperparameters, devices, GPU slots,
data-parallel helpers, the names a config may use. The bottom layer: imports nothing from the package."""
