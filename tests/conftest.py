"""Shared fixtures: small real images cut from the bundled sample (fast to code)."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SAMPLE = Path(__file__).resolve().parent.parent / "codec" / "data" / "samples" / "kodim23.png"


@pytest.fixture(scope="session")
def sample_rgb() -> np.ndarray:
    """A 96x128 RGB crop of kodim23 (real texture, odd-free size)."""
    return np.asarray(Image.open(SAMPLE).convert("RGB"))[200:296, 300:428].copy()


@pytest.fixture(scope="session")
def sample_odd() -> np.ndarray:
    """A 45x77 RGB crop: sizes that are not multiples of any block size."""
    return np.asarray(Image.open(SAMPLE).convert("RGB"))[100:145, 50:127].copy()


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(peak**2 / mse)
