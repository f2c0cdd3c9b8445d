"""Signal kinds: how to find, load and measure the signals a benchmark codes.

A kind finds its files, loads them and measures a reconstruction, so the runner stays the same
for images now and audio or arrays later (an audio kind would read WAV/FLAC, divide bits by
seconds for kb/s, and measure SNR and SI-SDR; the report would then label its axes from the kind).
"""

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from . import metrics

__all__ = ["Sample", "SampleError", "ImageKind", "KINDS"]


class SampleError(Exception):
    """A file in the data folder cannot be used; it is skipped with this message."""


@dataclass(frozen=True)
class Sample:
    name: str
    data: np.ndarray
    digest: str  # of the decoded samples: cached results are reused only for the same content

    @property
    def size(self) -> int:
        """The count the rate is divided by (pixels for images)."""
        return self.data.shape[0] * self.data.shape[1]


class ImageKind:
    """Lossless image files in a folder, measured in bpp, RGB PSNR and MS-SSIM."""

    name = "image"
    suffixes = (".png", ".ppm", ".pnm", ".bmp", ".tif", ".tiff")

    def find(self, folder: Path) -> list[Path]:
        return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in self.suffixes)

    def load(self, path: Path) -> Sample:
        """An 8-bit RGB image (alpha dropped, grey expanded), as every codec here is fed."""
        try:
            with Image.open(path) as im:
                data = np.asarray(im.convert("RGB"))
        except Exception as exc:  # Pillow raises many types for broken files
            raise SampleError(f"cannot read image ({type(exc).__name__}: {exc})") from None
        if data.size == 0:
            raise SampleError("image is empty")
        digest = hashlib.sha256(data.tobytes() + str(data.shape).encode()).hexdigest()[:16]
        return Sample(path.name, data, digest)

    def measure_version(self) -> str:
        """Names how ``measure`` computes its numbers; part of the cache key like a codec's version."""
        return f"psnr-rgb; ms-ssim-rgb pytorch-msssim {metrics.ms_ssim_version()} float32"

    def measure(self, sample: Sample, decoded: np.ndarray, nbytes: int) -> dict:
        if decoded.shape != sample.data.shape or decoded.dtype != sample.data.dtype:
            raise ValueError(f"decoded {decoded.dtype}{decoded.shape}, expected {sample.data.dtype}{sample.data.shape}")
        return {
            "bpp": nbytes * 8 / sample.size,
            "psnr-rgb": metrics.psnr(sample.data, decoded),
            "ms-ssim-rgb": metrics.ms_ssim(sample.data, decoded),
        }


KINDS = {"image": ImageKind()}
