"""The networks every RGB INR fit starts from, and the command that makes them.

A fast fit has 750 steps on a CPU. Starting its synthesis and entropy model from the
networks of an earlier fit of another photograph, instead of from random weights, leaves
more of those steps to the latents (README, "Starting networks"). The networks are still
refined per image and sent in the file, so decoding does not depend on them: only where
the encoder starts changes. They are the float networks (before quantisation) of a fit of
one training image's centre crop, made by ``wavecodec fit-inr-start``; fits of other
architectures or channel counts start from random weights.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from codec.inr.model import Architecture

__all__ = ["centre_crop", "make_start", "shipped_start", "write_start"]

_ARCH_FIELDS = ("levels", "first", "hidden", "arm_hidden", "channels")


def centre_crop(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """The (height, width) centre of an HxWxC image; a smaller image is refused."""
    h, w = image.shape[:2]
    if h < height or w < width:
        raise ValueError(f"the image is {w}x{h}, smaller than the crop {width}x{height}")
    top, left = (h - height) // 2, (w - width) // 2
    return np.ascontiguousarray(image[top:top + height, left:left + width])


def make_start(image: np.ndarray, quality: int, seed: int = 0, progress=None) -> dict[str, np.ndarray]:
    """Float networks of a fast fit, from random weights, of an HxWx3 uint8 image."""
    from codec.inr.fit import fit
    from codec.modes.inr import quality_to_lambda

    x = (image.transpose(2, 0, 1).astype(np.float64) / 255.0).astype(np.float32)  # as encode_image maps uint8
    fitted = fit(x, quality_to_lambda(quality), Architecture(channels=3), "fast", seed=seed,
                 progress=progress, networks=None)
    return {k: v.numpy() for k, v in fitted.networks.items()}


def write_start(path, networks: dict[str, np.ndarray], arch: Architecture, made_from: dict) -> Path:
    """Write the networks, their architecture and what they came from (temporary file, renamed)."""
    path = Path(path)
    arrays = dict(networks, arch=np.array([getattr(arch, f) for f in _ARCH_FIELDS], np.int64),
                  made_from=np.frombuffer(json.dumps(made_from, sort_keys=True).encode(), np.uint8))
    tmp = path.with_name(path.name + ".tmp.npz")
    try:
        np.savez_compressed(tmp, **arrays)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


@lru_cache(maxsize=None)
def _shipped_arrays() -> dict[str, np.ndarray]:
    from codec.zoo import INR_START, MODELS, model_path, read_model_file

    return read_model_file(model_path(INR_START), MODELS[INR_START].sha256)[1]


def shipped_start(arch: Architecture) -> dict | None:
    """The shipped networks as a torch state dict when they were made for ``arch``, else None."""
    import torch

    arrays = _shipped_arrays()
    if [int(v) for v in arrays["arch"]] != [getattr(arch, f) for f in _ARCH_FIELDS]:
        return None
    return {k: torch.from_numpy(v.copy()) for k, v in arrays.items() if k not in ("arch", "made_from")}
