"""Distortion measures, computed the way published image-compression results compute them.

PSNR is over all RGB samples of one image (then averaged over images per rate point by the
report). MS-SSIM is pytorch-msssim's, on 0-255 RGB, the convention of CompressAI's results.
"""

from importlib import metadata

import numpy as np

__all__ = ["psnr", "ms_ssim", "ms_ssim_version", "LOSSLESS_PSNR"]

# An exact reconstruction has infinite PSNR; JSON has no infinity, so it is reported as this.
LOSSLESS_PSNR = 100.0

# MS-SSIM downsamples four times with an 11-tap window: smaller images have no defined value.
MS_SSIM_MIN_SIDE = 161


def psnr(original: np.ndarray, decoded: np.ndarray, peak: float = 255.0) -> float:
    mse = np.mean((original.astype(np.float64) - decoded.astype(np.float64)) ** 2)
    if mse == 0:
        return LOSSLESS_PSNR
    return float(10 * np.log10(peak**2 / mse))


def ms_ssim(original: np.ndarray, decoded: np.ndarray) -> float | None:
    """MS-SSIM of two HxWx3 uint8 images; None when undefined (too small) or not installed."""
    if min(original.shape[:2]) < MS_SSIM_MIN_SIDE:
        return None
    try:
        import torch
        from pytorch_msssim import ms_ssim as _ms_ssim
    except ImportError:
        return None
    # float32 as CompressAI computes it: within 1e-6 of float64 and five times faster on a CPU.
    pair = [torch.from_numpy(np.array(x, dtype=np.float32)).permute(2, 0, 1)[None] for x in (original, decoded)]
    return float(_ms_ssim(*pair, data_range=255.0))


def ms_ssim_version() -> str | None:
    """pytorch-msssim's version, None when it is not installed (MS-SSIM is then left empty)."""
    try:
        return metadata.version("pytorch-msssim")
    except metadata.PackageNotFoundError:
        return None
