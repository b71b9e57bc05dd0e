"""Memory of one training step, measured: the resident memory (CPU, fp32) of a process that
builds a network and runs one forward + backward pass at a batch size. The slope between two batch
sizes is the activation memory per image, which a GPU in fp32 needs as well (bf16 autocast
stores most activations in half the bytes); the intercept is the model, optimiser and libraries."""

import json
import os
import subprocess
import sys

CHILD = """
import json, os, torch
from sparserobust.models import registry as models
def rss():  # the resident memory now, MB (Linux); ru_maxrss would carry the parent's high-water mark
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20
torch.set_num_threads({threads})
net = models.build({arch!r}, {classes}).to(memory_format=torch.channels_last)
x = torch.rand({batch}, 3, {size}, {size}).contiguous(memory_format=torch.channels_last)
net.train()
base = rss()
loss = torch.nn.functional.cross_entropy(net(x), torch.zeros({batch}, dtype=torch.long))
held = rss()  # the activations the backward pass needs are alive now
loss.backward()
print(json.dumps({{"base_mb": base, "peak_mb": max(held, rss())}}))
"""


def step_peak(arch, classes, size, batch, threads=2):
    """{'base_mb', 'peak_mb'} of a fresh process running one training pass: its resident memory
    with the network and input built, and at the largest of after the forward pass (activations
    held for the backward pass) and after the backward pass (gradients)."""
    code = CHILD.format(arch=arch, classes=classes, size=size, batch=batch, threads=threads)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=1800,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    if out.returncode != 0:
        raise RuntimeError(f"memory probe at batch {batch} failed: {out.stderr[-1000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def per_image(arch, classes, size, batches):
    """Rows per batch size, and the activation memory per image (MB) from the first and last."""
    rows = [{"batch": b, **step_peak(arch, classes, size, b)} for b in batches]
    slope = (rows[-1]["peak_mb"] - rows[0]["peak_mb"]) / (batches[-1] - batches[0])
    return rows, slope
