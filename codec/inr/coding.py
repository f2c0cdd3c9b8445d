"""Integer form of an INR and its entropy coding: what makes decoding bit-exact.

The entropy model runs in fixed point. Its weights are integers in units of 2**-b (b chosen
per file by rate-distortion, like the synthesis step); its inputs (latents, flags) are
integers; each layer's sums are exact integers held in float64 (every partial sum stays
below 2**53, checked from the weights and inputs per layer, so the result does not depend
on summation order, BLAS, threads or FMA), rescaled by an exact floor division by 2**b.
Its two outputs become a mean in quarters (its integer part is subtracted, its fraction
picks the table's centre) and a scale, which pick one of a fixed family of 4 x 64 Laplace
tables. Latents are coded grid by grid, coarsest first, each grid in two checkerboard
passes; within a pass, latents are grouped by table (ascending index, raster order inside
a group), so a pass costs one coder call per table in use.

Network weights are integers too: each tensor of the entropy model in units of 2**-b,
each of the synthesis in units of 2**-q (q chosen per file by rate-distortion), coded as
its values shifted right by s bits with the zero-centred Laplace table that fits them best,
then the s low bits raw (s and the table index are coded first).
"""

import hashlib
from functools import lru_cache

import numpy as np
import torch

from codec.entropy import Decoder, Encoder, Table, laplace_table_family
from codec.errors import FormatError
from codec.inr.context import anchor_mask, level_context
from codec.inr.model import LOG_SCALE_MIN, MEAN_STEPS

__all__ = [
    "ARM_PRECISIONS",
    "MAX_LATENT",
    "IntegerARM",
    "decode_grids",
    "decode_tensor",
    "encode_grids",
    "encode_tensor",
    "grid_bits",
    "grid_contexts",
    "tables",
    "tensor_bits",
]

# The entropy model's fixed points tried per file (units of 2**-b): at a fixed 2**-8 its
# quantised weights moved means and scales enough to cost 15% more grid bits than the
# float model on a 256x256 crop, twice as many with a full-size grid (one-off runs); finer
# weights cost more bits, so the encoder picks the cheapest total.
ARM_PRECISIONS = (8, 10, 12, 14)
MAX_LATENT = 2**15             # latents are clamped to +-this before coding
N_SCALES = 64
N_TABLES = N_SCALES * MEAN_STEPS   # table MEAN_STEPS * k + f: scale k, centred at f / MEAN_STEPS
_LOG_SCALE_MIN_Q = round(LOG_SCALE_MIN * 256)   # exactly -819, in units of 2**-8
_MAX_SYMBOL = 255
_PRECISION = 16
_MAX_SHIFT = 15
# sha256 of the table family as built on the machine that wrote this code: tables come
# from np.exp, so a machine whose exp differed in the last bit could build other tables
# and decode garbage; it is refused instead.
_TABLES_SHA256 = "55f98c71697bc7f98e329001421a51739cea6d2c64a201b328dee29a06485e78"
_EXACT = 2.0**52


@lru_cache(maxsize=1)
def tables() -> list[Table]:
    """The 4 x 64 Laplace tables, scales exp(-3.2 + k/8), centres 0, 1/4, 1/2, 3/4, values
    -255..255 plus escape; table 4k + f has scale k and centre f/4."""
    scales = np.exp((_LOG_SCALE_MIN_Q + 32 * np.arange(N_SCALES)) / 256.0)
    freqs = np.stack([laplace_table_family(scales, _MAX_SYMBOL, _PRECISION, f / MEAN_STEPS)
                      for f in range(MEAN_STEPS)], 1).reshape(N_TABLES, -1)
    if hashlib.sha256(freqs.tobytes()).hexdigest() != _TABLES_SHA256:
        raise RuntimeError("this machine builds different Laplace tables (its exp() differs)")
    return [Table(row, offset=-_MAX_SYMBOL, escape=True, precision=_PRECISION) for row in freqs]


class IntegerARM:
    """The entropy model with integer weights in units of 2**-bits: (weights, biases) per
    layer, as int64 arrays."""

    def __init__(self, layers: list[tuple[np.ndarray, np.ndarray]], bits: int):
        self.layers = [(np.asarray(w, np.float64), np.asarray(b, np.float64)) for w, b in layers]
        self.bits = bits

    @classmethod
    def from_float(cls, arm, bits: int) -> "IntegerARM":
        scale = 2.0**bits
        return cls([(np.rint(layer.weight.detach().double().numpy() * scale),
                     np.rint(layer.bias.detach().double().numpy() * scale)) for layer in arm.layers], bits)

    def __call__(self, ctx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(n, inputs) integer contexts -> (integer parts of the means, table indices), int64."""
        x = ctx
        bound = float(np.abs(ctx).max(initial=0))
        unit = 2.0**self.bits
        for k, (w, b) in enumerate(self.layers):
            # Layer 0 maps integers to units of 2**-bits; later ones map those to 2**-2bits
            # units (bias scaled to match), floored back to 2**-bits.
            scale = 1.0 if k == 0 else unit
            bound = float(np.abs(w).sum(1).max(initial=0)) * bound + float(np.abs(b).max(initial=0)) * scale
            if bound >= _EXACT:
                raise FormatError("INR entropy model weights are too large for exact arithmetic")
            x = x @ w.T + b * scale
            if k:
                x = np.floor(x / unit)
            if k < len(self.layers) - 1:
                np.maximum(x, 0, out=x)
            bound = float(np.abs(x).max(initial=0))
        quarter = unit / MEAN_STEPS
        mean = np.floor((x[:, 0] + quarter / 2) / quarter).astype(np.int64)  # in quarters
        step = unit / 8  # the tables' log-scale spacing, 1/8
        scale = np.clip(np.floor((x[:, 1] - _LOG_SCALE_MIN_Q * unit / 256 + step / 2) / step), 0, N_SCALES - 1)
        return mean // MEAN_STEPS, scale.astype(np.int64) * MEAN_STEPS + mean % MEAN_STEPS


def _groups(index: np.ndarray):
    """Coding order of a pass (grouped by table, ascending; raster order within a group) and
    its (table, start, stop) runs."""
    order = np.argsort(index, kind="stable")
    bounds = np.searchsorted(index[order], np.arange(N_TABLES + 1))
    return order, [(k, bounds[k], bounds[k + 1]) for k in range(N_TABLES) if bounds[k + 1] > bounds[k]]


def _context(y: torch.Tensor, parent, level: int, levels: int) -> np.ndarray:
    return level_context(y, parent, level, levels).flatten(1).T.numpy()


def encode_grids(enc: Encoder, grids: list[np.ndarray], arm: IntegerARM) -> None:
    """Code integer grids (finest first in the list; coded coarsest first)."""
    contexts = grid_contexts(grids)
    for level in reversed(range(len(grids))):
        # One evaluation serves both passes: an anchor's context never sees a non-anchor.
        mean, index = arm(contexts[level])
        flat = np.asarray(grids[level], np.int64).ravel()
        anchors = anchor_mask(*np.shape(grids[level]), torch.bool).flatten().numpy()
        for mask in (anchors, ~anchors):
            order, runs = _groups(index[mask])
            symbols = (flat[mask] - mean[mask])[order]
            for k, a, b in runs:
                enc.encode(symbols[a:b], tables()[k])


def grid_contexts(grids: list[np.ndarray]) -> list[np.ndarray]:
    """Every level's causal contexts (finest first): the entropy model's inputs, which do
    not depend on its weights, so pricing several models computes them once."""
    levels = len(grids)
    t = [torch.from_numpy(np.asarray(g, np.float64)) for g in grids]
    parents = t[1:] + [None]
    return [_context(t[level], parents[level], level, levels) for level in range(levels)]


def grid_bits(grids: list[np.ndarray], arm: IntegerARM, contexts: list[np.ndarray] | None = None) -> float:
    """About what ``encode_grids`` spends (escapes priced at 32 bits), without coding.

    ``contexts`` are ``grid_contexts(grids)`` when the caller already has them."""
    total = 0.0
    for grid, ctx in zip(grids, contexts or grid_contexts(grids)):
        mean, index = arm(ctx)
        slots, escapes = _slots(np.asarray(grid, np.int64).ravel() - mean)
        total += float(-np.log2(_freqs()[index, slots] / 2.0**_PRECISION).sum()) + 32.0 * escapes
    return total


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


@lru_cache(maxsize=1)
def _freqs() -> np.ndarray:
    """All tables' frequencies as one (table, slot) array."""
    return np.stack([t.freqs for t in tables()])


def _slots(d: np.ndarray) -> tuple[np.ndarray, int]:
    """Each symbol's slot in a table (the escape slot beyond +-255) and how many escape."""
    out = np.abs(d) > _MAX_SYMBOL
    return np.where(out, 2 * _MAX_SYMBOL + 1, d + _MAX_SYMBOL).ravel(), int(out.sum())


def _table_bits(q: np.ndarray) -> np.ndarray:
    """Bits of ``q`` under each of the 64 zero-centred tables (escapes priced at 32 bits)."""
    slots, escapes = _slots(q)
    return -np.log2(_freqs()[::MEAN_STEPS, slots] / 2.0**_PRECISION).sum(1) + 32 * escapes


def _best_split(q: np.ndarray) -> tuple[float, int, int]:
    """(bits, shift, table) that code ``q`` cheapest as ``q >> shift`` with a table plus
    ``shift`` raw low bits each: large weights would otherwise be costly escapes."""
    best = None
    for shift in range(_MAX_SHIFT + 1):
        bits = _table_bits(q >> shift)
        k = int(np.argmin(bits))
        cost = float(bits[k]) + shift * q.size
        if best is None or cost < best[0]:
            best = (cost, shift, k)
    return best


def tensor_bits(q: np.ndarray) -> float:
    """About what ``encode_tensor`` spends on ``q``."""
    return _best_split(np.asarray(q, np.int64))[0] + 10


def encode_tensor(enc: Encoder, q: np.ndarray) -> None:
    """One integer tensor: its shift (4 bits) and zero-centred table k (6 bits), then ``q >> shift``
    with that table, then the ``shift`` low bits of each value."""
    q = np.asarray(q, np.int64)
    _, shift, k = _best_split(q)
    enc.encode_uniform(np.array([shift]), 4)
    enc.encode_uniform(np.array([k]), 6)
    enc.encode(q >> shift, tables()[k * MEAN_STEPS])
    if shift:
        enc.encode_uniform(q & ((1 << shift) - 1), shift)


def decode_tensor(dec: Decoder, shape: tuple[int, ...]) -> np.ndarray:
    (shift,) = dec.decode_uniform(1, 4)
    (k,) = dec.decode_uniform(1, 6)
    n = int(np.prod(shape))
    q = dec.decode(n, tables()[int(k) * MEAN_STEPS]).astype(np.int64)
    if shift:
        q = (q << int(shift)) + dec.decode_uniform(n, int(shift))
    return q.reshape(shape)
