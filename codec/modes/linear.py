"""The linear mode: wavelet packets, a fixed KLT, a dead-zone quantiser, context coding.

No training and no torch: numpy, pywavelets and the range coder only. Data flow for
one channel group (RGB, or one gray/alpha channel)::

    x (C, H, W) --wpt2, x gains--> bands (C*4**J, h, w) --KLT--> y (K, h, w)
    y[:n_dc]        --dyadic wavelet, 3 more levels--> subbands, one table each
    y[n_dc:n_ctx]   --quantise--> one table per channel ("static" channels)
    y[n_ctx:]       --quantise--> table per sample = channel base + context shift,
                                  the context being the local normalised magnitude
                                  of the static channels (3x3 neighbourhood)

Multiplying each packet band by its synthesis gain makes squared error in the coded
domain match squared error in pixels, so one quantiser step serves every channel.
Table choices (side information) go first in the stream, then the dyadic subbands,
then the static and the context channels in 4x4 zero-blocks; all context arithmetic is
integer, so the decoder rebuilds exactly the encoder's table choices.
"""

import numpy as np
import pywt

from codec.entropy import Decoder, Encoder
from codec.errors import FormatError
from codec.modes.linear_model import BLOCK, N_TABLES, THETA, LinearModel
from codec.wavelets import iwpt2, wpt2

__all__ = ["analyse", "encode_group", "quantised_planes", "write_side", "read_side", "decode_group", "best_table",
           "cost_matrix", "quantise", "dequantise", "encode_grouped", "decode_grouped", "pad_multiple", "DC_LEVELS",
           "quality_to_step", "step_to_quality"]

DC_LEVELS = 3
_SIDE_BITS = 7             # table choice 0..N_TABLES, 0 = "all zero, skipped"
_IN_BLOCK_SHIFT = 1       # measured: 1 beats 0 and 2 by about 1% of rate
_CHUNK_SAMPLES = 1 << 22   # samples per coding run (memory bound on huge images)
_MAG_CAP = 15              # magnitudes above this say nothing more about the context
_SHIFTS = 16               # context shift range, in table (quarter-octave) units
# Integer thresholds on the context ratio (x256): round(256 * 2**((i + 0.5) / 4)).
_RATIO_THRESHOLDS = np.array([round(256 * 2 ** ((i + 0.5) / 4)) for i in range(-_SHIFTS, _SHIFTS)], np.int64)


def pad_multiple(model: LinearModel) -> int:
    """Image sizes are padded to this, so the packet and then the dyadic levels divide evenly."""
    return 2 ** (model.levels + DC_LEVELS)


def quality_to_step(quality: float) -> float:
    """Quantiser step in 8-bit pixel units: log-linear from 512 (q=1) to 1 (q=100)."""
    return float(2.0 ** (9.0 - 9.0 * (quality - 1) / 99.0))


def step_to_quality(step: float) -> int:
    """The nearest quality for a step (what --bpp writes in the header)."""
    return int(np.clip(np.round(1 + (9.0 - np.log2(step)) * 99 / 9.0), 1, 100))


def quantise(y: np.ndarray, step: float) -> np.ndarray:
    """Dead-zone rounding: sign(y) * floor(|y| / step + 0.5 - THETA)."""
    q = np.abs(y)
    q *= np.float32(1.0 / step)
    q += np.float32(0.5 - THETA)
    np.floor(q, out=q)
    np.copysign(q, y, out=q)
    return q.astype(np.int32)


def dequantise(q: np.ndarray, tables: np.ndarray, step: float, model: LinearModel) -> np.ndarray:
    """Reconstruct at each bin's centroid under its table's Laplace (0 stays 0)."""
    y = model.recon_offset[tables]
    y += np.float32(THETA)
    y += np.abs(q)
    y *= np.float32(step)
    np.copysign(y, q, out=y)
    y[q == 0] = 0
    return y


def cost_matrix(model: LinearModel) -> np.ndarray:
    """Bits to code |q| = 0..64 with each table (64 stands for anything larger)."""
    cached = getattr(model, "_cost", None)
    if cached is None:
        rows = []
        for t in model.tables:
            centre = -t.offset
            f = t.freqs[centre:centre + 65].astype(np.float64)
            if len(f) < 65:
                f = np.concatenate([f, np.full(65 - len(f), t.freqs[-1] / 64.0)])
            rows.append(t.precision - np.log2(f))
        cached = np.array(rows)
        object.__setattr__(model, "_cost", cached)
    return cached


def best_table(q: np.ndarray, model: LinearModel) -> int:
    """1 + the table that codes q in the fewest bits, or 0 when q is all zero."""
    return int(best_tables(q[None], model)[0])


def best_tables(planes: np.ndarray, model: LinearModel) -> np.ndarray:
    """``best_table`` of each plane ``planes[i]``, with one histogram for all of them: 1 + the
    table that codes the plane in the fewest bits, or 0 when it is all zero."""
    n = len(planes)
    if n == 0:
        return np.zeros(0, np.int64)
    mag = np.minimum(np.abs(planes.reshape(n, -1)), 64)
    hist = np.bincount((mag + 65 * np.arange(n)[:, None]).ravel(), minlength=65 * n).reshape(n, 65)
    choice = 1 + np.argmin(hist @ cost_matrix(model).T, axis=1)
    choice[hist[:, 0] == mag.shape[1]] = 0
    return choice.astype(np.int64)


def _context_shift(static_q: np.ndarray, static_choice: np.ndarray, model: LinearModel) -> np.ndarray:
    """Per-position table shift (h, w) from the local activity of the static channels.

    Integer arithmetic only (the decoder must reproduce it bit for bit).
    """
    h, w = static_q.shape[1:]
    acc = np.zeros((h, w), np.int64)
    used = static_choice > 0
    for q, choice in zip(static_q[used], static_choice[used]):
        acc += np.minimum(np.abs(q), _MAG_CAP) * model.context_weight[choice - 1]
    padded = np.pad(acc, 1, mode="edge")
    box = sum(padded[i:i + h, j:j + w] for i in range(3) for j in range(3))
    bias = 29 * max(int(used.sum()), 1)
    mean = int(box.sum()) // box.size
    ratio = (box + bias) * 256 // (mean + bias)
    return np.searchsorted(_RATIO_THRESHOLDS, ratio, side="right") - _SHIFTS


def _context_tables(base: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Per-sample table ids for context channels: each channel's choice plus the shift."""
    return np.clip(base[:, None, None] - 1 + shift[None], 0, N_TABLES - 1).astype(np.uint8)


def _static_tables(choice: np.ndarray, h: int, w: int) -> np.ndarray:
    return np.broadcast_to((choice - 1).astype(np.uint8)[:, None, None], (len(choice), h, w))


def _runs(channels: np.ndarray, plane: int):
    """Consecutive slices of ``channels`` holding at most _CHUNK_SAMPLES samples each.

    Bounds the coder's working memory on huge images; a Kodak-size group is one run.
    """
    per_run = max(1, _CHUNK_SAMPLES // plane)
    return [channels[i:i + per_run] for i in range(0, len(channels), per_run)]


def encode_grouped(enc: Encoder, values: np.ndarray, tables: np.ndarray, family) -> None:
    """Code values sorted by table: one coder call per table instead of per sample."""
    enc.encode_by_table(values, tables, family)


def decode_grouped(dec: Decoder, tables: np.ndarray, family) -> np.ndarray:
    counts = np.bincount(tables, minlength=N_TABLES)
    parts = [dec.decode(int(counts[t]), family[t]) for t in np.flatnonzero(counts)]
    values = np.empty(tables.size, np.int32)
    if parts:
        values[np.argsort(tables, kind="stable")] = np.concatenate(parts)
    return values


def _to_blocks(a: np.ndarray) -> np.ndarray:
    """(n, h, w) -> (n * h/B * w/B, B*B): one row per BLOCK x BLOCK block."""
    n, h, w = a.shape
    return a.reshape(n, h // BLOCK, BLOCK, w // BLOCK, BLOCK).transpose(0, 1, 3, 2, 4).reshape(-1, BLOCK * BLOCK)


def _from_blocks(rows: np.ndarray, shape) -> np.ndarray:
    n, h, w = shape
    return rows.reshape(n, h // BLOCK, w // BLOCK, BLOCK, BLOCK).transpose(0, 1, 3, 2, 4).reshape(shape)


def _block_tables(tables: np.ndarray) -> np.ndarray:
    return (tables.sum(axis=1, dtype=np.int32) // (BLOCK * BLOCK)).astype(np.uint8)


def _in_block_tables(table_rows: np.ndarray) -> np.ndarray:
    """Tables for the samples of non-zero blocks: one step wider (known not all zero)."""
    return np.minimum(table_rows.astype(np.int16) + _IN_BLOCK_SHIFT, N_TABLES - 1).astype(np.uint8).ravel()


def _encode_blocks(enc: Encoder, q: np.ndarray, tables: np.ndarray, model: LinearModel) -> None:
    """Code (n, h, w) values: a flag per block, then only the blocks that are not all zero."""
    rows, table_rows = _to_blocks(q), _to_blocks(tables)
    nonzero = np.abs(rows).max(axis=1) > 0
    encode_grouped(enc, nonzero.astype(np.int32), _block_tables(table_rows), model.flag_tables)
    encode_grouped(enc, rows[nonzero].ravel(), _in_block_tables(table_rows[nonzero]), model.tables)


def _decode_blocks(dec: Decoder, tables: np.ndarray, model: LinearModel):
    """Values (n, h, w) and the table each was coded with (for reconstruction)."""
    table_rows = _to_blocks(tables)
    nonzero = decode_grouped(dec, _block_tables(table_rows), model.flag_tables).astype(bool)
    rows = np.zeros(table_rows.shape, np.int32)
    used = table_rows.copy()
    used[nonzero] = _in_block_tables(table_rows[nonzero]).reshape(-1, BLOCK * BLOCK)
    rows[nonzero] = decode_grouped(dec, used[nonzero].ravel(), model.tables).reshape(-1, BLOCK * BLOCK)
    return _from_blocks(rows, tables.shape), _from_blocks(used, tables.shape)


def _apply_in_place(matrix: np.ndarray, bias: np.ndarray, sign: float, flat: np.ndarray) -> None:
    """flat = matrix @ flat + sign * bias, column block by column block (no full-size copy)."""
    cols = max(1, _CHUNK_SAMPLES // flat.shape[0])
    for start in range(0, flat.shape[1], cols):
        block = flat[:, start:start + cols]
        block[...] = matrix @ block
        block += np.float32(sign) * bias[:, None]


def analyse(x: np.ndarray, model: LinearModel, group: str) -> np.ndarray:
    """Image (C, H, W), centred on 0, sizes multiples of ``pad_multiple`` -> KLT channels (K, h, w).

    Split from encode_group so a rate search transforms the image once.
    """
    bands = wpt2(x, model.levels, model.wavelet)
    k, h, w = bands.shape
    _apply_in_place(*model.analysis[group], -1.0, bands.reshape(k, -1))
    return bands


def _inverse(y: np.ndarray, model: LinearModel, group: str) -> np.ndarray:
    k, h, w = y.shape
    _apply_in_place(*model.synthesis[group], 1.0, y.reshape(k, -1))
    return iwpt2(y, model.levels, model.wavelet)


def _dc_split(y: np.ndarray, model: LinearModel):
    """Dyadic (Mallat) split of the smooth channels: [approx, details coarse -> fine]."""
    details = []
    for _ in range(DC_LEVELS):
        y, detail = pywt.dwt2(y, model.wavelet, mode="periodization", axes=(-2, -1))
        details = list(detail) + details
    return [y] + details


def _dc_merge(subbands, model: LinearModel) -> np.ndarray:
    y = subbands[0]
    for i in range(1, len(subbands), 3):
        y = pywt.idwt2((y, tuple(subbands[i:i + 3])), model.wavelet, mode="periodization", axes=(-2, -1))
    return y


def write_side(enc: Encoder, side) -> None:
    """The table choices (dyadic subbands (n_dc, bands), static, context channels), 7 bits each."""
    dc_choice, static_choice, rest_choice = side
    enc.encode_uniform(np.concatenate([dc_choice.ravel(), static_choice, rest_choice]), _SIDE_BITS)


def read_side(dec: Decoder, model: LinearModel, group: str, k: int):
    """Inverse of ``write_side`` for a group of ``k`` KLT channels; refuses choices out of range."""
    n_dc, n_ctx = model.n_dc[group], model.n_ctx[group]
    n_bands = 1 + 3 * DC_LEVELS
    side = dec.decode_uniform(n_dc * n_bands + k - n_dc, _SIDE_BITS).astype(np.int64)
    if side.max(initial=0) > N_TABLES:
        raise FormatError("corrupt stream: table choice out of range")
    static_end = n_dc * n_bands + n_ctx - n_dc
    return side[:n_dc * n_bands].reshape(n_dc, n_bands), side[n_dc * n_bands:static_end], side[static_end:]


def quantised_planes(y: np.ndarray, step: float, model: LinearModel, group: str):
    """The quantised dyadic subbands and static channels, and the table choices (0 = all
    zero, else 1 + table) of the subbands (n_dc, bands), static and context channels."""
    n_dc, n_ctx = model.n_dc[group], model.n_ctx[group]
    k, h, w = y.shape
    dc = [quantise(band, step) for band in _dc_split(y[:n_dc], model)] if n_dc else []
    static = quantise(y[n_dc:n_ctx], step)
    dc_choice = np.stack([best_tables(band, model) for band in dc], 1) if n_dc else np.zeros((0, 0), np.int64)
    static_choice = best_tables(static, model)
    rest_choice = np.zeros(k - n_ctx, np.int64)
    for run in _runs(np.arange(k - n_ctx), h * w):
        mag = np.abs(y[n_ctx + run[0]:n_ctx + run[-1] + 1]).reshape(len(run), -1)
        scale = mag.mean(1) / step
        index = 1 + np.clip(np.round(4 * np.log2(np.maximum(scale, 1e-9) / 0.02)), 0, N_TABLES - 1)
        rest_choice[run] = np.where(mag.max(1) < (0.5 + THETA) * step, 0, index)
    return dc, static, (dc_choice.reshape(n_dc, 1 + 3 * DC_LEVELS), static_choice, rest_choice)


def encode_group(y: np.ndarray, step: float, model: LinearModel, group: str) -> bytes:
    """Code one channel group, given its KLT channels from ``analyse``."""
    n_dc, n_ctx = model.n_dc[group], model.n_ctx[group]
    h, w = y.shape[1:]
    dc, static, (dc_choice, static_choice, rest_choice) = quantised_planes(y, step, model, group)

    enc = Encoder()
    write_side(enc, (dc_choice, static_choice, rest_choice))
    values, tables = [], []
    for b, band in enumerate(dc):
        for c in range(n_dc):
            if dc_choice[c, b]:
                values.append(band[c].ravel())
                tables.append(np.full(band[c].size, dc_choice[c, b] - 1, np.uint8))
    if values:
        encode_grouped(enc, np.concatenate(values), np.concatenate(tables), model.tables)
    for run in _runs(np.flatnonzero(static_choice), h * w):
        _encode_blocks(enc, static[run], _static_tables(static_choice[run], h, w), model)
    shift = _context_shift(static, static_choice, model)
    for run in _runs(np.flatnonzero(rest_choice), h * w):
        _encode_blocks(enc, quantise(y[n_ctx + run], step), _context_tables(rest_choice[run], shift), model)
    return enc.finish()


def decode_group(data: bytes, shape, step: float, model: LinearModel, group: str) -> np.ndarray:
    """Inverse of encode_group: float32 (C, H, W) for the padded shape."""
    return _inverse(decode_klt(data, shape, step, model, group), model, group)


def decode_klt(data: bytes, shape, step: float, model: LinearModel, group: str) -> np.ndarray:
    """The dequantised KLT channels (K, H/2**J, W/2**J) of a group: entropy decoding only."""
    c, height, width = shape
    levels = model.levels
    k, h, w = c * 4**levels, height >> levels, width >> levels
    n_dc, n_ctx = model.n_dc[group], model.n_ctx[group]
    dc_shapes = [(h >> DC_LEVELS, w >> DC_LEVELS)] + [
        (h >> lv, w >> lv) for lv in range(DC_LEVELS, 0, -1) for _ in range(3)
    ]
    dec = Decoder(data)
    dc_choice, static_choice, rest_choice = read_side(dec, model, group, k)

    y = np.zeros((k, h, w), np.float32)
    dc = [np.zeros((n_dc, bh, bw), np.float32) for bh, bw in dc_shapes]
    slots, tables = [], []
    for b, (bh, bw) in enumerate(dc_shapes):
        for ch in range(n_dc):
            if dc_choice[ch, b]:
                slots.append((b, ch))
                tables.append(np.full(bh * bw, dc_choice[ch, b] - 1, np.uint8))
    if slots:
        all_tables = np.concatenate(tables)
        recon = dequantise(decode_grouped(dec, all_tables, model.tables), all_tables, step, model)
        start = 0
        for b, ch in slots:
            n = dc[b][ch].size
            dc[b][ch] = recon[start:start + n].reshape(dc[b].shape[1:])
            start += n
    static = np.zeros((n_ctx - n_dc, h, w), np.int32)
    for run in _runs(np.flatnonzero(static_choice), h * w):
        static[run], coded_with = _decode_blocks(dec, _static_tables(static_choice[run], h, w), model)
        y[n_dc + run] = dequantise(static[run], coded_with, step, model)
    shift = _context_shift(static, static_choice, model)
    for run in _runs(np.flatnonzero(rest_choice), h * w):
        values, coded_with = _decode_blocks(dec, _context_tables(rest_choice[run], shift), model)
        y[n_ctx + run] = dequantise(values, coded_with, step, model)
    dec.finish()
    if n_dc:
        y[:n_dc] = _dc_merge(dc, model)
    return y
