"""Entropy coding of quantised feature groups and of raw 16-bit floats (integers only).

Quantised values are coded in groups (a channel, or a channel's wavelet band), each with
its own table from a fixed family, chosen by the encoder (forward adaptation)::

    group values v (int) --choose--> kind (0: all equal, 1..64: Laplace around the median
                                     c, 65..128: one-sided geometric from the minimum c)
    side info: kind (8 raw bits) + c (side table) | values - c with the chosen table

Lossless 16-bit floats are split into bytes and coded with backward-adaptive counts
(the decoder updates the same integer counts as it goes, so there is no side info)::

    bits --high byte (sign, exponent, ...)--> adaptive model, 256 symbols
         --low byte--> adaptive model, one of two contexts: the high byte says zero/tiny or not

Every table is built from integers or once from fixed constants, so encoder and decoder
use the same tables on any machine.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from codec.entropy import Decoder, Encoder, Table, laplace_table_family, quantize_pmf
from codec.errors import FormatError

__all__ = ["N_SCALES", "decode_bits16", "decode_groups", "encode_bits16", "encode_groups"]

N_SCALES = 64
_PRECISION = 20
_KIND_BITS = 8
_MAX_WIDTH = 4096
_SIDE = Table(laplace_table_family([16.0], 64, 16)[0], offset=-64, escape=True, precision=16)


def _scales() -> np.ndarray:
    return 0.05 * 2.0 ** (np.arange(N_SCALES) / 4.0)  # 0.05 .. ~2900


def _width(b: float) -> int:
    return int(min(max(np.ceil(12 * b), 8), _MAX_WIDTH))


@lru_cache(maxsize=1)
def _family() -> tuple[list[Table], list[np.ndarray]]:
    """Tables 0..63 symmetric Laplace, 64..127 one-sided geometric; and their bit costs."""
    tables = []
    for b in _scales():
        m = _width(b)
        tables.append(Table(laplace_table_family([b], m, _PRECISION)[0], offset=-m, escape=True,
                            precision=_PRECISION))
    for b in _scales():
        m = _width(b)
        k = np.arange(m + 1)
        mass = np.exp(-k / b) * (1 - np.exp(-1 / b))
        pmf = np.append(mass, max(np.exp(-(m + 1) / b), 1e-12))
        tables.append(Table(quantize_pmf(pmf, _PRECISION), offset=0, escape=True, precision=_PRECISION))
    costs = [_PRECISION - np.log2(t.freqs.astype(np.float64)) for t in tables]
    return tables, costs


def _cost(v: np.ndarray, t: int) -> float:
    """Approximate bits to code v (already centred) with table t (escape length included)."""
    tables, costs = _family()
    table, cost = tables[t], costs[t]
    inside = (v >= table.lo) & (v <= table.hi)
    bits = float(cost[(v[inside] - table.offset)].sum())
    out = v[~inside]
    if out.size:
        excess = np.where(out > table.hi, out - table.hi, table.lo - out).astype(np.float64)
        bits += out.size * (cost[-1] + 5.0) + float((2 * np.log2(2 * excess + 1)).sum())
    return bits


def _choose(v: np.ndarray) -> tuple[int, int]:
    """(kind, centre) for one group of int values."""
    lo, hi = int(v.min()), int(v.max())
    if lo == hi:
        return 0, lo
    scales = _scales()
    best = None
    for family, centre in ((0, int(np.median(v))), (1, lo)):
        d = v.astype(np.int64) - centre
        mean = float(np.abs(d).mean()) if family == 0 else float(d.mean())
        guess = int(np.argmin(np.abs(np.log2(scales) - np.log2(max(mean, 1e-3)))))
        for t in range(max(0, guess - 3), min(N_SCALES, guess + 4)):
            bits = _cost(d, family * N_SCALES + t)
            if best is None or bits < best[0]:
                best = (bits, 1 + family * N_SCALES + t, centre)
    return best[1], best[2]


def encode_groups(enc: Encoder, groups: list[np.ndarray]) -> None:
    """Code each int array of ``groups`` with its own chosen table (side info first)."""
    tables, _ = _family()
    choices = [_choose(g.ravel()) for g in groups]
    if not choices:
        return
    enc.encode_uniform(np.array([k for k, _ in choices]), _KIND_BITS)
    enc.encode(np.array([c for _, c in choices], np.int64), _SIDE)
    for g, (kind, centre) in zip(groups, choices):
        if kind:
            enc.encode(g.ravel().astype(np.int64) - centre, tables[kind - 1])


def decode_groups(dec: Decoder, sizes: list[int]) -> list[np.ndarray]:
    """Inverse of ``encode_groups``: int64 arrays of the given sizes."""
    tables, _ = _family()
    if not sizes:
        return []
    kinds = dec.decode_uniform(len(sizes), _KIND_BITS)
    if kinds.max() > len(tables):
        raise FormatError("corrupt stream: table choice out of range")
    centres = dec.decode(len(sizes), _SIDE).astype(np.int64)
    out = []
    for n, kind, centre in zip(sizes, kinds, centres):
        if kind:
            out.append(dec.decode(n, tables[int(kind) - 1]).astype(np.int64) + centre)
        else:
            out.append(np.full(n, centre, np.int64))
    return out


# --- backward-adaptive coding of bytes (lossless 16-bit floats) ------------------------------

_ADAPT_PRECISION = 16
_FIRST_BLOCK = 64
_LAST_BLOCK = 8192
_WEIGHT = 16


def _counts_table(counts: np.ndarray) -> Table:
    """A table proportional to integer counts, with integer arithmetic only."""
    n = len(counts)
    spare = (1 << _ADAPT_PRECISION) - n
    total = int(counts.sum())
    freqs = 1 + counts * spare // total
    freqs[int(np.argmax(counts))] += (1 << _ADAPT_PRECISION) - int(freqs.sum())
    return Table(freqs.astype(np.uint32), offset=0, escape=False, precision=_ADAPT_PRECISION)


def _blocks(count: int):
    start, size = 0, _FIRST_BLOCK
    while start < count:
        yield start, min(start + size, count)
        start += size
        size = min(size * 2, _LAST_BLOCK)


def _encode_adaptive(enc: Encoder, symbols: np.ndarray, alphabet: int) -> None:
    counts = np.ones(alphabet, np.int64)
    for a, b in _blocks(symbols.size):
        enc.encode(symbols[a:b], _counts_table(counts))
        counts += _WEIGHT * np.bincount(symbols[a:b], minlength=alphabet)


def _decode_adaptive(dec: Decoder, count: int, alphabet: int) -> np.ndarray:
    counts = np.ones(alphabet, np.int64)
    out = np.empty(count, np.int64)
    for a, b in _blocks(count):
        out[a:b] = dec.decode(b - a, _counts_table(counts))
        counts += _WEIGHT * np.bincount(out[a:b], minlength=alphabet)
    return out


def _low_context(high: np.ndarray, dtype: str) -> np.ndarray:
    """True where the value is zero or tiny (exponent field starts with zeros)."""
    mask = 0x7C if dtype == "float16" else 0x7F
    return (high & mask) == 0


def encode_bits16(enc: Encoder, bits: np.ndarray, dtype: str) -> None:
    """Code uint16 bit patterns exactly (NaN payloads, infinities, subnormals included)."""
    flat = bits.ravel().astype(np.int64)
    high, low = flat >> 8, flat & 0xFF
    _encode_adaptive(enc, high, 256)
    tiny = _low_context(high, dtype)
    _encode_adaptive(enc, low[tiny], 256)
    _encode_adaptive(enc, low[~tiny], 256)


def decode_bits16(dec: Decoder, count: int, dtype: str) -> np.ndarray:
    high = _decode_adaptive(dec, count, 256)
    if high.max(initial=0) > 255:
        raise FormatError("corrupt stream: byte out of range")
    tiny = _low_context(high, dtype)
    low = np.empty(count, np.int64)
    low[tiny] = _decode_adaptive(dec, int(tiny.sum()), 256)
    low[~tiny] = _decode_adaptive(dec, int((~tiny).sum()), 256)
    return ((high << 8) | low).astype(np.uint16)
