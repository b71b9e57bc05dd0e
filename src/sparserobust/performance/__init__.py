"""What the runs cost: the step benchmark against a plain reference loop, the GPU-hour projection, measured
memory, Snakemake's records. The top layer: may import every other folder."""
