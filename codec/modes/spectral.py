"""A per-file KLT across channels, for signals with many channels (multispectral, arrays).

Bands of a multispectral image are strongly correlated, and no model fitted in advance
knows a given sensor, so the encoder fits the channel covariance of this one file,
rotates the channels onto its eigenvectors and stores the rotation (float32) in the
header, where its bytes count in the rate. The rotation is orthogonal, so squared error
is the same before and after it and the linear mode's single step still applies.
"""


import numpy as np

from codec.errors import FormatError

__all__ = ["SpectralKLT", "MIN_CHANNELS"]

MIN_CHANNELS = 5  # below this the fixed gray/RGB(+alpha) models are used


class SpectralKLT:
    """matrix (C, C) with eigenvectors as columns (decreasing variance), mean (C,)."""

    def __init__(self, matrix: np.ndarray, mean: np.ndarray):
        self.matrix = np.ascontiguousarray(matrix, np.float32)
        self.mean = np.ascontiguousarray(mean, np.float32)

    @classmethod
    def fit(cls, x: np.ndarray) -> "SpectralKLT":
        """Fit on x (C, H, W); sums in float64 over rows so no full-size float64 copy is made."""
        c = x.shape[0]
        flat = x.reshape(c, -1)
        total = np.zeros(c)
        outer = np.zeros((c, c))
        rows = max(1, (1 << 22) // c)
        for start in range(0, flat.shape[1], rows):
            block = flat[:, start:start + rows].astype(np.float64)
            total += block.sum(1)
            outer += block @ block.T
        mean = total / flat.shape[1]
        eigval, eigvec = np.linalg.eigh(outer / flat.shape[1] - np.outer(mean, mean))
        return cls(eigvec[:, np.argsort(eigval)[::-1]], mean)

    def forward(self, x: np.ndarray) -> np.ndarray:
        c = x.shape[0]
        z = self.matrix.T @ (x.reshape(c, -1) - self.mean[:, None])
        return z.reshape(x.shape)

    def inverse(self, z: np.ndarray) -> np.ndarray:
        c = z.shape[0]
        x = self.matrix @ z.reshape(c, -1) + self.mean[:, None]
        return x.reshape(z.shape)

    def pack(self) -> bytes:
        return self.matrix.astype("<f4").tobytes() + self.mean.astype("<f4").tobytes()

    @classmethod
    def unpack(cls, data: bytes, channels: int) -> "SpectralKLT":
        if len(data) != 4 * channels * (channels + 1):
            raise FormatError(f"channel transform has {len(data)} bytes, expected {4 * channels * (channels + 1)}")
        values = np.frombuffer(data, "<f4").astype(np.float32)
        if not np.isfinite(values).all():
            raise FormatError("channel transform holds non-finite values")
        return cls(values[: channels * channels].reshape(channels, channels), values[channels * channels:])

    @staticmethod
    def size(channels: int) -> int:
        return 4 * channels * (channels + 1)
