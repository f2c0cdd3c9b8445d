"""Context coding of the colour group's KLT channels: the learned mode's entropy model.

Same quantised values as the linear mode (same KLT, step and dead zone), coded with sharper
tables. The linear mode gives each channel (or dyadic subband) one table, shifted for the
context channels by the static channels' activity. Here every sample's table is the
channel's own table shifted by a **fitted** amount that depends on three activity levels:

- A, its four spatial neighbours in the same plane (each plane is coded in two checkerboard
  passes: the first pass has no A, the second sees the first pass on all four sides);
- B, everything already decoded at this position in earlier channel groups (3x3 box);
- P, the coarser scale: the parent subband for dyadic subbands, the finest dyadic subbands
  for the packet channels.

Each level is a half-octave bin (0..15, 16 = none) of a ratio of magnitudes normalised by
their table's mean |q|; every step is integer arithmetic, so the decoder rebuilds the
encoder's tables exactly. The shifts (``ContextTables``) are fitted on training photographs
by ``codec.train.contexts``: per cell, the shift that codes the training symbols in the
fewest bits. Coding is vectorised per pass: 16 groups of planes (RGB), two passes each.
"""

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from codec.entropy import Decoder, Encoder
from codec.errors import FormatError
from codec.modes.linear import (
    DC_LEVELS,
    _dc_merge,
    decode_grouped,
    dequantise,
    encode_grouped,
    quantise,
    quantised_planes,
    read_side,
    write_side,
)
from codec.modes.linear_model import N_TABLES, LinearModel

__all__ = ["N_CELLS", "PARTS", "ContextTables", "decode_klt", "decode_symbols", "encode_group", "traverse"]

PARTS = ("dc", "static", "ctx")      # dyadic subbands, static channels, context channels
LEVELS = 17                          # activity levels 0..15 and 16 = no information
NONE = 16
N_CELLS = (LEVELS**2, LEVELS**3)     # pass 1 cells (B, P), pass 2 cells (A, B, P)
STATIC_GROUP, CTX_GROUP = 4, 32      # channels per group: B is updated between groups
_CAP = 15                            # larger magnitudes say nothing more about activity
_BIAS = 16                           # keeps ratios of empty neighbourhoods near 1
# Half-octave bins of a ratio x256; bin 8 holds ratios near 1.
_THRESHOLDS = np.array([round(256 * 2 ** ((i - 7.5) / 2)) for i in range(LEVELS - 2)], np.int64)
# The level of every ratio up to the last threshold (larger ones share its level): a table
# lookup is about ten times faster than searchsorted on these arrays.
_LEVEL_OF = np.searchsorted(_THRESHOLDS, np.arange(_THRESHOLDS[-1] + 1), side="right")


@dataclass(frozen=True, eq=False)
class ContextTables:
    """Fitted table shifts: ``shifts[part] = (pass-1 shifts by cell, pass-2 shifts by cell)``."""

    shifts: dict

    def __post_init__(self):
        for part in PARTS:
            for table, cells in zip(self.shifts[part], N_CELLS):
                if table.shape != (cells,) or np.abs(table).max(initial=0) >= N_TABLES:
                    raise FormatError(f"context table {part} has the wrong shape or range")

    def arrays(self) -> dict:
        return {f"contexts_{p}{i}": self.shifts[p][i].astype(np.int8) for p in PARTS for i in (0, 1)}

    @classmethod
    def from_arrays(cls, arrays: dict) -> "ContextTables":
        try:
            return cls({p: tuple(arrays[f"contexts_{p}{i}"].astype(np.int64) for i in (0, 1)) for p in PARTS})
        except KeyError as exc:
            raise FormatError(f"model file has no context table {exc}") from exc


def _level(num: np.ndarray, den) -> np.ndarray:
    """Activity level of sums ``num`` against their expectations ``den`` (int32 is enough for
    four neighbours; box sums over many planes need int64)."""
    return _LEVEL_OF.take(np.minimum((num + _BIAS) * 256 // (den + _BIAS), _THRESHOLDS[-1]))


def _box3(a: np.ndarray) -> np.ndarray:
    """Sum over each 3x3 neighbourhood (zeros outside), on the last two axes."""
    out = a.copy()
    out[..., 1:, :] += a[..., :-1, :]
    out[..., :-1, :] += a[..., 1:, :]
    rows = out.copy()
    out[..., 1:] += rows[..., :-1]
    out[..., :-1] += rows[..., 1:]
    return out


def _cross4(a: np.ndarray) -> np.ndarray:
    """Sum of the four side neighbours (zeros outside), on the last two axes."""
    out = np.zeros_like(a)
    out[..., 1:, :] += a[..., :-1, :]
    out[..., :-1, :] += a[..., 1:, :]
    out[..., 1:] += a[..., :-1]
    out[..., :-1] += a[..., 1:]
    return out


def _up2(a: np.ndarray) -> np.ndarray:
    return a.repeat(2, -2).repeat(2, -1)


class _Checkerboard:
    """The two passes' positions of an (h, w) plane in row-major order, gathered from and
    scattered into arrays whose last axis is the flattened plane; ``count`` is 64 x the
    number of first-pass neighbours of each second-pass position. Even widths use strided
    copies, several times faster than index arrays; odd widths use index arrays."""

    def __init__(self, h: int, w: int):
        first = (np.arange(h)[:, None] + np.arange(w)[None]) % 2 == 0
        self.rows = (h, w // 2, 2) if w % 2 == 0 else None
        self.index = (np.flatnonzero(first), np.flatnonzero(~first))
        self.count = (64 * _cross4(first.astype(np.int64)).ravel()[self.index[1]]).astype(np.int32)

    def take(self, a: np.ndarray, p: int) -> np.ndarray:
        if self.rows is None:
            return a[..., self.index[p]]
        lead = a.shape[:-1]
        pairs = a.reshape(lead + self.rows)
        out = np.empty(lead + self.rows[:2], a.dtype)
        out[..., 0::2, :] = pairs[..., 0::2, :, p]      # even rows: even columns first
        out[..., 1::2, :] = pairs[..., 1::2, :, 1 - p]
        return out.reshape(lead + (-1,))

    def put(self, a: np.ndarray, p: int, v: np.ndarray) -> None:
        """a[..., positions of pass p] = v; ``a`` must be contiguous."""
        if self.rows is None:
            a[..., self.index[p]] = v
            return
        lead = a.shape[:-1]
        pairs, v = a.reshape(lead + self.rows), v.reshape(lead + self.rows[:2])
        pairs[..., 0::2, :, p] = v[..., 0::2, :]
        pairs[..., 1::2, :, 1 - p] = v[..., 1::2, :]


@lru_cache(maxsize=16)
def _checkerboard(h: int, w: int) -> _Checkerboard:
    return _Checkerboard(h, w)


def _magnitudes(q: np.ndarray, base: np.ndarray, model: LinearModel) -> np.ndarray:
    """|q| in units of 1/64 of the mean |q| of each plane's own table (int32: at most 15 * 4096)."""
    shape = (len(base),) + (1,) * (q.ndim - 1)
    return np.minimum(np.abs(q), _CAP) * model.context_weight[base].astype(np.int32).reshape(shape)


def _activity_level(act: np.ndarray, planes: int) -> np.ndarray:
    """Level of a summed magnitude map against its expectation (``planes`` x 64 per sample)."""
    return _level(_box3(act), _box3(np.ones_like(act)) * 64 * max(planes, 1))


class _Batch:
    """Codes one group of planes (m, h, w) in two checkerboard passes.

    ``io(part, pass, cells, base, values_or_none, tables)`` codes or decodes the values of a
    pass and returns them; the encoder, decoder and the fitting statistics differ only there.
    """

    def __init__(self, io, shifts, model):
        # int16 shifts: the table arithmetic below runs on 2-byte arrays (|shift| < N_TABLES).
        self.io, self.model = io, model
        self.shifts = {part: tuple(t.astype(np.int16) for t in tables) for part, tables in shifts.items()}

    def __call__(self, part, base, B, P, q=None):
        m = len(base)
        h, w = B.shape[-2:]
        board = _checkerboard(h, w)
        bp = B * LEVELS + P                           # (h, w), or (m, h, w) when P is per plane
        bp = bp.reshape(bp.shape[:-2] + (h * w,))
        lut1, lut2 = self.shifts[part]
        values = np.zeros((m, h * w), np.int32) if q is None else q.reshape(m, -1)
        tables = np.empty((m, h * w), np.uint8)

        cells = board.take(bp, 0)
        t1 = self._tables(base, lut1.take(cells))
        got = self.io(part, 0, cells, base, None if q is None else board.take(values, 0), t1)
        plane = np.zeros((m, h * w), np.int32)
        board.put(plane, 0, _magnitudes(got, base, self.model))
        near = board.take(_cross4(plane.reshape(m, h, w)).reshape(m, -1), 1)
        cells = _level(near, board.count) * LEVELS**2 + board.take(bp, 1)
        t2 = self._tables(base, lut2.take(cells))
        got2 = self.io(part, 1, cells, base, None if q is None else board.take(values, 1), t2)
        if q is None:
            board.put(values, 0, got)
            board.put(values, 1, got2)
        board.put(tables, 0, t1)
        board.put(tables, 1, t2)
        return values.reshape(m, h, w), tables.reshape(m, h, w)

    @staticmethod
    def _tables(base, shift):
        tables = base.astype(np.int16)[:, None] + shift
        return np.clip(tables, 0, N_TABLES - 1, out=tables).astype(np.uint8)


def traverse(batch, model: LinearModel, group: str, khw, side, planes=None):
    """Run the batches of one group in stream order: the dyadic subbands, then the packet
    channels.

    ``planes`` = (quantised dc subbands, quantised static channels, y, step) when encoding,
    None when decoding. Returns the dyadic subbands' (values, tables), lists by subband, and
    the packet channels' (values, tables), (K, h, w) arrays.
    """
    dyadic = _dyadic_subbands(batch, model, group, khw, side[0], planes and planes[0])
    return dyadic, _packet_channels(batch, model, group, khw, side, dyadic, planes)


def _dyadic_subbands(batch, model, group, khw, choice, subbands):
    """The approximation band, then each level's three orientations in one batch, coarse to
    fine; P is the parent subband's activity (none for the coarsest level)."""
    n_dc = model.n_dc[group]
    _, h, w = khw
    shapes = [(h >> DC_LEVELS, w >> DC_LEVELS)] + [(h >> lv, w >> lv) for lv in range(DC_LEVELS, 0, -1)]
    values, tables = [], []
    for level, (bh, bw) in enumerate(shapes):
        bands = [0] if level == 0 else [1 + 3 * (level - 1) + o for o in range(3)]
        P = np.stack([_up2(_activity_level(_magnitudes(values[b - 3], np.maximum(choice[:, b - 3] - 1, 0), model)
                                           .sum(0), n_dc)) if b >= 4 else np.full((bh, bw), NONE) for b in bands])
        q_level = np.zeros((len(bands), n_dc, bh, bw), np.int32)
        t_level = np.zeros((len(bands), n_dc, bh, bw), np.uint8)
        used = [(i, c) for i, b in enumerate(bands) for c in range(n_dc) if choice[c, b]]
        if used:
            ib, ic = np.array(used).T
            q = None if subbands is None else np.stack([subbands[bands[i]][c] for i, c in used])
            q, t = batch("dc", choice[ic, np.array(bands)[ib]] - 1, np.full((bh, bw), NONE), P[ib], q)
            q_level[ib, ic], t_level[ib, ic] = q, t
        values += list(q_level)
        tables += list(t_level)
    return values, tables


def _packet_channels(batch, model, group, khw, side, dyadic, planes):
    """The static then the context channels in groups; B is the activity of the groups
    before, P that of the finest dyadic subbands."""
    n_dc, n_ctx = model.n_dc[group], model.n_ctx[group]
    k, h, w = khw
    dc_choice, static_choice, rest_choice = side
    fine = np.zeros((h // 2, w // 2), np.int64)
    for b in range(1 + 3 * (DC_LEVELS - 1), 1 + 3 * DC_LEVELS):
        fine += _magnitudes(dyadic[0][b], np.maximum(dc_choice[:, b] - 1, 0), model).sum(0)
    P = _up2(_activity_level(fine, 3 * n_dc))
    static = [("static", n_dc + i, static_choice[i]) for i in range(n_ctx - n_dc)]
    rest = [("ctx", n_ctx + i, rest_choice[i]) for i in range(k - n_ctx)]
    groups = [static[i:i + STATIC_GROUP] for i in range(0, len(static), STATIC_GROUP)] + \
             [rest[i:i + CTX_GROUP] for i in range(0, len(rest), CTX_GROUP)]
    values = np.zeros((k, h, w), np.int32)
    tables = np.zeros((k, h, w), np.uint8)
    activity = np.zeros((h, w), np.int64)
    seen = 0
    for members in groups:
        B = _activity_level(activity, seen) if seen else np.full((h, w), NONE)
        coded = [(part, c, choice) for part, c, choice in members if choice]
        seen += len(members)
        if not coded:
            continue
        part = coded[0][0]
        idx = np.array([c for _, c, _ in coded])
        base = np.array([choice - 1 for _, _, choice in coded], np.int64)
        q = None
        if planes is not None:
            q = planes[1][idx - n_dc] if part == "static" else quantise(planes[2][idx], planes[3])
        q, t = batch(part, base, B, P, q)
        values[idx], tables[idx] = q, t
        activity += _magnitudes(q, base, model).sum(0)
    return values, tables


def encode_group(y: np.ndarray, step: float, model: LinearModel, group: str, contexts: ContextTables) -> bytes:
    """Code one channel group's KLT channels (from ``codec.modes.linear.analyse``)."""
    dc, static, side = quantised_planes(y, step, model, group)
    enc = Encoder()
    write_side(enc, side)

    def io(part, step_pass, cells, base, values, tables):
        encode_grouped(enc, values.ravel(), tables.ravel(), model.tables)
        return values

    traverse(_Batch(io, contexts.shifts, model), model, group, y.shape, side, (dc, static, y, step))
    return enc.finish()


def decode_symbols(data: bytes, khw, model: LinearModel, group: str, contexts: ContextTables):
    """Entropy decoding only: ``traverse``'s (values, tables) of the dyadic subbands and
    of the packet channels."""
    dec = Decoder(data)
    side = read_side(dec, model, group, khw[0])

    def io(part, step_pass, cells, base, values, tables):
        return decode_grouped(dec, tables.ravel(), model.tables).reshape(tables.shape)

    symbols = traverse(_Batch(io, contexts.shifts, model), model, group, khw, side)
    dec.finish()
    return symbols


def decode_klt(data: bytes, shape, step: float, model: LinearModel, group: str, contexts: ContextTables):
    """The dequantised KLT channels (K, H/2**J, W/2**J) of a context-coded group."""
    c, height, width = shape
    khw = (c * 4**model.levels, height >> model.levels, width >> model.levels)
    (dc_q, dc_t), (q, t) = decode_symbols(data, khw, model, group, contexts)
    y = dequantise(q, t, step, model)
    if model.n_dc[group]:
        y[:model.n_dc[group]] = _dc_merge([dequantise(a, b, step, model) for a, b in zip(dc_q, dc_t)], model)
    return y
