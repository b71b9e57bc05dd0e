"""decode: gpu. The workers only read the files' bytes; here a batch of them is decoded by torchcodec
(nvJPEG on a CUDA device, in one call per batch) and cropped on the training device with the CPU path's
views and per-image seeds, so both paths take the same crop of each image (the resampling differs by
PIL's and torch's rounding only). torchcodec is optional: `pip install torchcodec==0.17.0`.
"""

import io

import numpy as np
import torch

PIP = "pip install torchcodec==0.17.0"


def decoder(setting):
    """torchcodec's decode_jpeg, or an error naming `setting` and the install command."""
    try:
        from torchcodec.decoders import decode_jpeg
    except (ImportError, OSError, RuntimeError) as err:  # missing, or built for another torch
        raise ImportError(f"{setting}: gpu needs torchcodec, which cannot be imported here ({err}); install "
                          f"it with `{PIP}` in the job's environment, or set {setting}: cpu") from err
    return decode_jpeg


class Decode:
    """Called with a batch from stream.collate_bytes: (uint8 images [B, 3, crop, crop] on `device`, labels)."""

    def __init__(self, view, setting):
        self.view = view  # the CPU path's transforms without PILToTensor: they also take CHW tensors
        self.decode_jpeg = decoder(setting)

    def __call__(self, data, lengths, labels, seeds, device):
        images = self.decode(list(torch.split(data, lengths.tolist())), device)
        out = []
        for image, seed in zip(images, seeds.tolist(), strict=True):
            with torch.random.fork_rng(devices=[]):  # the crop's randomness from this image's seed only
                torch.default_generator.manual_seed(seed)
                out.append(self.view(image))
        return torch.stack(out), labels

    def decode(self, files, device):
        """All files in one call; when that fails, one by one, so one odd file costs only itself."""
        try:
            return self.decode_jpeg(files, mode="RGB", device=device)
        except RuntimeError:
            return [self.decode_one(file, device) for file in files]

    def decode_one(self, file, device):
        try:
            return self.decode_jpeg(file, mode="RGB", device=device)
        except RuntimeError:  # not a JPEG the decoder reads (ImageNet holds a PNG named .JPEG): PIL
            from PIL import Image

            with Image.open(io.BytesIO(file.numpy().tobytes())) as handle:
                pixels = np.array(handle.convert("RGB"))
            return torch.from_numpy(pixels).permute(2, 0, 1).to(device)
