"""Integer form of an INR and its entropy coding: what makes decoding bit-exact.

The entropy model runs in fixed point. Its weights are integers in units of 2**-8; its
inputs (latents, flags) are integers; each layer's sums are exact integers held in
float64 (every partial sum stays below 2**53, checked from the weights and inputs per layer,
so the result does not depend on summation order, BLAS, threads or FMA), rescaled by
an exact floor division by 2**8. Its two outputs become an integer mean and an index
into a fixed family of 64 Laplace tables. Latents are coded grid by grid, coarsest
first, each grid in two checkerboard passes; within a pass, latents are grouped by
table (ascending index, raster order inside a group), so a pass costs one coder call
per table in use.

Network weights are integers too: each tensor of the entropy model in units of 2**-8,
each of the synthesis in units of 2**-q (q chosen per file by rate-distortion), coded
with the zero-mean Laplace table that fits the tensor best (its index is coded first).
"""

import hashlib
from functools import lru_cache

import numpy as np
import torch

from codec.entropy import Decoder, Encoder, Table, laplace_table_family
from codec.errors import FormatError
from codec.inr.context import anchor_mask, level_context
from codec.inr.model import LOG_SCALE_MIN

__all__ = [
    "ARM_BITS",
    "MAX_LATENT",
    "IntegerARM",
    "decode_grids",
    "decode_tensor",
    "encode_grids",
    "encode_tensor",
    "tables",
    "tensor_bits",
]

ARM_BITS = 8                   # the entropy model's fixed point: units of 2**-8
MAX_LATENT = 2**15             # latents are clamped to +-this before coding
N_SCALES = 64
_SCALE_STEP_Q = 32             # 1/8 in units of 2**-8
_LOG_SCALE_MIN_Q = round(LOG_SCALE_MIN * 2**ARM_BITS)   # exactly -819
_MAX_SYMBOL = 255
_PRECISION = 16
# sha256 of the table family as built on the machine that wrote this code: tables come
# from np.exp, so a machine whose exp differed in the last bit could build other tables
# and decode garbage; it is refused instead.
_TABLES_SHA256 = "29bfc4c6dcacbd2d1392576acfa1daa0e6bc92e99024c793f7cbfb450de0fff9"
_EXACT = 2.0**52


@lru_cache(maxsize=1)
def tables() -> list[Table]:
    """The 64 Laplace tables, scales exp(-3.2 + k/8), values -255..255 plus escape."""
    scales = np.exp((_LOG_SCALE_MIN_Q + _SCALE_STEP_Q * np.arange(N_SCALES)) / 2.0**ARM_BITS)
    freqs = laplace_table_family(scales, _MAX_SYMBOL, _PRECISION)
    if hashlib.sha256(freqs.tobytes()).hexdigest() != _TABLES_SHA256:
        raise RuntimeError("this machine builds different Laplace tables (its exp() differs)")
    return [Table(row, offset=-_MAX_SYMBOL, escape=True, precision=_PRECISION) for row in freqs]


class IntegerARM:
    """The entropy model with integer weights: (weights, biases) per layer, as int64 arrays."""

    def __init__(self, layers: list[tuple[np.ndarray, np.ndarray]]):
        self.layers = [(np.asarray(w, np.float64), np.asarray(b, np.float64)) for w, b in layers]

    @classmethod
    def from_float(cls, arm) -> "IntegerARM":
        scale = 2.0**ARM_BITS
        return cls([(np.rint(layer.weight.detach().double().numpy() * scale),
                     np.rint(layer.bias.detach().double().numpy() * scale)) for layer in arm.layers])

    def to_float(self, arm) -> None:
        """Load these weights into a float ``ARM`` (for evaluating the quantised model)."""
        with torch.no_grad():
            for layer, (w, b) in zip(arm.layers, self.layers):
                layer.weight.copy_(torch.from_numpy(w / 2.0**ARM_BITS))
                layer.bias.copy_(torch.from_numpy(b / 2.0**ARM_BITS))

    def __call__(self, ctx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(n, inputs) integer contexts -> (integer means, table indices), both int64."""
        x = ctx
        bound = float(np.abs(ctx).max(initial=0))
        for k, (w, b) in enumerate(self.layers):
            # Layer 0 maps integers to units of 2**-8; later ones map 2**-8 to 2**-16 units
            # (bias scaled to match), floored back to 2**-8.
            scale = 1.0 if k == 0 else 2.0**ARM_BITS
            bound = float(np.abs(w).sum(1).max(initial=0)) * bound + float(np.abs(b).max(initial=0)) * scale
            if bound >= _EXACT:
                raise FormatError("INR entropy model weights are too large for exact arithmetic")
            x = x @ w.T + b * scale
            if k:
                x = np.floor(x / 2.0**ARM_BITS)
            if k < len(self.layers) - 1:
                np.maximum(x, 0, out=x)
            bound = float(np.abs(x).max(initial=0))
        mean = np.floor((x[:, 0] + 2 ** (ARM_BITS - 1)) / 2.0**ARM_BITS)
        index = np.floor((x[:, 1] - _LOG_SCALE_MIN_Q + _SCALE_STEP_Q // 2) / _SCALE_STEP_Q)
        return mean.astype(np.int64), np.clip(index, 0, N_SCALES - 1).astype(np.int64)


def _groups(index: np.ndarray):
    """Coding order of a pass (grouped by table, ascending; raster order within a group) and
    its (table, start, stop) runs."""
    order = np.argsort(index, kind="stable")
    bounds = np.searchsorted(index[order], np.arange(N_SCALES + 1))
    return order, [(k, bounds[k], bounds[k + 1]) for k in range(N_SCALES) if bounds[k + 1] > bounds[k]]


def _context(y: torch.Tensor, parent, level: int, levels: int) -> np.ndarray:
    return level_context(y, parent, level, levels).flatten(1).T.numpy()


def encode_grids(enc: Encoder, grids: list[np.ndarray], arm: IntegerARM) -> None:
    """Code integer grids (finest first in the list; coded coarsest first)."""
    levels = len(grids)
    t = [torch.from_numpy(np.asarray(g, np.float64)) for g in grids]
    for level in reversed(range(levels)):
        parent = t[level + 1] if level + 1 < levels else None
        # One evaluation serves both passes: an anchor's context never sees a non-anchor.
        mean, index = arm(_context(t[level], parent, level, levels))
        flat = np.asarray(grids[level], np.int64).ravel()
        anchors = anchor_mask(*t[level].shape, torch.bool).flatten().numpy()
        for mask in (anchors, ~anchors):
            order, runs = _groups(index[mask])
            symbols = (flat[mask] - mean[mask])[order]
            for k, a, b in runs:
                enc.encode(symbols[a:b], tables()[k])


def decode_grids(dec: Decoder, shapes: list[tuple[int, int]], arm: IntegerARM) -> list[torch.Tensor]:
    """Inverse of ``encode_grids``: float64 tensors of integers, finest first."""
    levels = len(shapes)
    out = [None] * levels
    for level in reversed(range(levels)):
        parent = out[level + 1] if level + 1 < levels else None
        y = torch.zeros(shapes[level], dtype=torch.float64)
        flat = y.view(-1).numpy()
        anchors = anchor_mask(*shapes[level], torch.bool).flatten().numpy()
        for mask in (anchors, ~anchors):  # the second pass's contexts see the decoded anchors
            mean, index = arm(_context(y, parent, level, levels)[mask])
            order, runs = _groups(index)
            symbols = np.empty(len(order), np.int64)
            for k, a, b in runs:
                symbols[a:b] = dec.decode(int(b - a), tables()[k])
            values = np.empty(len(order), np.int64)
            values[order] = symbols
            values += mean
            if np.abs(values).max(initial=0) > MAX_LATENT:
                raise FormatError("INR latent out of range")
            flat[mask] = values
        out[level] = y
    return out


def _table_bits(q: np.ndarray) -> np.ndarray:
    """Bits of ``q`` under each of the 64 tables (escapes priced at 32 bits)."""
    out = np.abs(q) > _MAX_SYMBOL
    slots = np.where(out, 2 * _MAX_SYMBOL + 1, q + _MAX_SYMBOL).ravel()
    return np.array([-np.log2(t.freqs[slots] / 2.0**_PRECISION).sum() for t in tables()]) + 32 * out.sum()


def tensor_bits(q: np.ndarray) -> float:
    """About what ``encode_tensor`` spends on ``q``."""
    return float(_table_bits(np.asarray(q, np.int64)).min()) + 6


def encode_tensor(enc: Encoder, q: np.ndarray) -> None:
    """One integer tensor: its table index (6 bits), then its values."""
    q = np.asarray(q, np.int64)
    k = int(np.argmin(_table_bits(q)))
    enc.encode_uniform(np.array([k]), 6)
    enc.encode(q, tables()[k])


def decode_tensor(dec: Decoder, shape: tuple[int, ...]) -> np.ndarray:
    (k,) = dec.decode_uniform(1, 6)
    return dec.decode(int(np.prod(shape)), tables()[int(k)]).astype(np.int64).reshape(shape)
