"""The linear audio mode: channel KLT, 1-D wavelet packets, dead-zone quantiser, adaptive tables.

numpy, pywavelets and the range coder only (no torch, no training: the integer Laplace
table family of the linear image model is reused). Data flow::

    samples (N, C) --x scale--> float32 on the 16-bit scale --channel KLT (C >= 2)--> (C, N)
    --split in windows of F frames (+ M frames of overlap each side at inner borders)-->
    window (C, L) --wpt1, J levels, CDF 9/7--> bands (C * 2**J, L / 2**J) --x synthesis gains-->
    --dead-zone quantiser, one step--> q --one table per (band, segment of S coefficients)-->
    range coder, one container chunk per window

Windows are independent (memory is bounded by the window, not the file). The periodic
transform wraps each window's end onto its start; at inner window borders the window
reaches M frames into its neighbours and the decoder keeps only its own F frames, so the
wrap's effects fall in discarded samples and the seam error matches the interior
(``tests/test_audio.py::test_chunk_borders_error_matches_interior``).

Side information per window: one table choice (0 = segment all zero, else 1 + table)
per (band, segment), coded as differences from the previous segment of the same band
with one Laplace table named in 7 raw bits. Only integers decide the decoding.
"""

import struct
from dataclasses import dataclass

import numpy as np

from codec.entropy import Decoder, Encoder
from codec.errors import FormatError
from codec.modes.linear import best_table, cost_matrix, decode_grouped, dequantise, encode_grouped, quantise
from codec.modes.linear_model import N_TABLES, THETA
from codec.modes.spectral import SpectralKLT
from codec.wavelets import iwpt1, synthesis_gains, wpt1

__all__ = ["AudioParams", "AudioEncoder", "code_window", "decode_audio", "quality_to_step", "LEVELS", "CHUNK_FRAMES",
           "MARGIN", "SEGMENT", "PARAMS"]

WAVELET = "bior4.4"          # CDF 9/7
LEVELS = 8                   # 256 bands (measured on music: see docs/FORMAT.md)
CHUNK_FRAMES = 1 << 18       # frames per window (about 6 s at 44.1 kHz)
MARGIN = 512                 # overlap frames at inner window borders (0.4% more coefficients)
SEGMENT = 64                 # coefficients per band per table choice (16384 frames at J = 8)
_SIDE_BITS = 7
_SCALES = {"int16": 1.0, "int32": 1.0 / 65536.0, "float32": 32768.0}
# levels, log2 window frames, shift (decoded integers are multiples of 2**shift), reserved,
# margin, segment, theta, scale, value lo, value hi; then the channel KLT for C >= 2.
PARAMS = struct.Struct("<BBBBHHffdd")


def quality_to_step(quality: float) -> float:
    """Quantiser step on the 16-bit scale: log-linear from 4096 (q=1) to 0.5 (q=100)."""
    return float(2.0 ** (12.0 - 13.0 * (quality - 1) / 99.0))


def step_to_quality(step: float) -> int:
    return int(np.clip(np.round(1 + (12.0 - np.log2(step)) * 99 / 13.0), 1, 100))


@dataclass(frozen=True)
class AudioParams:
    levels: int
    chunk_log2: int
    shift: int
    margin: int
    segment: int
    theta: float
    scale: float
    lo: float
    hi: float

    def pack(self) -> bytes:
        return PARAMS.pack(self.levels, self.chunk_log2, self.shift, 0, self.margin, self.segment,
                           self.theta, self.scale, self.lo, self.hi)

    @classmethod
    def unpack(cls, data: bytes) -> "AudioParams":
        if len(data) < PARAMS.size:
            raise FormatError("audio parameters are too short")
        levels, chunk_log2, shift, reserved, margin, segment, theta, scale, lo, hi = PARAMS.unpack_from(data)
        if reserved:
            raise FormatError("audio parameters: reserved byte is not zero")
        if not 1 <= levels <= 12 or not levels <= chunk_log2 <= 24:
            raise FormatError(f"audio parameters: levels {levels} / window 2**{chunk_log2} not supported")
        if shift > 31 or margin % (1 << levels) or margin >= 1 << chunk_log2 or not 1 <= segment:
            raise FormatError("audio parameters: shift, margin or segment out of range")
        if np.float32(theta) != np.float32(THETA):
            raise FormatError(f"audio parameters: theta {theta} is not supported")
        if not (np.isfinite([scale, lo, hi]).all() and scale > 0 and lo <= hi):
            raise FormatError("audio parameters: scale or value range invalid")
        return cls(levels, chunk_log2, shift, margin, segment, theta, scale, lo, hi)


def windows(n: int, chunk: int, margin: int, levels: int):
    """(coded start, coded length, kept start, kept end) per window; starts may be < 0."""
    out = []
    for start in range(0, n, chunk):
        end = min(start + chunk, n)
        lo = start - margin if start > 0 else 0
        hi = end + margin if end < n else end
        length = -(-(hi - lo) // (1 << levels)) * (1 << levels)
        out.append((lo, length, start, end))
    return out


def _reflect(idx: np.ndarray, n: int) -> np.ndarray:
    """Whole-signal symmetric extension of indices (any distance outside 0..n-1)."""
    k = np.mod(idx, 2 * n)
    return np.where(k >= n, 2 * n - 1 - k, k)


def _trailing_zero_bits(samples: np.ndarray) -> int:
    if samples.dtype.kind != "i":
        return 0
    acc = np.bitwise_or.reduce(samples.ravel())
    if acc == 0:
        return 0
    return min(int((int(acc) & -int(acc)).bit_length() - 1), 16)


def _segment_choices(q: np.ndarray, segment: int, model) -> np.ndarray:
    """(bands, segments) table choices: 0 = all zero, else 1 + the cheapest table."""
    bands, length = q.shape
    nseg = -(-length // segment)
    seg = np.arange(length) // segment
    mag = np.minimum(np.abs(q), 64)
    ids = (np.arange(bands)[:, None] * nseg + seg[None]) * 65 + mag
    hist = np.bincount(ids.ravel(), minlength=bands * nseg * 65).reshape(bands * nseg, 65)
    cost = hist @ cost_matrix(model).T
    choice = 1 + np.argmin(cost, axis=1)
    counts = np.bincount(seg, minlength=nseg)
    choice[hist[:, 0] == np.tile(counts, bands)] = 0
    return choice.reshape(bands, nseg)


def _side_deltas(choice: np.ndarray) -> np.ndarray:
    prev = np.concatenate([np.zeros((choice.shape[0], 1), np.int64), choice[:, :-1]], axis=1)
    return (choice - prev).ravel().astype(np.int32)


def encode_window(coeffs: np.ndarray, step: float, segment: int, model) -> bytes:
    """One window's gain-weighted bands (B, l) -> one range-coded stream."""
    return _code(coeffs, step, segment, model)[0]


def code_window(coeffs: np.ndarray, step: float, segment: int, model) -> tuple[bytes, np.ndarray]:
    """(encode_window's stream, the bands decode_window will rebuild from it, without decoding it)."""
    data, q, used, t = _code(coeffs, step, segment, model)
    y = np.zeros(q.shape, np.float32)
    y[used] = dequantise(q[used], t, step, model)
    return data, y


def _code(coeffs: np.ndarray, step: float, segment: int, model):
    """(stream, quantised bands, mask of coded coefficients, their tables)."""
    q = quantise(coeffs, step)
    choice = _segment_choices(q, segment, model)
    enc = Encoder()
    deltas = _side_deltas(choice)
    side_table = max(best_table(deltas, model) - 1, 0)  # any table codes all-zero deltas
    enc.encode_uniform(np.array([side_table]), _SIDE_BITS)
    enc.encode(deltas, model.tables[side_table])
    tables = np.repeat(choice, segment, axis=1)[:, :q.shape[1]]
    used = tables > 0
    t = (tables[used] - 1).astype(np.uint8)
    encode_grouped(enc, q[used], t, model.tables)
    return enc.finish(), q, used, t


def decode_window(data: bytes, bands: int, length: int, step: float, segment: int, model) -> np.ndarray:
    dec = Decoder(data)
    nseg = -(-length // segment)
    side_table = int(dec.decode_uniform(1, _SIDE_BITS)[0])
    if side_table >= N_TABLES:
        raise FormatError("corrupt stream: side table out of range")
    deltas = dec.decode(bands * nseg, model.tables[side_table]).astype(np.int64).reshape(bands, nseg)
    choice = np.cumsum(deltas, axis=1)
    if choice.min(initial=0) < 0 or choice.max(initial=0) > N_TABLES:
        raise FormatError("corrupt stream: table choice out of range")
    tables = np.repeat(choice, segment, axis=1)[:, :length]
    used = tables > 0
    t = (tables[used] - 1).astype(np.uint8)
    values = decode_grouped(dec, t, model.tables)
    dec.finish()
    y = np.zeros((bands, length), np.float32)
    y[used] = dequantise(values, t, step, model)
    return y


class AudioEncoder:
    """Holds the transformed windows so several steps can be tried (for --kbps)."""

    def __init__(self, samples: np.ndarray, model, levels: int = LEVELS, chunk_frames: int = CHUNK_FRAMES,
                 margin: int = MARGIN, segment: int = SEGMENT, cache: bool = False, correct=None):
        self.samples, self.model, self.correct = samples, model, correct
        n, c = samples.shape
        dtype = samples.dtype.name
        lo, hi = (float(samples.min()), float(samples.max()))
        self.params = AudioParams(levels, int(chunk_frames).bit_length() - 1, _trailing_zero_bits(samples),
                                  margin, segment, THETA, _SCALES[dtype], lo, hi)
        self.klt = SpectralKLT.fit(samples.T) if c >= 2 else None
        if self.klt:  # fitted on raw samples: the rotation is the same, the mean scales
            self.klt.mean *= np.float32(self.params.scale)
        self.gains = np.tile(synthesis_gains(levels, WAVELET, ndim=1), c).astype(np.float32)[:, None]
        self.windows = windows(n, chunk_frames, margin, levels)
        self._cache = [self._analyse(w) for w in self.windows] if cache else None

    def params_bytes(self) -> bytes:
        return self.params.pack() + (self.klt.pack() if self.klt else b"")

    def _analyse(self, window) -> np.ndarray:
        start, length, _, _ = window
        n = len(self.samples)
        idx = np.arange(start, start + length)
        if idx[0] >= 0 and idx[-1] < n:
            x = self.samples[start:start + length]
        else:
            x = self.samples[_reflect(idx, n)]
        x = x.T.astype(np.float32)
        x *= np.float32(self.params.scale)
        if self.klt:
            x = self.klt.forward(x)
        bands = wpt1(x, self.params.levels, WAVELET)
        bands *= self.gains
        return bands.astype(np.float32, copy=False)

    def chunks(self, step: float) -> list[bytes]:
        out = []
        for i, w in enumerate(self.windows):
            coeffs = self._cache[i] if self._cache is not None else self._analyse(w)
            if self.correct is None:
                out.append(encode_window(coeffs, step, self.params.segment, self.model))
                continue
            data, y_hat = code_window(coeffs, step, self.params.segment, self.model)
            out.append(bytes([self._network_helps(coeffs, y_hat, step)]) + data)
        return out

    def _network_helps(self, coeffs: np.ndarray, y_hat: np.ndarray, step: float) -> bool:
        """The learned mode's per-window switch: does the network lower this window's error?"""
        if step < self.correct.min_step:  # where it did not help in training's validation
            return False
        fixed = self.correct(y_hat, step)
        return float(np.sum((fixed - coeffs) ** 2, dtype=np.float64)) < float(
            np.sum((y_hat - coeffs) ** 2, dtype=np.float64))


def decode_audio(chunks: list[bytes], n: int, channels: int, dtype: str, step: float, params_bytes: bytes,
                 model, correct=None) -> np.ndarray:
    """Inverse of AudioEncoder.chunks: the (N, C) array in ``dtype``.

    ``correct`` (the learned mode's network) maps a window's dequantised gain-weighted bands
    (C * 2**levels, l) and the step to corrected bands before the inverse transform; learned-
    mode chunks start with one byte, 1 where the encoder found that it helps (then it runs).
    """
    p = AudioParams.unpack(params_bytes)
    klt_bytes = SpectralKLT.size(channels) if channels >= 2 else 0
    if len(params_bytes) != PARAMS.size + klt_bytes:
        raise FormatError("audio parameters have the wrong size")
    if dtype not in _SCALES or np.float32(p.scale) != np.float32(_SCALES[dtype]):
        raise FormatError(f"audio dtype {dtype} or scale {p.scale} not supported")
    klt = SpectralKLT.unpack(params_bytes[PARAMS.size:], channels) if klt_bytes else None
    wins = windows(n, 1 << p.chunk_log2, p.margin, p.levels)
    if len(chunks) != len(wins):
        raise FormatError(f"expected {len(wins)} chunks for {n} frames, found {len(chunks)}")
    gains = np.tile(synthesis_gains(p.levels, WAVELET, ndim=1), channels).astype(np.float32)[:, None]
    out = np.empty((n, channels), dtype)
    bands = channels << p.levels
    for (start, length, keep_lo, keep_hi), data in zip(wins, chunks):
        use_network = False
        if correct is not None:
            if not data or data[0] > 1:
                raise FormatError("corrupt stream: learned audio window flag missing or not 0/1")
            use_network, data = data[0] == 1, data[1:]
        y = decode_window(data, bands, length >> p.levels, step, p.segment, model)
        if use_network:
            y = correct(y, step)
        y /= gains
        x = iwpt1(y, p.levels, WAVELET)[:, keep_lo - start:keep_hi - start]
        if klt:
            x = klt.inverse(x)
        x = x.T.astype(np.float64 if dtype == "int32" else np.float32) / p.scale
        np.clip(x, p.lo, p.hi, out=x)
        if dtype != "float32":
            unit = float(1 << p.shift)
            x = np.rint(x / unit) * unit
            np.clip(x, p.lo, p.hi, out=x)
        out[keep_lo:keep_hi] = x.astype(dtype)
    return out
