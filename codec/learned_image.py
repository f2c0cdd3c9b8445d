"""Learned mode for images: the API's encode/decode for RGB images, and ``latents``.

The learned model is trained on RGB photographs, so the mode takes 3-channel images
(uint8, uint16 or float32, mapped to the 8-bit scale like the linear mode); other
channel counts are refused with a pointer to the linear mode.
"""

import struct

import numpy as np

from codec import bitstream
from codec.errors import FormatError, InputError

__all__ = ["LEARNED_MODEL", "encode_learned", "decode_learned", "latents"]

LEARNED_MODEL = "learned-v1"
_PARAMS = struct.Struct("<ff")  # value range lo, hi of the original samples


def _centred(a: np.ndarray, lo: float, hi: float) -> np.ndarray:
    x = a.transpose(2, 0, 1).astype(np.float32)
    x -= np.float32(lo)
    x *= np.float32(255.0 / (hi - lo))
    x -= np.float32(127.5)
    return x


class _Prepared:
    """An RGB image transformed once: KLT channels and the learned projection."""

    def __init__(self, a: np.ndarray, value_range):
        from codec.modes.learned import PAD_MULTIPLE, LearnedEncoder
        from codec.modes.linear import analyse
        from codec.wavelets import pad_to_multiple
        from codec.zoo import get_learned_model, get_linear_model

        if a.ndim != 3 or a.shape[2] != 3:
            channels = 1 if a.ndim == 2 else a.shape[2]
            raise InputError(f"the learned mode codes RGB images; this one has {channels} channel(s) "
                             "(use --mode linear)")
        self.array, (self.lo, self.hi) = a, value_range
        self.model = get_learned_model(LEARNED_MODEL)
        x = pad_to_multiple(_centred(a, self.lo, self.hi), PAD_MULTIPLE)
        self.padded = x.shape[1:]
        y0 = analyse(x, get_linear_model("linear-v1"), "rgb")
        self.encoder = LearnedEncoder(y0, self.model)

    def file(self, level: int, quality: int) -> bytes:
        a = self.array
        header = bitstream.Header(
            mode="learned", modality="image", dtype=a.dtype.name, shape=a.shape, channels=3, layout="HWC",
            padded=self.padded, model=self.model.name, model_hash=self.model.short_hash, quality=quality,
            step=float(level), params=_PARAMS.pack(self.lo, self.hi))
        return bitstream.pack(header, [self.encoder.encode(level)])


def encode_learned(a: np.ndarray, value_range, quality: int, bpp: float | None) -> bytes:
    """An RGB array (H, W, 3) -> file; ``bpp`` searches the level instead of quality."""
    from codec.modes.learned import level_to_quality, quality_to_level

    prep = _Prepared(a, value_range)
    n = prep.model.n_levels
    if bpp is None:
        return prep.file(quality_to_level(quality, n), quality)
    pixels = a.shape[0] * a.shape[1]
    lo, hi = 0, 256 * (n - 1)
    best = prep.file(lo, 1)
    if len(best) * 8 / pixels > bpp:
        raise InputError(f"--bpp {bpp} is below the smallest rate reachable ({len(best) * 8 / pixels:.4f})")
    top = prep.file(hi, 100)
    if len(top) * 8 / pixels <= bpp:
        return top
    while hi - lo > 1:  # rate grows with the level: bisect on the integer level
        mid = (lo + hi) // 2
        data = prep.file(mid, level_to_quality(mid, n))
        if len(data) * 8 / pixels <= bpp:
            best, lo = data, mid
        else:
            hi = mid
    return best


def _check(header: bitstream.Header, chunks: list, model) -> tuple[int, float, float]:
    from codec.modes.learned import PAD_MULTIPLE

    if header.modality != "image" or header.channels != 3 or header.layout != "HWC" or len(header.shape) != 3:
        raise FormatError("learned-mode files hold RGB images")
    if len(header.params) != _PARAMS.size or len(chunks) != 1:
        raise FormatError("learned-mode parameters or chunk count are invalid")
    lo, hi = _PARAMS.unpack(header.params)
    if not (np.isfinite([lo, hi]).all() and hi > lo):
        raise FormatError("learned-mode value range is invalid")
    level = header.step
    if level != int(level) or not 0 <= level <= 256 * (model.n_levels - 1):
        raise FormatError(f"learned-mode rate level {level} is out of range")
    h, w = header.shape[:2]
    if header.padded != tuple(-(-s // PAD_MULTIPLE) * PAD_MULTIPLE for s in (h, w)):
        raise FormatError(f"padded size {header.padded} does not match the image size {h}x{w}")
    return int(level), lo, hi


def _latents_of(header, chunks):
    from codec.modes.learned import decode_latents
    from codec.zoo import get_learned_model

    model = get_learned_model(header.model, header.model_hash)
    level, lo, hi = _check(header, chunks, model)
    h, w = (s // 8 for s in header.padded)
    return decode_latents(chunks[0], (h, w), model, level), model, lo, hi


def decode_learned(header: bitstream.Header, chunks: list) -> np.ndarray:
    from codec.modes.learned import synthesise
    from codec.modes.linear import _inverse
    from codec.zoo import get_linear_model

    y_hat, model, lo, hi = _latents_of(header, chunks)
    x = synthesise(y_hat, model)
    del y_hat
    x = _inverse(x, get_linear_model("linear-v1"), "rgb")
    h, w = header.shape[:2]
    out = x[:, :h, :w].transpose(1, 2, 0)
    out += np.float32(127.5)
    out *= np.float32((hi - lo) / 255.0)
    out += np.float32(lo)
    if header.dtype == "float32":
        return np.ascontiguousarray(np.clip(out, lo, hi))
    full = 255.0 if header.dtype == "uint8" else 65535.0
    return np.clip(np.rint(out), 0, full).astype(header.dtype)


def latents(data: bytes):
    """Dequantised latents (K, H/8, W/8) of a learned-mode file, as a torch tensor.

    Entropy decoding only: the decoder network is not run.
    """
    import torch

    header, chunks = bitstream.unpack(data)
    if header.mode != "learned":
        raise InputError(f"latents exist for learned-mode files, this one is {header.mode}")
    y_hat, *_ = _latents_of(header, chunks)
    return torch.from_numpy(y_hat)
