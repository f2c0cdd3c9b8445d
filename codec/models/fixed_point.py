"""The hyper-synthesis in integer arithmetic, so encoder and decoder agree bit for bit.

The means and sigma indices that pick the latents' tables come from a network; run in
floating point, they could differ between machines or thread counts and a single
flipped table index would derail the decoder. So the exported network holds integer
weights (``FRAC_W`` fraction bits) and integer activations (``FRAC_A`` bits), and every
convolution is a float64 matrix product of integers whose sums stay below 2**53: exact
whatever order the BLAS adds them in. Rescaling is a floor division by a power of two.
"""

import numpy as np

__all__ = ["FRAC_W", "FRAC_A", "ACT_LIMIT", "quantise_conv", "FixedHyperSynthesis"]

FRAC_W = 12
FRAC_A = 8
ACT_LIMIT = 2**22          # activations are clipped to +-ACT_LIMIT (2**14 in real units)
_EXACT = 2.0**52


def quantise_conv(weight: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Float conv weight (O, I, k, k) and bias (O,) -> int64 weight and bias (bias at 2**(W+A))."""
    w = np.round(weight.astype(np.float64) * 2.0**FRAC_W).astype(np.int64)
    b = np.round(bias.astype(np.float64) * 2.0 ** (FRAC_W + FRAC_A)).astype(np.int64)
    fan_in = w[0].size
    if np.abs(w).max() * ACT_LIMIT * fan_in + np.abs(b).max() >= _EXACT:
        raise ValueError("weights too large for exact fixed-point evaluation")
    return w, b


def _conv(a: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """'same' convolution of integer activations (I, h, w) at 2**FRAC_A -> (O, h, w), same scale."""
    o, i, k, _ = w.shape
    _, h, wd = a.shape
    if k == 1:
        cols = a.reshape(i, -1)
    else:
        p = k // 2
        padded = np.pad(a, ((0, 0), (p, p), (p, p)))
        cols = np.empty((i, k, k, h, wd), np.float64)
        for dy in range(k):
            for dx in range(k):
                cols[:, dy, dx] = padded[:, dy:dy + h, dx:dx + wd]
        cols = cols.reshape(i * k * k, h * wd)
    acc = w.reshape(o, -1).astype(np.float64) @ cols + b.astype(np.float64)[:, None]
    out = np.floor(acc / 2.0**FRAC_W)
    return np.clip(out, -ACT_LIMIT, ACT_LIMIT).reshape(o, h, wd)


def _pixel_shuffle(a: np.ndarray) -> np.ndarray:
    """torch.nn.functional.pixel_shuffle(., 2) for one (4C, h, w) array."""
    c4, h, w = a.shape
    return a.reshape(c4 // 4, 2, 2, h, w).transpose(0, 3, 1, 4, 2).reshape(c4 // 4, 2 * h, 2 * w)


def _interpolate(rows: np.ndarray, level: int) -> np.ndarray:
    """Integer rows (L, K) at a level in 1/256 units, linearly interpolated, floored."""
    i = min(level >> 8, len(rows) - 2)
    f = level - 256 * i
    return (rows[i] * (256 - f) + rows[i + 1] * f) // 256


def spread(log2_scale: np.ndarray, log2_gains: np.ndarray, level: int) -> np.ndarray:
    """log2 of each channel's prior spread in quantiser steps, in 1/256 units (K,) int64."""
    return log2_scale + _interpolate(log2_gains, level)


class FixedHyperSynthesis:
    """Integer twin of ``LearnedCodec.entropy_parameters``.

    ``layers`` maps c1, c2, c3 to (int weight, int bias) from ``quantise_conv``;
    ``log2_scale`` (K,) and ``log2_gains`` (L, K) are in 1/256 units; ``exp2_table[r]`` =
    round(2**(r/256 + 16)); ``sigma_offset`` = round((0.5 - 4*log2(SIGMA_MIN)) * 2**FRAC_A).
    All are stored in the model file.
    """

    def __init__(self, layers, log2_scale, log2_gains, exp2_table, sigma_offset: int, n_sigmas: int):
        self.layers, self.n_sigmas = layers, n_sigmas
        self.log2_scale, self.log2_gains, self.exp2_table = log2_scale, log2_gains, exp2_table
        self.sigma_offset = int(sigma_offset)

    def __call__(self, z: np.ndarray, level: int) -> tuple[np.ndarray, np.ndarray]:
        """Integer z (C, h, w), level in 1/256 units -> (mean at 2**FRAC_A, sigma index), (K, 4h, 4w)."""
        assert FRAC_A == 8  # spreads are in 1/256 units, the activations' own scale
        level_map = np.full((1, *z.shape[1:]), float(level))
        a = np.concatenate([z.astype(np.float64) * 2.0**FRAC_A, level_map])
        a = np.maximum(_conv(a, *self.layers["c1"]), 0)
        a = np.maximum(_pixel_shuffle(_conv(a, *self.layers["c2"])), 0)
        out = _conv(a, *self.layers["c3"]).astype(np.int64)
        k = out.shape[0] // 2
        s = spread(self.log2_scale, self.log2_gains, level)[:, None, None]
        index = (4 * (out[k:] + s) + self.sigma_offset) >> FRAC_A
        index = np.clip(index, 0, self.n_sigmas - 1)
        q, r = s >> 8, s & 255
        product = out[:k] * self.exp2_table[r]
        shift = q - 16
        mean = (product << np.maximum(shift, 0)) >> np.maximum(-shift, 0)
        up = lambda t: t.repeat(2, axis=1).repeat(2, axis=2)  # noqa: E731
        return up(mean), up(index)
