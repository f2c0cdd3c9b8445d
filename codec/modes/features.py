"""Feature mode: named tensors of a neural network in one WaveCodec container.

    tensors --per tensor: pipeline stages (codec.features.pipeline) or the learned
              bottleneck--> integers --range coder--> one chunk per tensor
    chunk 0: the tensor table (names, dtypes, shapes, per-tensor statistics)

Header: mode/modality ``features``, shape (total values,), layout ``N``, dtype of the first
tensor (each tensor's own is in the table), ``params`` the packed ``Pipeline``, ``model``
``profile`` or ``bottleneck`` with the first 8 bytes of that file's sha256 when one was used.
``--max-error`` adds to each tensor's stream a residual on a grid of spacing 2*bound, so
every decoded value is within max_error of the original (checked while encoding).
"""

from __future__ import annotations

import struct

import numpy as np

from codec import bitstream
from codec.entropy import Decoder, Encoder
from codec.errors import FormatError, InputError
from codec.features import coding
from codec.features.io import MAX_TENSORS, Tensor
from codec.features.pipeline import (
    Pipeline,
    TensorStats,
    fit_stats,
    forward,
    group_sizes,
    inverse,
)

__all__ = ["decode_features", "describe_params", "encode_features", "tensor_fields"]

_16BIT = ("float16", "bfloat16")


def _hash(obj) -> bytes:
    return obj.short_hash if obj is not None else bytes(8)


def _residual(x: np.ndarray, x_hat: np.ndarray, bound: float, dtype: str, k=None):
    """(k, final values in dtype) for the max-error grid; k given on decode."""
    if k is None:
        k = np.rint((x.astype(np.float64) - x_hat) / (2.0 * bound))
        if np.abs(k).max(initial=0) >= 2**30:
            raise InputError("--max-error is too small for this data")
        k = k.astype(np.int64)
    y = x_hat + k.reshape(x_hat.shape) * (2.0 * bound)
    if dtype == "bfloat16":
        return k, Tensor.from_values("tensor", dtype, y).values()
    return k, y.astype(dtype)


def encode_features(tensors: list[Tensor], pipeline: Pipeline, profile=None, bottleneck=None) -> bytes:
    """Compress tensors with ``pipeline`` (see ``codec.features.pipeline``)."""
    from dataclasses import replace

    from codec.features.io import check_tensors
    from codec.modes.max_error import effective_bound

    tensors = check_tensors(list(tensors), "input")
    p = replace(pipeline, from_profile=profile is not None and pipeline.transform != "learned")
    if p.from_profile:
        profile.check(p)
    if p.transform == "learned" and bottleneck is None:
        raise InputError("--transform learned needs a bottleneck model (--model FILE)")
    if p.quant == "lossless":
        wrong = [t.name for t in tensors if t.dtype not in _16BIT]
        if wrong:
            raise InputError(f"lossless coding applies to float16/bfloat16; {wrong[0]!r} is float32 "
                             "(use --max-error for a guaranteed bound)")
    else:
        for t in tensors:
            if not np.isfinite(t.values()).all():
                raise InputError(f"tensor {t.name!r} contains NaN or infinite values; only the lossless "
                                 "float16/bfloat16 path keeps them")
    if p.max_error:
        span = max(float(t.values().max()) - float(t.values().min()) for t in tensors)
        bound = effective_bound(p.max_error, max(span, 1e-30))
        if any(t.dtype in _16BIT for t in tensors):
            bound /= 2  # the rounding to 16 bits may move a value by up to the grid's half-spacing
        p = replace(p, bound=bound)

    table, chunks = [struct.pack("<I", len(tensors))], []
    for t in tensors:
        name = t.name.encode("utf-8")
        table.append(struct.pack(f"<B{len(name)}sBB{len(t.shape)}I", len(name), name,
                                 bitstream.DTYPE_IDS[t.dtype], len(t.shape), *t.shape))
        enc = Encoder()
        if p.quant == "lossless":
            coding.encode_bits16(enc, t.bits16(), t.dtype)
        elif p.transform == "learned":
            bottleneck.compress(enc, t.values())
        else:
            x = t.values()
            entry = profile.entry(t.name) if p.from_profile else None
            stats = fit_stats(x, p, entry)
            groups = forward(x, stats, p)
            table.append(stats.pack(p))
            coding.encode_groups(enc, groups)
            if p.max_error:
                x_hat = inverse(groups, t.shape, stats, p)
                k, final = _residual(x, x_hat, p.bound, t.dtype)
                if np.abs(final.astype(np.float64) - x).max() > p.max_error:
                    raise InputError(f"--max-error {p.max_error:g} is below the {t.dtype} resolution of "
                                     f"tensor {t.name!r}")
                coding.encode_groups(enc, [k.ravel()])
        chunks.append(enc.finish())
    model, model_hash = "", bytes(8)
    if p.transform == "learned":
        model, model_hash = "bottleneck", _hash(bottleneck)
    elif p.from_profile:
        model, model_hash = "profile", _hash(profile)
    header = bitstream.Header(
        mode="features", modality="features", dtype=tensors[0].dtype,
        shape=(sum(t.array.size for t in tensors),), channels=1, layout="N", model=model,
        model_hash=model_hash, quality=p.quality if p.quant == "quality" else 0, step=p.step,
        params=p.pack(),
    )
    return bitstream.pack(header, [b"".join(table)] + chunks)


class _Table:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, fmt: str):
        s = struct.Struct("<" + fmt)
        if self.pos + s.size > len(self.data):
            raise FormatError("tensor table is truncated")
        out = s.unpack_from(self.data, self.pos)
        self.pos += s.size
        return out


def _entry(r: _Table) -> tuple[str, str, tuple]:
    from codec.features.io import check_shape

    (n,) = r.take("B")
    (raw,) = r.take(f"{n}s")
    try:
        name = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError("tensor name is not UTF-8") from None
    dtype_id, ndim = r.take("BB")
    dtypes = {v: k for k, v in bitstream.DTYPE_IDS.items()}
    dtype = dtypes.get(dtype_id)
    if dtype not in ("float32", "float16", "bfloat16") or ndim > bitstream.MAX_NDIM:
        raise FormatError(f"tensor {name!r} has an unsupported dtype id {dtype_id} or {ndim} dimensions")
    shape = r.take(f"{ndim}I")
    try:
        check_shape(shape, name)
    except InputError as exc:
        raise FormatError(str(exc)) from None
    return name, dtype, tuple(shape)


def _check_model(header, p: Pipeline, profile, bottleneck):
    needed = "bottleneck" if p.transform == "learned" else ("profile" if p.from_profile else "")
    if header.model != needed:
        raise FormatError(f"features file names model {header.model!r}, its params need {needed!r}")
    given = {"profile": profile, "bottleneck": bottleneck}.get(needed)
    if needed and given is None:
        raise InputError(f"this file was coded with a {needed} (sha256 {header.model_hash.hex()}...); "
                         f"pass it with --{'model' if needed == 'bottleneck' else 'profile'}")
    if needed and given.short_hash != header.model_hash:
        raise InputError(f"the given {needed} (sha256 {given.short_hash.hex()}...) is not the one this file "
                         f"was coded with ({header.model_hash.hex()}...)")


def decode_features(data: bytes, profile=None, bottleneck=None) -> list[Tensor]:
    """Decompress a features-mode file into its named tensors (shapes and dtypes restored)."""
    header, chunks = bitstream.unpack(data)
    if header.mode != "features" or header.modality != "features":
        raise FormatError(f"not a features-mode file ({header.mode}/{header.modality})")
    p = Pipeline.unpack(header.params, header.quality)
    _check_model(header, p, profile, bottleneck)
    if not chunks:
        raise FormatError("features file has no tensor table")
    r = _Table(chunks[0])
    (count,) = r.take("I")
    if not 1 <= count <= MAX_TENSORS or count != len(chunks) - 1:
        raise FormatError(f"tensor table lists {count} tensors, the file has {len(chunks) - 1} streams")
    out, total = [], 0
    for chunk in chunks[1:]:
        name, dtype, shape = _entry(r)
        size = int(np.prod(shape))
        total += size
        if total > header.shape[0]:
            raise FormatError("tensor table declares more values than the header")
        dec = Decoder(chunk)
        if p.quant == "lossless":
            if dtype not in _16BIT:
                raise FormatError(f"lossless tensor {name!r} must be float16 or bfloat16")
            t = Tensor.from_bits16(name, dtype, coding.decode_bits16(dec, size, dtype).reshape(shape))
        elif p.transform == "learned":
            t = Tensor.from_values(name, dtype, bottleneck.decompress(dec, shape))
        else:
            c = shape[_axis(shape, p)] if _axis(shape, p) is not None else 1
            stats, r.pos = TensorStats.unpack(r.data, r.pos, p, c, profile.entry(name) if p.from_profile else None)
            x_hat = inverse(coding.decode_groups(dec, group_sizes(shape, p)), shape, stats, p)
            if p.max_error:
                (k,) = coding.decode_groups(dec, [size])
                x_hat = _residual(None, x_hat, p.bound, dtype, k)[1]
            t = Tensor.from_values(name, dtype, x_hat)
        dec.finish()
        out.append(t)
    if r.pos != len(r.data) or total != header.shape[0]:
        raise FormatError("tensor table does not match the header")
    return out


def _axis(shape, p):
    from codec.features.pipeline import channel_axis

    return channel_axis(len(shape), p.channels_last)


def describe_params(header) -> str:
    try:
        p = Pipeline.unpack(header.params, header.quality)
    except FormatError as exc:
        return f"invalid ({exc})"
    parts = [f"clip {p.clip}" + (f" ({p.clip_a:g}, {p.clip_b:g})" if p.clip == "fixed" else
                                 f" ({p.clip_a:g})" if p.clip != "none" else ""),
             f"norm {p.norm}", f"transform {p.transform}" + (f" ({p.levels} levels)" if p.transform == "wpt" else ""),
             f"quant {p.quant}" + (f" ({p.bits} bits)" if p.quant == "bits" else ""),
             "channels last" if p.channels_last else "channels at axis 1",
             "statistics from a profile" if p.from_profile else "statistics in the file"]
    if p.max_error:
        parts.append(f"max error {p.max_error:g} (grid bound {p.bound:.6g})")
    return ", ".join(parts) + f" ({len(header.params)} bytes)"



def _stats_size(p: Pipeline, channels: int) -> int:
    """Bytes of one tensor's statistics in the table."""
    if p.quant == "lossless" or p.transform == "learned":
        return 0
    if p.from_profile:
        return 4
    norm = {"none": 0, "global": 8, "channel": 8 * channels}[p.norm]
    return 12 + norm + (4 * channels * (channels + 1) if p.transform == "klt" else 0)


def tensor_fields(data: bytes, header) -> list[tuple[str, str]]:
    """("tensor i", "name dtype shape") for `wavecodec info`, from the tensor table (first 16)."""
    if not header.chunk_lengths or len(data) < 10:
        return []
    start = 10 + struct.unpack_from("<I", data, 6)[0]
    r = _Table(bytes(data[start:start + header.chunk_lengths[0]]))
    out = []
    try:
        p = Pipeline.unpack(header.params, header.quality)
        (count,) = r.take("I")
        for i in range(min(count, 16)):
            name, dtype, shape = _entry(r)
            out.append((f"tensor {i + 1}", f"{name} {dtype} {' x '.join(map(str, shape)) or 'scalar'}"))
            axis = _axis(shape, p)
            r.take(f"{_stats_size(p, shape[axis] if axis is not None else 1)}s")
        if count > 16:
            out.append(("tensors", f"{count} in all"))
    except (FormatError, InputError):
        out.append(("tensor table", "unreadable (incomplete or corrupt)"))
    return out
