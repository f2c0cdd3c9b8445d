"""The Python API: ``encode``, ``decode`` and ``info`` on in-memory images.

An image is a PIL image or a numpy array: HxW or HxWxC, uint8, uint16 or float32.
Samples are mapped to an 8-bit scale before coding (uint16 by 255/65535, float32 by
its own min..max, stored in the file), so ``quality`` means the same for every dtype.
Channel groups: 3 channels are coded together as RGB, a 4th as alpha with the gray
model (lossy, at the same step), 1 or 2 as gray planes; 5 or more are first rotated by a
KLT fitted to the file (``codec.modes.spectral``), then coded as gray planes.
"""

import struct
from dataclasses import dataclass

import numpy as np

from codec import bitstream
from codec.errors import FormatError, InputError
from codec.modes.spectral import MIN_CHANNELS, SpectralKLT
from codec.zoo import LEARNED_MODEL

__all__ = ["MODES", "encode", "encode_audio", "decode", "info", "complexity", "Info", "DEFAULT_QUALITY"]

MODES = ("linear", "learned", "inr")
DEFAULT_QUALITY = 50
_LINEAR_MODEL = "linear-v1"
_DTYPES = {"uint8": 255.0, "uint16": 65535.0, "float32": None}
_MAX_CHANNELS = 1024
_BOUND_PARAMS = struct.Struct("<dd")  # --max-error as given, and the residual grid's bound
# Linear-mode params: u8 wavelet levels, u8 dc levels, f32 theta, f32 value lo, f32 value hi.
_LINEAR_PARAMS = struct.Struct("<BBfff")


@dataclass(frozen=True)
class Info:
    """What a WaveCodec file says about itself (see docs/FORMAT.md)."""

    header: bitstream.Header
    fields: list

    def __str__(self) -> str:
        width = max(len(k) for k, _ in self.fields)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in self.fields)


def _as_array(image) -> np.ndarray:
    if hasattr(image, "mode") and hasattr(image, "size") and not isinstance(image, np.ndarray):
        from codec.io.images import _to_array

        return _to_array(image, "image")
    a = np.asarray(image)
    if a.dtype == object or a.dtype.name not in _DTYPES:
        raise InputError(f"unsupported image dtype {a.dtype}; use uint8, uint16 or float32")
    if a.ndim not in (2, 3):
        raise InputError(f"an image must be HxW or HxWxC, got shape {a.shape}")
    if 0 in a.shape:
        raise InputError(f"empty image (shape {a.shape})")
    if a.ndim == 3 and a.shape[2] > _MAX_CHANNELS:
        raise InputError(f"{a.shape[2]} channels: at most {_MAX_CHANNELS} (is the array CxHxW? use layout='CHW')")
    return _check_size_and_values(a, "image")


def _check_size_and_values(a: np.ndarray, what: str) -> np.ndarray:
    if a.size > bitstream.MAX_SAMPLES:
        raise InputError(f"{what} of {a.size} samples exceeds the limit of 2**30")
    if a.dtype == np.float32 and not np.isfinite(a).all():
        raise InputError(f"{what} contains NaN or infinite values")
    return a


def _value_range(a: np.ndarray) -> tuple[float, float]:
    full = _DTYPES[a.dtype.name]
    if full is not None:
        return 0.0, full
    lo, hi = float(a.min()), float(a.max())
    return lo, (hi if hi > lo else lo + 1.0)


def _groups(channels: int) -> list[tuple[str, int, int]]:
    """(model group, first channel, count) for each independently coded group."""
    if channels > _MAX_CHANNELS:
        raise FormatError(f"{channels} channels: at most {_MAX_CHANNELS} are supported")
    if channels in (3, 4):
        return [("rgb", 0, 3)] + ([("gray", 3, 1)] if channels == 4 else [])
    return [("gray", c, 1) for c in range(channels)]


def _check_quality(quality) -> int:
    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)) or not 1 <= quality <= 100:
        raise InputError(f"quality must be an integer in 1..100, got {quality!r}")
    return int(quality)


class _LinearImageEncoder:
    """Holds the transformed image so several steps can be tried (for --bpp)."""

    def __init__(self, a: np.ndarray, layout: str, mode: str = "linear"):
        from codec.modes.linear import analyse, pad_multiple
        from codec.wavelets import pad_to_multiple
        from codec.zoo import get_learned_model, get_linear_model

        self.array, self.layout, self.mode = a, layout, mode
        self.model = get_linear_model(_LINEAR_MODEL)
        # The learned mode quantises as the linear mode; its own model (named in the header)
        # holds the decoder network and the context tables that code the colour group.
        self.named = get_learned_model(LEARNED_MODEL) if mode == "learned" else self.model
        self.lo, self.hi = _value_range(a)
        planes = a if a.ndim == 3 else a[:, :, None]
        multiple = pad_multiple(self.model)
        self.padded_hw = tuple(-(-s // multiple) * multiple for s in a.shape[:2])
        x = planes.transpose(2, 0, 1).astype(np.float32)   # (C, H, W) on the centred 8-bit scale
        x -= np.float32(self.lo)
        x *= np.float32(255.0 / (self.hi - self.lo))
        x -= np.float32(127.5)
        self.spectral = SpectralKLT.fit(x) if len(x) >= MIN_CHANNELS else None
        if self.spectral:
            x = self.spectral.forward(x)
        self.groups = [
            (group, analyse(pad_to_multiple(x[first:first + count], multiple), self.model, group))
            for group, first, count in _groups(len(x))
        ]

    def _encode_group(self, y: np.ndarray, step: float, group: str) -> bytes:
        """The learned mode codes the colour group with its fitted contexts, all else as linear."""
        contexts = _contexts(self.named if self.mode == "learned" else None, group)
        if contexts is not None:
            from codec.modes.contexts import encode_group

            return encode_group(y, step, self.model, group, contexts)
        from codec.modes.linear import encode_group

        return encode_group(y, step, self.model, group)

    def encode(self, step: float, quality: int, residual: tuple | None = None) -> bytes:
        """The file at this step; ``residual`` = (max_error, bound, chunk) adds the bound layer."""
        from codec.modes.linear import DC_LEVELS
        from codec.modes.linear_model import THETA

        step = float(np.float32(step))
        chunks = [self._encode_group(x, step, group) for group, x in self.groups]
        if residual:
            chunks.append(residual[2])
        a = self.array
        original = np.moveaxis(a, -1, 0).shape if self.layout == "CHW" else a.shape
        header = bitstream.Header(
            mode=self.mode,
            modality="image",
            dtype=a.dtype.name,
            shape=original,
            channels=a.shape[2] if a.ndim == 3 else 1,
            layout=self.layout if a.ndim == 3 else "HW",
            padded=self.padded_hw,
            model=self.named.name,
            model_hash=self.named.short_hash,
            quality=quality,
            step=step,
            params=_LINEAR_PARAMS.pack(self.model.levels, DC_LEVELS, THETA, self.lo, self.hi)
            + (self.spectral.pack() if self.spectral else b"")
            + (_BOUND_PARAMS.pack(*residual[:2]) if residual else b""),
        )
        return bitstream.pack(header, chunks)


def _search_rate(encode_at, rate_of, target: float, steps: tuple, to_quality, option: str) -> bytes:
    """The largest file whose rate is at or under ``target``, by bisection on log(step).

    ``steps`` = (coarsest, finest) step; ``encode_at(step, quality)`` makes a file and
    ``rate_of(file)`` measures it in the option's unit.
    """
    best = encode_at(steps[0], 1)
    if rate_of(best) > target:
        raise InputError(f"{option} {target} is below the smallest rate reachable ({rate_of(best):.4f})")
    finest = encode_at(steps[1], 100)
    if rate_of(finest) <= target:
        return finest
    coarse, fine = np.log2(steps[0]), np.log2(steps[1])
    for _ in range(14):
        mid = (coarse + fine) / 2
        data = encode_at(2.0**mid, to_quality(2.0**mid))
        if rate_of(data) <= target:
            best, coarse = data, mid
        else:
            fine = mid
    return best


def _search_bpp(enc: _LinearImageEncoder, target: float) -> bytes:
    from codec.modes.linear import quality_to_step, step_to_quality

    pixels = enc.array.shape[0] * enc.array.shape[1]
    return _search_rate(enc.encode, lambda data: len(data) * 8 / pixels, target,
                        (quality_to_step(1), quality_to_step(100)), step_to_quality, "--bpp")


def encode(image, quality: int = DEFAULT_QUALITY, mode: str = "linear", bpp: float | None = None,
           layout: str = "HWC", max_error: float | None = None, *, effort: str = "fast",
           seconds: float | None = None, seed: int = 0, progress=None) -> bytes:
    """Compress an image; ``bpp`` (bits per pixel, header included) overrides quality.

    ``layout`` says how a 3-D array holds its channels: "HWC" (default) or "CHW"; the
    decoded array comes back in the same layout. ``max_error`` (float32 data only)
    guarantees every decoded value is within that distance of the original.
    The INR mode fits a network to the image: ``effort`` (fast, medium, slow) or
    ``seconds`` sets how long, ``seed`` makes it repeatable, and ``progress(step, total,
    bpp, psnr)`` is called as it goes.
    """
    if mode not in MODES:
        raise InputError(f"unknown mode {mode!r}; available: {', '.join(MODES)}")
    if layout not in ("HWC", "CHW"):
        raise InputError(f"layout must be 'HWC' or 'CHW', got {layout!r}")
    q = _check_quality(quality)
    given = image
    if layout == "CHW" and np.ndim(image) == 3:
        image = np.moveaxis(np.asarray(image), 0, -1)
    else:
        layout = "HWC"
    a = _as_array(image)
    if mode == "inr":
        return _encode_inr(a, layout, q, bpp, max_error, effort, seconds, seed, progress)
    if mode == "learned":
        if a.ndim != 3 or a.shape[2] not in (3, 4):
            channels = 1 if a.ndim == 2 else a.shape[2]
            raise InputError(f"the learned mode codes RGB(A) images; this one has {channels} channel(s) "
                             "(use --mode linear)")
        if max_error is not None:
            raise InputError("--max-error needs the linear mode")
    enc = _LinearImageEncoder(a, layout, mode)
    if max_error is not None:
        return _encode_bounded(enc, given, q, bpp, max_error)
    if bpp is not None:
        if not bpp > 0:
            raise InputError(f"--bpp must be positive, got {bpp}")
        return _search_bpp(enc, float(bpp))
    from codec.modes.linear import quality_to_step

    return enc.encode(quality_to_step(q), q)


def _encode_inr(a, layout, q, bpp, max_error, effort, seconds, seed, progress) -> bytes:
    from codec.inr.fit import EFFORTS
    from codec.modes.inr import encode_image

    if bpp is not None:
        raise InputError("--bpp is not available in the inr mode (each rate is a new fit); use --quality")
    if max_error is not None:
        raise InputError("--max-error needs the linear mode")
    if effort not in EFFORTS:
        raise InputError(f"unknown effort {effort!r}; available: {', '.join(EFFORTS)}")
    if seconds is not None and (isinstance(seconds, bool) or not np.isfinite(seconds) or not seconds > 0):
        raise InputError(f"--seconds must be a positive number, got {seconds!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise InputError(f"seed must be an integer in 0..2**32-1, got {seed!r}")
    return encode_image(a, layout, q, effort, seconds, int(seed), progress)


def _encode_bounded(enc: _LinearImageEncoder, original, q: int, bpp, max_error) -> bytes:
    from codec.modes.max_error import effective_bound, encode_residual

    if bpp is not None:
        raise InputError("--max-error and --bpp cannot be combined")
    if enc.array.dtype != np.float32:
        raise InputError(f"--max-error applies to float32 data, not {enc.array.dtype}")
    if isinstance(max_error, bool) or not np.isfinite(max_error) or not max_error > 0:
        raise InputError(f"--max-error must be a positive number, got {max_error!r}")
    max_error = float(max_error)
    bound = effective_bound(max_error, enc.hi - enc.lo)
    from codec.modes.linear import quality_to_step

    step = quality_to_step(q)
    lossy = enc.encode(step, q)
    x_hat = decode(lossy)
    chunk = encode_residual(np.asarray(original, np.float32), x_hat, bound, max_error, enc.model)
    return enc.encode(step, q, residual=(max_error, bound, chunk))


_AUDIO_DTYPES = ("int16", "int32", "float32")


def _as_audio(samples) -> np.ndarray:
    a = np.asarray(samples)
    if a.dtype == object or a.dtype.name not in _AUDIO_DTYPES:
        raise InputError(f"unsupported audio dtype {a.dtype}; use int16, int32 or float32")
    if a.ndim not in (1, 2):
        raise InputError(f"audio must be (N,) or (N, C), got shape {a.shape}")
    if a.ndim == 2 and a.shape[1] == 0:
        raise InputError("audio has no channels")
    if a.shape[0] == 0:
        raise InputError("audio has no samples (zero length)")
    if a.ndim == 2 and a.shape[1] > _MAX_CHANNELS:
        raise InputError(f"{a.shape[1]} channels: at most {_MAX_CHANNELS} (is the array (C, N)? use (N, C))")
    return _check_size_and_values(a, "audio")


_AUDIO_MODES = ("linear", "learned")


class _AudioFileEncoder:
    def __init__(self, samples, rate, cache: bool, mode: str = "linear"):
        from codec.modes.audio import AudioEncoder
        from codec.zoo import AUDIO_LEARNED_MODEL, get_audio_learned_model, get_linear_model

        if mode not in _AUDIO_MODES:
            raise InputError(f"audio is coded by the linear or learned mode, not {mode!r}")

        if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or not 1 <= rate <= 0xFFFFFFFF:
            raise InputError(f"sample rate must be an integer in 1..2**32-1, got {rate!r}")
        self.given = _as_audio(samples)
        self.rate = int(rate)
        two_d = self.given if self.given.ndim == 2 else self.given[:, None]
        self.model = get_linear_model(_LINEAR_MODEL)
        # The learned mode codes as the linear mode; its network (named in the header) decodes.
        self.mode = mode
        self.named = get_audio_learned_model(AUDIO_LEARNED_MODEL) if mode == "learned" else self.model
        correct = None
        if mode == "learned":
            from codec.modes.learned_audio import corrector

            correct = corrector(self.named, two_d.shape[1])
        self.enc = AudioEncoder(np.ascontiguousarray(two_d), self.model, cache=cache, correct=correct)
        self.params = self.enc.params_bytes()

    def encode(self, step: float, quality: int) -> bytes:
        step = float(np.float32(step))
        a = self.given
        header = bitstream.Header(
            mode=self.mode, modality="audio", dtype=a.dtype.name, shape=a.shape,
            channels=a.shape[1] if a.ndim == 2 else 1, layout="NC" if a.ndim == 2 else "N",
            model=self.named.name, model_hash=self.named.short_hash, sample_rate=self.rate,
            quality=quality, step=step, params=self.params,
        )
        return bitstream.pack(header, self.enc.chunks(step))

    def kbps(self, data: bytes) -> float:
        return len(data) * 8 / (self.given.shape[0] / self.rate) / 1000.0


def encode_audio(samples, rate: int, quality: int = DEFAULT_QUALITY, kbps: float | None = None,
                 mode: str = "linear") -> bytes:
    """Compress audio: ``samples`` (N,) or (N, C) int16 / int32 / float32 at ``rate`` Hz.

    ``mode="learned"`` writes the same coded values and decodes them through a trained
    network (README, "Audio": it adds a few tenths of a dB at low rates, slower to decode).

    ``kbps`` (total kilobits per second, header included) overrides quality: the largest
    file at or under it is found by bisection on the step. Decoding gives back the same
    shape and dtype (24-bit audio read as int32 comes back as multiples of 256).
    """
    from codec.modes.audio import quality_to_step, step_to_quality

    if kbps is None:
        q = _check_quality(quality)
        enc = _AudioFileEncoder(samples, rate, cache=False, mode=mode)
        return enc.encode(quality_to_step(q), q)
    if isinstance(kbps, bool) or not np.isfinite(kbps) or not kbps > 0:
        raise InputError(f"--kbps must be a positive number, got {kbps!r}")
    enc = _AudioFileEncoder(samples, rate, cache=True, mode=mode)
    return _search_rate(enc.encode, enc.kbps, float(kbps), (quality_to_step(1), quality_to_step(100)),
                        step_to_quality, "--kbps")


def _decode_audio(header: bitstream.Header, chunks: list) -> np.ndarray:
    from codec.modes.audio import decode_audio
    from codec.zoo import get_linear_model

    if header.dtype not in _AUDIO_DTYPES:
        raise FormatError(f"audio dtype {header.dtype} is not supported")
    if header.layout not in ("N", "NC"):
        raise FormatError(f"layout {header.layout!r} is not an audio layout")
    if not header.step > 0:
        raise FormatError("quantiser step must be positive")
    correct = None
    if header.mode == "learned":
        from codec.modes.learned_audio import corrector
        from codec.zoo import get_audio_learned_model

        learned = get_audio_learned_model(header.model, header.model_hash)
        model = get_linear_model(_LINEAR_MODEL)
        if learned.meta.get("linear_sha256", model.sha256) != model.sha256:
            raise FormatError(f"model {learned.name} was trained for other linear-mode weights")
        correct = corrector(learned, header.channels)
    else:
        model = get_linear_model(header.model, header.model_hash)
    out = decode_audio(chunks, header.shape[0], header.channels, header.dtype, header.step, header.params, model,
                       correct)
    return out.reshape(header.shape)


def decode(data: bytes) -> np.ndarray:
    """Decompress a WaveCodec file into an array with the original shape and dtype.

    Images come back as HxW(xC) arrays; audio as (N,) or (N, C) samples (the rate is in
    ``info(data).header.sample_rate``).
    """
    header, chunks = bitstream.unpack(data)
    if header.mode == "features":  # named tensors: codec/features
        raise InputError("this is a features-mode file (named tensors): use codec.decode_features(data)")
    if header.mode in _AUDIO_MODES and header.modality == "audio":
        return _decode_audio(header, chunks)
    if header.mode == "inr" and header.modality == "image":
        from codec.modes.inr import decode_image

        return decode_image(header, chunks)
    if header.mode not in ("linear", "learned") or header.modality != "image":
        raise FormatError(f"{header.mode}/{header.modality} files cannot be decoded by this version")
    from codec.modes.linear import DC_LEVELS, pad_multiple
    from codec.modes.linear_model import THETA
    from codec.zoo import get_learned_model, get_linear_model

    learned = None
    if header.mode == "learned":
        learned = get_learned_model(header.model, header.model_hash)
        if header.channels not in (3, 4):
            raise FormatError("learned-mode files hold RGB(A) images")
    model = get_linear_model(_LINEAR_MODEL) if learned else get_linear_model(header.model, header.model_hash)
    if learned and learned.meta.get("linear_sha256", model.sha256) != model.sha256:
        raise FormatError(f"model {learned.name} was trained for other linear-mode weights")
    spectral_bytes = SpectralKLT.size(header.channels) if header.channels >= MIN_CHANNELS else 0
    bounded = len(chunks) == len(_groups(header.channels)) + 1
    bound_bytes = _BOUND_PARAMS.size if bounded else 0
    if len(header.params) != _LINEAR_PARAMS.size + spectral_bytes + bound_bytes:
        raise FormatError("linear-mode parameters have the wrong size")
    levels, dc_levels, theta, lo, hi = _LINEAR_PARAMS.unpack(header.params[:_LINEAR_PARAMS.size])
    if (levels, dc_levels, np.float32(theta)) != (model.levels, DC_LEVELS, np.float32(THETA)):
        raise FormatError(f"linear-mode parameters (levels {levels}, dc levels {dc_levels}) are not supported")
    if header.dtype not in _DTYPES or not np.isfinite([lo, hi]).all() or not hi > lo:
        raise FormatError("linear-mode value range or dtype is invalid")
    if header.layout not in ("HW", "HWC", "CHW"):
        raise FormatError(f"layout {header.layout!r} is not an image layout")
    height, width = header.shape[1:] if header.layout == "CHW" else header.shape[:2]
    multiple = pad_multiple(model)
    if header.padded != tuple(-(-s // multiple) * multiple for s in (height, width)):
        raise FormatError(f"padded size {header.padded} does not match the image size {height}x{width}")
    if not header.step > 0:
        raise FormatError("quantiser step must be positive")
    groups = _groups(header.channels)
    if len(chunks) - bounded != len(groups):
        raise FormatError(f"expected {len(groups)} chunks for {header.channels} channels, found {len(chunks)}")
    if bounded and header.dtype != "float32":
        raise FormatError("a max-error layer is only valid for float32 data")
    out = np.empty((height, width, header.channels), np.float32)
    for (group, first, count), chunk in zip(groups, chunks):
        x = _decode_group(chunk, (count, *header.padded), header.step, model, group, learned)
        out[:, :, first:first + count] = x[:, :height, :width].transpose(1, 2, 0)
    if spectral_bytes:
        spectral = SpectralKLT.unpack(header.params[_LINEAR_PARAMS.size:_LINEAR_PARAMS.size + spectral_bytes],
                                      header.channels)
        out = np.ascontiguousarray(spectral.inverse(out.transpose(2, 0, 1)).transpose(1, 2, 0))
    out += np.float32(127.5)
    out *= np.float32((hi - lo) / 255.0)
    out += np.float32(lo)
    if header.dtype == "float32":
        np.clip(out, lo, hi, out=out)
        if bounded:
            from codec.modes.max_error import apply_residual

            max_error, bound = _BOUND_PARAMS.unpack(header.params[-_BOUND_PARAMS.size:])
            if not (np.isfinite(bound) and 0 < bound <= max_error):
                raise FormatError("max-error parameters are invalid")
            out = np.moveaxis(out, -1, 0) if header.layout == "CHW" else out.reshape(header.shape)
            out = apply_residual(np.ascontiguousarray(out), chunks[-1], bound, model)
            return out
    else:
        np.rint(out, out=out)
        np.clip(out, 0, _DTYPES[header.dtype], out=out)
        out = out.astype(header.dtype)
    return np.ascontiguousarray(np.moveaxis(out, -1, 0)) if header.layout == "CHW" else out.reshape(header.shape)


def _decode_group(chunk, shape, step, model, group, learned) -> np.ndarray:
    """One channel group back to samples; the learned network corrects RGB groups."""
    from codec.modes.linear import _inverse

    y = _decode_klt(chunk, shape, step, model, group, learned)
    if learned is not None and group == "rgb":
        from codec.modes.learned import synthesise

        y = synthesise(y, step, learned)
    return _inverse(y, model, group)


def _contexts(learned, group: str):
    """The context tables that code this group: the learned model's, for the colour group only;
    None means the group is a linear-mode stream."""
    return learned.contexts if learned is not None and group == "rgb" else None


def _decode_klt(chunk, shape, step, model, group, learned) -> np.ndarray:
    """Entropy decoding of a group: the learned mode's colour group uses its fitted contexts."""
    contexts = _contexts(learned, group)
    if contexts is not None:
        from codec.modes.contexts import decode_klt

        return decode_klt(chunk, shape, step, model, group, contexts)
    from codec.modes.linear import decode_klt

    return decode_klt(chunk, shape, step, model, group)


def latents(data: bytes):
    """The dequantised KLT channels (192, H'/8, W'/8) of an RGB file's colour group, as a
    torch tensor: entropy decoding only (H', W': the size padded to multiples of 64)."""
    import torch

    from codec.zoo import get_learned_model, get_linear_model

    header, chunks = bitstream.unpack(data)
    if header.modality != "image" or header.mode not in ("linear", "learned") or header.channels not in (3, 4):
        raise InputError("latents exist for RGB(A) image files of the linear or learned mode")
    learned = get_learned_model(header.model, header.model_hash) if header.mode == "learned" else None
    model = get_linear_model(*((header.model, header.model_hash) if header.mode == "linear" else (_LINEAR_MODEL,)))
    hw = header.shape[1:] if header.layout == "CHW" else header.shape[:2]
    if header.padded != tuple(-(-s // 64) * 64 for s in hw) or not header.step > 0:
        raise FormatError("invalid padded size or step")
    return torch.from_numpy(_decode_klt(chunks[0], (3, *header.padded), header.step, model, "rgb", learned))


def info(data: bytes) -> Info:
    """The header of a WaveCodec file, verified, with every field in printable form."""
    header = bitstream.read_header(data)
    fields = header.describe(data)
    if header.mode in _AUDIO_MODES and header.modality == "audio":
        from codec.modes.audio import PARAMS, AudioParams

        try:
            p = AudioParams.unpack(header.params)
        except FormatError as exc:
            readable = f"invalid ({exc})"
        else:
            klt = len(header.params) - PARAMS.size
            readable = (f"levels {p.levels}, window 2**{p.chunk_log2} frames, margin {p.margin}, "
                        f"segment {p.segment}, shift {p.shift}, theta {p.theta:.3g}, scale {p.scale:.6g}, "
                        f"value range {p.lo:.6g}..{p.hi:.6g}"
                        + (f", {header.channels}x{header.channels} channel KLT ({klt} bytes)" if klt else ""))
        readable += f" ({len(header.params)} bytes)"
        seconds = header.shape[0] / header.sample_rate
        fields = [(k, readable if k == "params" else v) for k, v in fields]
        fields.append(("duration", f"{seconds:.3f} s"))
        total = int(dict(fields)["total size"].split()[0])
        fields.append(("bitrate", f"{total * 8 / seconds / 1000:.3f} kb/s"))
    elif header.mode == "inr":
        from codec.modes.inr import describe_params

        fields = [(k, describe_params(header) if k == "params" else v) for k, v in fields]
    elif header.mode == "features":  # codec/modes/features.py
        from codec.modes.features import describe_params, tensor_fields

        fields = [(k, describe_params(header) if k == "params" else v) for k, v in fields]
        fields += tensor_fields(data, header)
    elif header.mode in ("linear", "learned") and len(header.params) >= _LINEAR_PARAMS.size:
        levels, dc_levels, theta, lo, hi = _LINEAR_PARAMS.unpack(header.params[:_LINEAR_PARAMS.size])
        klt = SpectralKLT.size(header.channels) if header.channels >= MIN_CHANNELS else 0
        readable = (f"levels {levels}, dc levels {dc_levels}, theta {theta:.3g}, "
                    f"value range {lo:.6g}..{hi:.6g}"
                    + (f", {header.channels}x{header.channels} channel KLT ({klt} bytes)" if klt else ""))
        if len(header.params) == _LINEAR_PARAMS.size + klt + _BOUND_PARAMS.size:
            max_error, bound = _BOUND_PARAMS.unpack(header.params[-_BOUND_PARAMS.size:])
            readable += f", max error {max_error:.6g} (grid bound {bound:.6g})"
        readable += f" ({len(header.params)} bytes)"
        fields = [(k, readable if k == "params" else v) for k, v in fields]
    return Info(header=header, fields=fields)


def complexity(mode: str = "linear") -> dict:
    """Multiply-adds per pixel (RGB, encoder side; the decoder mirrors it) and parameter count.

    Counted from the algorithm, not the implementation: a J-level 2-D packet transform costs
    J * (len(lowpass) + len(highpass)) multiply-adds per sample, the KLT K per coefficient.
    """
    if mode not in MODES:
        raise InputError(f"unknown mode {mode!r}; available: {', '.join(MODES)}")
    if mode == "inr":
        return _inr_complexity()
    linear = _linear_complexity()
    if mode == "linear":
        return linear
    return _learned_complexity(linear)


def _learned_complexity(linear: dict) -> dict:
    """The linear mode's costs plus the decoder network's (counted from its layer shapes) and
    the context model's fitted shifts (table lookups and integer sums, no multiply-adds)."""
    from codec.models.learned import cost
    from codec.zoo import get_learned_model

    model = get_learned_model(LEARNED_MODEL)
    net = cost(model.decoder())
    shifts = sum(t.size for pair in model.contexts.shifts.values() for t in pair) if model.contexts else 0
    decode = linear["macs_per_pixel"] + net["macs_per_pixel"]
    return {"macs_per_pixel": round(decode), "encode_macs_per_pixel": linear["macs_per_pixel"],
            "parameters": linear["parameters"] + net["parameters"] + shifts,
            "detail": f"encode {linear['macs_per_pixel']} MACs/pixel (the linear mode's); decode {decode:.0f} "
                      f"(decoder network {net['macs_per_pixel']:.0f}, inverse KLT+WPT {linear['macs_per_pixel']}); "
                      f"network {net['parameters']} parameters; entropy model {shifts} fitted table shifts"}


def _inr_complexity() -> dict:
    """The default INR decoder (RGB), counted from its layer shapes; encoding is a fit."""
    from codec.inr.model import Architecture
    from codec.modes.inr import macs_per_pixel, parameter_count

    arch = Architecture()
    nets = parameter_count(arch)
    macs = macs_per_pixel(arch)
    return {"macs_per_pixel": round(macs), "parameters": nets,
            "detail": f"decode {macs:.0f} MACs/pixel (entropy model, upsampling, synthesis); encoding fits the "
                      f"network: each step about 3x a decode, {nets} network parameters plus the latents"}


def _linear_complexity() -> dict:
    import pywt

    from codec.modes.linear import DC_LEVELS
    from codec.zoo import get_linear_model

    model = get_linear_model(_LINEAR_MODEL)
    w = pywt.Wavelet(model.wavelet)
    taps = int(np.count_nonzero(w.dec_lo) + np.count_nonzero(w.dec_hi))
    channels = 3
    k = model.klt["rgb"].shape[0]
    wpt = channels * model.levels * taps
    klt = k * k / 4**model.levels
    dyadic = model.n_dc["rgb"] / 4**model.levels * taps * 4 / 3  # geometric sum over DC_LEVELS
    parameters = sum(m.size + model.mean[g].size for g, m in model.klt.items())
    return {"macs_per_pixel": round(wpt + klt + dyadic), "parameters": int(parameters),
            "detail": f"WPT {wpt}, KLT {klt:.0f}, dyadic {dyadic:.1f} ({DC_LEVELS} levels) MACs/pixel"}
