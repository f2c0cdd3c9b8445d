"""Integer frequency tables: the only form of a probability model the coder accepts.

Float probabilities are turned into integers once, when tables are built (and then
saved and shipped); from there on everything is integer, so the bitstream cannot
depend on floating-point details of the machine that encodes or decodes.
"""

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "MAX_PRECISION",
    "Table",
    "quantize_pmf",
    "laplace_table_family",
    "gaussian_table_family",
]

MAX_PRECISION = 24
"""Largest table precision: the fixed-point precision of constriction's range coder."""

_INT32_MIN = -(2**31)
_INT32_MAX = 2**31 - 1


@dataclass(frozen=True, eq=False)
class Table:
    """An integer model of one i.i.d. source of signed values.

    ``freqs[i]`` is the frequency of the value ``offset + i``; the frequencies are all
    >= 1 and sum to exactly ``2**precision``. With ``escape`` set, the last entry is the
    escape symbol instead, which stands for every value outside the direct range
    ``lo..hi`` (the coder then codes the value itself separately); without it, values
    outside the range cannot be coded.
    """

    freqs: np.ndarray
    offset: int
    escape: bool
    precision: int

    def __post_init__(self):
        freqs = np.asarray(self.freqs)
        if freqs.ndim != 1 or freqs.dtype.kind not in "ui":
            raise ValueError("freqs must be a 1-D integer array")
        if not 1 <= self.precision <= MAX_PRECISION:
            raise ValueError(f"precision must be in 1..{MAX_PRECISION}, got {self.precision}")
        if len(freqs) < 2:
            raise ValueError("a table needs at least 2 symbols")
        if freqs.min() < 1 or int(freqs.sum(dtype=np.int64)) != 1 << self.precision:
            raise ValueError(f"freqs must be >= 1 and sum to 2**{self.precision}")
        offset = int(self.offset)
        if offset < _INT32_MIN or offset + len(freqs) - 1 - bool(self.escape) > _INT32_MAX:
            raise ValueError("the direct range must lie within int32")
        freqs = freqs.astype(np.uint32)
        freqs.setflags(write=False)
        object.__setattr__(self, "freqs", freqs)
        object.__setattr__(self, "offset", offset)
        object.__setattr__(self, "escape", bool(self.escape))
        object.__setattr__(self, "precision", int(self.precision))

    @property
    def lo(self) -> int:
        """Smallest directly coded value."""
        return self.offset

    @property
    def hi(self) -> int:
        """Largest directly coded value."""
        return self.offset + len(self.freqs) - 1 - self.escape


def quantize_pmf(pmf: np.ndarray, precision: int) -> np.ndarray:
    """Integer frequencies >= 1 summing to exactly ``2**precision`` that follow ``pmf``.

    Every entry first gets 1 (so any symbol stays codable); the remaining
    ``2**precision - len(pmf)`` counts are shared in proportion to ``pmf`` by the
    largest-remainder method: each entry gets the floor of its share, and the counts
    still missing go one each to the largest fractional parts, ties to the lower
    index. The result is a deterministic function of the float64 input on IEEE-754
    machines; it is meant for table-build time only (the integers are what ships).
    """
    p = np.asarray(pmf, dtype=np.float64)
    total = 1 << precision
    if p.ndim != 1 or len(p) == 0:
        raise ValueError("pmf must be a non-empty 1-D array")
    if not 1 <= precision <= MAX_PRECISION:
        raise ValueError(f"precision must be in 1..{MAX_PRECISION}, got {precision}")
    if len(p) > total:
        raise ValueError(f"{len(p)} symbols do not fit in 2**{precision} counts")
    if not np.all(np.isfinite(p)) or p.min() < 0 or p.sum() <= 0:
        raise ValueError("pmf must be finite, non-negative and not all zero")
    spare = total - len(p)
    share = p / p.sum() * spare
    freqs = np.floor(share).astype(np.int64)
    # Rounding can make the shares sum to spare*(1 +- n*eps), far below one count,
    # so the number of counts still missing is in 0..n.
    missing = spare - int(freqs.sum())
    order = np.argsort(freqs - share, kind="stable")  # largest remainder first
    freqs[order[:missing]] += 1
    return (freqs + 1).astype(np.uint32)


def _table_family(pmf, scales, max_symbol: int, precision: int) -> np.ndarray:
    """Quantise ``pmf(scale)`` for each scale: one row per scale, its columns the values
    -max_symbol..max_symbol, then the escape symbol."""
    if max_symbol < 0:
        raise ValueError("max_symbol must be >= 0")
    rows = []
    for scale in np.asarray(scales, dtype=np.float64).ravel():
        if not scale > 0:
            raise ValueError("scales must be positive")
        rows.append(quantize_pmf(np.maximum(pmf(scale), 0.0), precision))
    return np.array(rows, dtype=np.uint32).reshape(-1, 2 * max_symbol + 2)


def laplace_table_family(scales, max_symbol: int, precision: int, centre: float = 0.0) -> np.ndarray:
    """Frequencies of Laplace laws (scale ``b``, centred at ``centre`` in [0, 1)) discretised
    to integers.

    Returns a uint32 array of shape (len(scales), 2*max_symbol + 2); row ``i`` makes
    ``Table(row, offset=-max_symbol, escape=True, precision=precision)``.
    """
    if not 0 <= centre < 1:
        raise ValueError("centre must be in [0, 1)")
    lo = np.arange(-max_symbol, max_symbol + 1) - 0.5 - centre  # bin edges, relative to the centre
    hi = lo + 1.0

    def pmf(b):
        # Below the centre from the cdf, above it from the survival function, so that
        # neither tail is a difference of numbers close to 1.
        below = 0.5 * (np.exp(np.minimum(hi, 0) / b) - np.exp(np.minimum(lo, 0) / b))
        above = 0.5 * (np.exp(-np.maximum(lo, 0) / b) - np.exp(-np.maximum(hi, 0) / b))
        escape = 0.5 * np.exp(lo[0] / b) + 0.5 * np.exp(-hi[-1] / b)
        return np.concatenate([below + above, [escape]])

    return _table_family(pmf, scales, max_symbol, precision)


_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def gaussian_table_family(sigmas, max_symbol: int, precision: int) -> np.ndarray:
    """Like ``laplace_table_family``, for zero-mean Gaussians of standard deviation sigma."""
    edges = np.arange(max_symbol + 1) + 0.5  # upper bin edges of 0..max_symbol

    def pmf(sigma):
        tail = 0.5 * _erfc(edges / (sigma * math.sqrt(2.0)))  # P(X > edge)
        half = -np.diff(tail)  # mass of the bins 1..max_symbol
        return np.concatenate([half[::-1], [1.0 - 2.0 * tail[0]], half, [2.0 * tail[-1]]])

    return _table_family(pmf, sigmas, max_symbol, precision)
