"""The feature-coding pipeline: optional stages chosen by flags and recorded in the header.

One tensor goes through::

    x --clip [lo, hi]--> --normalise (global or per channel)--> --transform (none, KLT across
      channels, wavelet packets along the spatial/token axes)--> --uniform quantiser (step)-->
      integer groups (one per channel, or per channel and wavelet band) --> coding.encode_groups

and back in reverse (dequantise at the bin centre, inverse transform, de-normalise, clamp to
[lo, hi]). The lossless path skips every stage and codes the 16-bit float bits. The learned
bottleneck (``codec.features.bottleneck``) replaces the stages with its own networks.

Axes. The channel axis is axis 1 when the tensor has 2 or more axes (NCHW, NCL, tokens x
hidden), or the last axis with ``channels_last`` (NHWC, B x T x hidden); a 1-D tensor has one
channel. With 3 or more axes, axis 0 is the batch; the other axes are the spatial (or token)
axes that the wavelet packet transform runs along (1 or 2 of them).

Statistics (clip range, normalisation, KLT) come from the tensor itself and are sent in the
file, or from a calibration profile (``codec.features.calibrate``) that both sides hold.
``Pipeline`` is packed into the header's params; ``TensorStats`` into the tensor table
(docs/FORMAT.md, "Features mode params").
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field

import numpy as np

from codec.errors import FormatError, InputError
from codec.modes.spectral import SpectralKLT

__all__ = [
    "CLIPS",
    "NORMS",
    "QUANTS",
    "TRANSFORMS",
    "Pipeline",
    "TensorStats",
    "channel_axis",
    "fit_stats",
    "forward",
    "group_sizes",
    "inverse",
    "quality_to_step",
]

CLIPS = ("none", "fixed", "percentile", "sigma")
NORMS = ("none", "global", "channel")
TRANSFORMS = ("none", "klt", "wpt", "learned")
QUANTS = ("quality", "bits", "lossless")
_PARAMS = struct.Struct("<BffBBBBBBBdd")  # 32 bytes
MAX_BITS = 16


def quality_to_step(quality: int) -> float:
    """Quantiser step in units of the (normalised) data: 4 at quality 1 .. 2**-10 at 100."""
    return float(np.float32(2.0 ** (2.0 - 12.0 * (quality - 1) / 99.0)))


@dataclass(frozen=True)
class Pipeline:
    """The stages and their settings; identical for every tensor of a file."""

    clip: str = "none"          # fixed: [a, b]; percentile: the a-th and (100-a)-th; sigma: mean +- a*std
    clip_a: float = 0.0
    clip_b: float = 0.0
    norm: str = "global"
    transform: str = "none"
    levels: int = 2             # wavelet packet levels (transform "wpt")
    quant: str = "quality"
    quality: int = 50
    bits: int = 0               # quant "bits": 2**bits levels over the coded range
    channels_last: bool = False
    from_profile: bool = False  # statistics from a calibration profile, not the file
    max_error: float = 0.0      # 0: off
    bound: float = 0.0          # the residual grid's half-spacing (set by the encoder)

    def __post_init__(self):
        for name, value, table in (("clip", self.clip, CLIPS), ("norm", self.norm, NORMS),
                                   ("transform", self.transform, TRANSFORMS), ("quant", self.quant, QUANTS)):
            if value not in table:
                raise InputError(f"unknown {name} {value!r}; expected one of {', '.join(table)}")
        a, b = float(self.clip_a), float(self.clip_b)
        if not (math.isfinite(a) and math.isfinite(b)):
            raise InputError("clip settings must be finite")
        if self.clip == "fixed" and not a < b:
            raise InputError(f"--clip fixed needs lo < hi, got {a:g}, {b:g}")
        if self.clip == "percentile" and not 0 < a < 50:
            raise InputError(f"--clip percentile needs 0 < p < 50, got {a:g}")
        if self.clip == "sigma" and not a > 0:
            raise InputError(f"--clip sigma needs k > 0, got {a:g}")
        if self.transform == "wpt" and not 1 <= self.levels <= 5:
            raise InputError(f"wavelet levels must be in 1..5, got {self.levels}")
        if self.quant == "quality" and not 1 <= self.quality <= 100:
            raise InputError(f"quality must be in 1..100, got {self.quality}")
        if self.quant == "bits" and not 1 <= self.bits <= MAX_BITS:
            raise InputError(f"--bits must be in 1..{MAX_BITS}, got {self.bits}")
        if self.quant == "lossless" and (self.clip, self.norm, self.transform) != ("none", "none", "none"):
            raise InputError("the lossless path takes no clip, normalisation or transform")
        if self.quant == "lossless" and self.max_error:
            raise InputError("--max-error and lossless cannot be combined")
        if self.transform == "learned" and (self.clip, self.norm, self.quant) != ("none", "none", "quality"):
            raise InputError("the learned bottleneck takes no clip, normalisation or --bits (it has its own scaling)")
        if self.max_error and self.transform == "learned":
            raise InputError("--max-error cannot be combined with the learned bottleneck")
        if not (math.isfinite(self.max_error) and self.max_error >= 0):
            raise InputError(f"--max-error must be a positive number, got {self.max_error!r}")

    @property
    def step(self) -> float:
        return quality_to_step(self.quality) if self.quant == "quality" else 0.0

    def pack(self) -> bytes:
        return _PARAMS.pack(CLIPS.index(self.clip), self.clip_a, self.clip_b, NORMS.index(self.norm),
                            TRANSFORMS.index(self.transform), self.levels, QUANTS.index(self.quant),
                            self.bits, int(self.channels_last), int(self.from_profile),
                            self.max_error, self.bound)

    @classmethod
    def unpack(cls, data: bytes, quality: int) -> Pipeline:
        if len(data) != _PARAMS.size:
            raise FormatError(f"features-mode params have {len(data)} bytes, expected {_PARAMS.size}")
        clip, a, b, norm, transform, levels, quant, bits, last, profile, max_error, bound = _PARAMS.unpack(data)
        if clip >= len(CLIPS) or norm >= len(NORMS) or transform >= len(TRANSFORMS) or quant >= len(QUANTS) \
                or last > 1 or profile > 1:
            raise FormatError("features-mode params hold an unknown stage id")
        if max_error and not (math.isfinite(bound) and 0 < bound <= max_error):
            raise FormatError("features-mode max-error parameters are invalid")
        try:
            return cls(CLIPS[clip], a, b, NORMS[norm], TRANSFORMS[transform], levels, QUANTS[quant],
                       quality if QUANTS[quant] == "quality" else 50, bits, bool(last), bool(profile),
                       max_error, bound)
        except InputError as exc:
            raise FormatError(f"features-mode params are invalid ({exc})") from None


def channel_axis(ndim: int, channels_last: bool) -> int | None:
    if ndim < 2:
        return None
    return ndim - 1 if channels_last else 1


def _rows(x: np.ndarray, axis: int | None) -> np.ndarray:
    """Canonical form: (C, other axes...) with the channel axis first."""
    return x[None] if axis is None else np.moveaxis(x, axis, 0)


def _unrows(y: np.ndarray, axis: int | None) -> np.ndarray:
    return y[0] if axis is None else np.moveaxis(y, 0, axis)


@dataclass
class TensorStats:
    """Per-tensor numbers the decoder needs besides the integers (float32 throughout)."""

    step: float
    lo: float = 0.0
    hi: float = 0.0
    mean: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    std: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    klt: SpectralKLT | None = None

    def pack(self, p: Pipeline) -> bytes:
        """Bytes for the tensor table (only what the profile does not provide)."""
        out = struct.pack("<f", self.step)
        if not p.from_profile:
            out += struct.pack("<ff", self.lo, self.hi)
            if p.norm != "none":
                out += self.mean.astype("<f4").tobytes() + self.std.astype("<f4").tobytes()
            if p.transform == "klt":
                out += self.klt.pack()
        return out

    @classmethod
    def unpack(cls, data: bytes, pos: int, p: Pipeline, channels: int, profile_entry=None):
        """(stats, new position); profile_entry fills in what the file leaves out."""
        def take(n):
            nonlocal pos
            if pos + n > len(data):
                raise FormatError("tensor table is truncated")
            pos += n
            return data[pos - n:pos]

        (step,) = struct.unpack("<f", take(4))
        if not (math.isfinite(step) and step > 0):
            raise FormatError("tensor table holds an invalid quantiser step")
        if p.from_profile:
            stats = profile_entry.stats(p, channels)
            stats.step = step
            return stats, pos
        lo, hi = struct.unpack("<ff", take(8))
        n = channels if p.norm == "channel" else 1
        mean = std = np.zeros(0, np.float32)
        if p.norm != "none":
            mean = np.frombuffer(take(4 * n), "<f4").astype(np.float32)
            std = np.frombuffer(take(4 * n), "<f4").astype(np.float32)
        klt = SpectralKLT.unpack(take(SpectralKLT.size(channels)), channels) if p.transform == "klt" else None
        values = np.concatenate([[lo, hi], mean, std])
        if not np.isfinite(values).all() or not lo <= hi or (std.size and std.min() <= 0):
            raise FormatError("tensor table holds invalid statistics")
        return cls(step, lo, hi, mean, std, klt), pos


def _clip_range(x: np.ndarray, p: Pipeline) -> tuple[float, float]:
    if p.clip == "fixed":
        return p.clip_a, p.clip_b
    if p.clip == "percentile":
        lo, hi = np.percentile(x, [p.clip_a, 100 - p.clip_a])
        return float(lo), float(hi)
    if p.clip == "sigma":
        m, s = float(x.mean(dtype=np.float64)), float(x.std(dtype=np.float64))
        return max(m - p.clip_a * s, float(x.min())), min(m + p.clip_a * s, float(x.max()))
    return float(x.min()), float(x.max())


def fit_stats(x: np.ndarray, p: Pipeline, profile_entry=None) -> TensorStats:
    """The statistics of one tensor (float32 values) for pipeline ``p`` (step set by ``forward``)."""
    if profile_entry is not None:
        return profile_entry.stats(p, _rows(x, channel_axis(x.ndim, p.channels_last)).shape[0])
    lo, hi = (np.float32(v) for v in _clip_range(x, p))
    rows = _rows(np.clip(x, lo, hi), channel_axis(x.ndim, p.channels_last))
    c = rows.shape[0]
    flat = rows.reshape(c, -1).astype(np.float64)
    if p.norm == "global":
        mean, std = np.array([flat.mean()]), np.array([flat.std()])
    elif p.norm == "channel":
        mean, std = flat.mean(1), flat.std(1)
    else:
        mean = std = np.zeros(0)
    std = np.where(std > 1e-12, std, 1.0)
    stats = TensorStats(0.0, float(lo), float(hi), mean.astype(np.float32), std.astype(np.float32))
    if p.transform == "klt":
        stats.klt = SpectralKLT.fit(_normalise(rows, stats).reshape(c, 1, -1).astype(np.float32))
    return stats


def _norm_shape(stats: TensorStats, rows: np.ndarray):
    shape = (-1,) + (1,) * (rows.ndim - 1)
    return stats.mean.reshape(shape), stats.std.reshape(shape)


def _normalise(rows: np.ndarray, stats: TensorStats) -> np.ndarray:
    if not stats.mean.size:
        return rows.astype(np.float32)
    mean, std = _norm_shape(stats, rows)
    return ((rows - mean) / std).astype(np.float32)


def _denormalise(rows: np.ndarray, stats: TensorStats) -> np.ndarray:
    if not stats.mean.size:
        return rows
    mean, std = _norm_shape(stats, rows)
    return rows * std + mean


# --- wavelet packets along the spatial / token axes ----------------------------------------


def _wpt_axes(rows_shape: tuple, ndim: int) -> tuple[int, int]:
    """(batch size folded into rows, number of spatial axes) of the canonical form."""
    rest = rows_shape[1:]
    batch = rest[0] if ndim >= 3 else 1
    spatial = len(rest) - (1 if ndim >= 3 else 0)
    if spatial not in (1, 2):
        raise InputError(f"--transform wpt needs 1 or 2 spatial/token axes; a {ndim}-D tensor has {spatial}")
    return batch, spatial


def _wpt_forward(rows: np.ndarray, ndim: int, levels: int) -> np.ndarray:
    """(C, [B,] S...) -> (C, bands, B, s...) weighted by the synthesis gains."""
    from codec.wavelets import pad_to_multiple, synthesis_gains, wpt1, wpt2

    batch, spatial = _wpt_axes(rows.shape, ndim)
    c = rows.shape[0]
    x = rows.reshape(c * batch, *rows.shape[-spatial:])
    x = pad_to_multiple(x, 2**levels, ndim=spatial)
    y = (wpt2 if spatial == 2 else wpt1)(x, levels)
    bands = 2 ** (spatial * levels)
    y = y.reshape(c, batch, bands, *y.shape[1:]).swapaxes(1, 2)
    gains = synthesis_gains(levels, ndim=spatial).reshape((1, bands) + (1,) * (y.ndim - 2))
    return (y * gains).astype(np.float32)


def _wpt_inverse(y: np.ndarray, rows_shape: tuple, ndim: int, levels: int) -> np.ndarray:
    from codec.wavelets import iwpt1, iwpt2, synthesis_gains

    batch, spatial = _wpt_axes(rows_shape, ndim)
    c, bands = y.shape[:2]
    gains = synthesis_gains(levels, ndim=spatial).reshape((1, bands) + (1,) * (y.ndim - 2))
    y = (y / gains).swapaxes(1, 2).reshape(c * batch * bands, *y.shape[3:])
    x = (iwpt2 if spatial == 2 else iwpt1)(y, levels)
    crop = tuple(slice(0, s) for s in rows_shape[-spatial:])
    return x[(slice(None),) + crop].reshape(rows_shape)


def _coded_shape(shape: tuple, p: Pipeline) -> tuple:
    """Shape of the transformed array (C, G, ...) whose first two axes index the groups."""
    rows_shape = _rows(np.empty(shape, np.uint8), channel_axis(len(shape), p.channels_last)).shape
    if p.transform != "wpt":
        return (rows_shape[0], 1, math.prod(rows_shape[1:]))
    batch, spatial = _wpt_axes(rows_shape, len(shape))
    padded = [-(-s // 2**p.levels) for s in rows_shape[-spatial:]]
    return (rows_shape[0], 2 ** (spatial * p.levels), batch, *padded)


def group_sizes(shape: tuple, p: Pipeline) -> list[int]:
    coded = _coded_shape(shape, p)
    return [math.prod(coded[2:])] * (coded[0] * coded[1])


def forward(x: np.ndarray, stats: TensorStats, p: Pipeline) -> list[np.ndarray]:
    """Quantised integer groups of one tensor (float32 values); sets ``stats.step``."""
    axis = channel_axis(x.ndim, p.channels_last)
    rows = _rows(np.clip(x, np.float32(stats.lo), np.float32(stats.hi)), axis)
    y = _normalise(rows, stats)
    c = y.shape[0]
    if p.transform == "klt":
        y = stats.klt.forward(y.reshape(c, 1, -1))
    if p.transform == "wpt":
        y = _wpt_forward(y, x.ndim, p.levels)
    y = y.reshape(_coded_shape(x.shape, p))
    if p.quant == "bits":
        span = float(y.max()) - float(y.min())
        stats.step = float(np.float32(span / (2**p.bits - 1))) if span > 0 else 1.0
    else:
        stats.step = p.step
    q = np.rint(y / np.float32(stats.step))
    if np.abs(q).max(initial=0) >= 2**30:
        raise InputError("the quantiser step is too small for this tensor's range")
    q = q.astype(np.int64)
    return [q[i, j].ravel() for i in range(q.shape[0]) for j in range(q.shape[1])]


def inverse(groups: list[np.ndarray], shape: tuple, stats: TensorStats, p: Pipeline) -> np.ndarray:
    """Float64 reconstruction of one tensor from its integer groups."""
    coded = _coded_shape(shape, p)
    y = np.stack([g.astype(np.float64) for g in groups]).reshape(coded) * float(np.float32(stats.step))
    axis = channel_axis(len(shape), p.channels_last)
    rows_shape = _rows(np.empty(shape, np.uint8), axis).shape
    c = rows_shape[0]
    if p.transform == "wpt":
        y = _wpt_inverse(y, rows_shape, len(shape), p.levels)
    elif p.transform == "klt":
        y = stats.klt.inverse(y.reshape(c, 1, -1).astype(np.float32)).astype(np.float64)
    y = _denormalise(y.reshape(rows_shape), stats)
    return np.clip(_unrows(y, axis), stats.lo, stats.hi)
