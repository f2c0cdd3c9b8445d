"""INR mode: an image coded as the weights and latents of a small network fitted to it.

    image --fit D + lambda R (codec.inr.fit)--> integer latent grids, entropy model and
    synthesis weights --range coder (codec.inr.coding)--> one chunk

Header: mode ``inr``, modality ``image``, ``padded`` the size the grids cover, ``quality``
as given, ``params`` the architecture and fitting record (``_PARAMS``). The chunk holds
the entropy model's 3 layers (weight, bias), the synthesis' 4 tensors of the MLP and 4 of
the 3x3 convolutions, then the grids, coarsest first.
"""

from __future__ import annotations

import struct

import numpy as np

from codec import bitstream
from codec.entropy import Decoder, Encoder
from codec.errors import FormatError, InputError
from codec.inr.coding import (
    IntegerARM,
    decode_grids,
    decode_tensor,
    encode_grids,
    encode_tensor,
)
from codec.inr.context import context_size
from codec.inr.model import Architecture, INRModel, synthesis_inputs

__all__ = [
    "MAX_CHANNELS",
    "MAX_PIXELS",
    "decode_image",
    "decode_latents",
    "describe_params",
    "encode_image",
    "macs_per_pixel",
    "quality_to_lambda",
]

MAX_PIXELS = 4096 * 4096   # fitting is per image: beyond this, use the linear or learned mode
MAX_CHANNELS = 8
# levels, first, hidden, arm hidden, synthesis bits, entropy-model bits, steps, seed, lambda,
# value lo, value hi
_PARAMS = struct.Struct("<BBBBBBIIfff")


def quality_to_lambda(quality: int) -> float:
    """Rate weight for quality 1..100: 10**(-1.5 - 3 q/100), 0.016 at 10 down to 0.00003 at 100."""
    return 10.0 ** (-1.5 - 3.0 * quality / 100.0)


def _arm_shapes(arch: Architecture) -> list[tuple[int, ...]]:
    n, h = context_size(arch.levels), arch.arm_hidden
    return [(h, n), (h,), (h, h), (h,), (2, h), (2,)]


def _synthesis_shapes(arch: Architecture) -> list[tuple[int, ...]]:
    inputs = synthesis_inputs(arch)
    c = arch.channels
    return [(arch.hidden, inputs), (arch.hidden,), (4 * c, arch.hidden), (4 * c,),
            (c, c, 3, 3), (c,), (c, c, 3, 3), (c,)]


def encode_image(a: np.ndarray, layout: str, quality: int, effort: str = "fast", seconds: float | None = None,
                 seed: int = 0, progress=None, arch: Architecture | None = None, steps: int | None = None) -> bytes:
    """Fit and code an HxW or HxWxC image (uint8, uint16 or float32); ``steps`` overrides the effort."""
    # Each dtype is mapped to 0..1 as in the linear mode.
    from codec.api import _value_range
    from codec.inr.fit import fit

    planes = a if a.ndim == 3 else a[:, :, None]
    height, width, channels = planes.shape
    if height * width > MAX_PIXELS:
        raise InputError(f"the INR mode fits images of at most {MAX_PIXELS} pixels; this one has "
                         f"{height * width} (use --mode linear)")
    if channels > MAX_CHANNELS:
        raise InputError(f"the INR mode codes at most {MAX_CHANNELS} channels, this image has {channels}")
    arch = arch or Architecture(channels=channels)
    if arch.channels != channels:
        raise ValueError("architecture channels differ from the image's")
    lo, hi = (float(np.float32(v)) for v in _value_range(a))
    x = (planes.transpose(2, 0, 1).astype(np.float64) - lo) / (hi - lo)
    lam = quality_to_lambda(quality)
    fitted = fit(x.astype(np.float32), lam, arch, effort, seconds, seed, progress, steps=steps)
    enc = Encoder()
    for w, b in fitted.arm.layers:
        encode_tensor(enc, w.astype(np.int64))
        encode_tensor(enc, b.astype(np.int64))
    for q in fitted.synthesis:
        encode_tensor(enc, q)
    encode_grids(enc, fitted.grids, fitted.arm)
    header = bitstream.Header(
        mode="inr", modality="image", dtype=a.dtype.name,
        shape=np.moveaxis(a, -1, 0).shape if layout == "CHW" and a.ndim == 3 else a.shape,
        channels=channels, layout=layout if a.ndim == 3 else "HW",
        padded=arch.padded_size(height, width), quality=quality,
        params=_PARAMS.pack(arch.levels, arch.first, arch.hidden, arch.arm_hidden, fitted.synth_bits,
                            fitted.arm.bits, fitted.steps, seed, lam, lo, hi),
    )
    return bitstream.pack(header, [enc.finish()])


def _read_params(header) -> tuple[Architecture, int, int, float, float]:
    """(architecture, synthesis bits, entropy-model bits, value lo, value hi), checked."""
    if len(header.params) != _PARAMS.size:
        raise FormatError("INR parameters have the wrong size")
    levels, first, hidden, arm_hidden, bits, arm_bits, _, _, _, lo, hi = _PARAMS.unpack(header.params)
    if not (1 <= levels <= 8 and first in (0, 1) and 1 <= hidden <= 128 and 1 <= arm_hidden <= 64
            and 0 <= bits <= 16 and 0 <= arm_bits <= 16 and 1 <= header.channels <= MAX_CHANNELS):
        raise FormatError("INR architecture out of range")
    if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
        raise FormatError("INR value range is invalid")
    arch = Architecture(levels=levels, first=first, hidden=hidden, arm_hidden=arm_hidden, channels=header.channels)
    return arch, bits, arm_bits, lo, hi


def _decode_parts(header, chunks: list):
    """(architecture, synthesis bits, value range, synthesis integers, grids) of an INR file."""
    arch, bits, arm_bits, lo, hi = _read_params(header)
    if header.layout not in ("HW", "HWC", "CHW") or header.dtype not in ("uint8", "uint16", "float32"):
        raise FormatError("INR files hold uint8, uint16 or float32 images")
    height, width = header.shape[1:] if header.layout == "CHW" else header.shape[:2]
    if header.padded != arch.padded_size(height, width) or height * width > MAX_PIXELS:
        raise FormatError(f"padded size {header.padded} does not match the image size {height}x{width}")
    if len(chunks) != 1:
        raise FormatError(f"INR files have one chunk, found {len(chunks)}")
    dec = Decoder(chunks[0])
    shapes = _arm_shapes(arch)
    arm = IntegerARM([(decode_tensor(dec, w), decode_tensor(dec, b)) for w, b in zip(shapes[::2], shapes[1::2])],
                     arm_bits)
    synthesis = [decode_tensor(dec, s) for s in _synthesis_shapes(arch)]
    grids = decode_grids(dec, arch.grid_shapes(header.padded), arm)
    dec.finish()
    return arch, bits, (lo, hi), (height, width), synthesis, grids


def decode_latents(header, chunks: list) -> list:
    """The integer latent grids of an INR file (float64 tensors, finest first): entropy decoding only."""
    return _decode_parts(header, chunks)[-1]


def decode_image(header, chunks: list) -> np.ndarray:
    """The image of an INR file, in its original shape, dtype and layout."""
    import torch

    arch, bits, (lo, hi), (height, width), synthesis, grids = _decode_parts(header, chunks)
    model = INRModel(arch, header.padded)
    with torch.no_grad():
        for p, q in zip(model.synthesis.parameters(), synthesis):
            p.copy_(torch.from_numpy(q / 2.0**bits))
        x = model.decode([g.float() for g in grids])[0, :, :height, :width]
        x = torch.nan_to_num(x, nan=0.0).clamp(0, 1).numpy()  # wild weights must not reach astype
    out = x.transpose(1, 2, 0).astype(np.float64) * (hi - lo) + lo
    if header.dtype != "float32":
        out = np.rint(out)
    out = out.astype(header.dtype)
    if header.layout == "CHW":
        return np.ascontiguousarray(out.transpose(2, 0, 1))
    return out.reshape(header.shape)


def describe_params(header) -> str:
    """The params field in words, for ``wavecodec info``."""
    try:
        arch, bits, arm_bits, lo, hi = _read_params(header)
    except FormatError as exc:
        return f"invalid ({exc})"
    *_, steps, seed, lam, _, _ = _PARAMS.unpack(header.params)
    return (f"{arch.levels} grids from 1/{2 ** arch.first}, synthesis {arch.hidden} wide (weights in 2**-{bits}), "
            f"entropy model {arch.arm_hidden} wide (weights in 2**-{arm_bits}); "
            f"fitted {steps} steps, seed {seed}, lambda {lam:.4g}, "
            f"value range {lo:.6g}..{hi:.6g}, {macs_per_pixel(arch):.0f} MACs/pixel ({len(header.params)} bytes)")


def parameter_count(arch: Architecture) -> int:
    """Network weights in a file: the entropy model's and the synthesis' (latents not counted)."""
    return sum(int(np.prod(s)) for s in _arm_shapes(arch) + _synthesis_shapes(arch))


def macs_per_pixel(arch: Architecture) -> float:
    """Decoder multiply-adds per pixel: entropy model, upsampling, MLP and 3x3 convolutions."""
    latents = sum((1 / 4**s) for s in range(arch.first, arch.first + arch.levels))
    n, h = context_size(arch.levels), arch.arm_hidden
    arm = latents * (n * h + h * h + 2 * h)
    upsample = 16 / 4 * sum(1 for s in range(arch.first, arch.first + arch.levels) if s >= 2)  # bicubic taps
    inputs = synthesis_inputs(arch)
    mlp = (inputs * arch.hidden + arch.hidden * 4 * arch.channels) / 4
    convs = 2 * 9 * arch.channels * arch.channels
    return arm + upsample + mlp + convs
