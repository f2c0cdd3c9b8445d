"""Feature coding: compress the tensors inside neural networks (``--mode features``).

    >>> import codec
    >>> data = codec.encode_features({"layer3": array}, quality=60, norm="channel")
    >>> data = codec.encode_features(fp16_tensors, lossless=True)      # bit-exact
    >>> data = codec.encode_features(array, bits=8, max_error=0.01)
    >>> tensors = codec.decode_features(data)                          # {name: numpy array}

Modules: ``io`` (npy / pt / safetensors), ``pipeline`` (clip, normalise, transform,
quantise), ``coding`` (entropy coding of the integers), ``calibrate`` (profiles),
``bottleneck`` (the learned bottleneck and its distillation training); the container side is
``codec.modes.features``.
"""

from __future__ import annotations

from codec.errors import InputError

__all__ = ["as_tensors", "decode_features", "encode_features"]


def as_tensors(tensors) -> list:
    """A numpy array, a torch tensor, a dict of either, or a list of ``io.Tensor`` -> list of Tensor."""
    import numpy as np

    from codec.features.io import SINGLE_NAME, Tensor

    if isinstance(tensors, list) and all(isinstance(t, Tensor) for t in tensors):
        return tensors
    items = tensors.items() if isinstance(tensors, dict) else [(SINGLE_NAME, tensors)]
    out = []
    for name, value in items:
        if type(value).__module__.startswith("torch"):
            from codec.features.io import _from_torch

            out.append(_from_torch(value, name, "input"))
            continue
        a = np.asarray(value)
        if a.dtype == object or a.dtype.name not in ("float32", "float16"):
            raise InputError(f"tensor {name!r}: dtype {a.dtype} is not supported; use float32 or float16 "
                             "(bfloat16 as a torch tensor)")
        out.append(Tensor(name, a.dtype.name, a.astype(a.dtype, order="C")))  # 0-d stays 0-d
    return out


def _load(obj, loader, what: str):
    """A profile or model given as an object (returned as is), file bytes, or a path."""
    if obj is None or not isinstance(obj, (str, bytes)) and not hasattr(obj, "__fspath__"):
        return obj
    if isinstance(obj, bytes):
        return loader(obj, what)
    from pathlib import Path

    path = Path(obj)
    if not path.is_file():
        raise InputError(f"{obj}: no such {what} file")
    return loader(path.read_bytes(), str(obj))


def encode_features(tensors, quality: int = 50, bits: int | None = None, lossless: bool = False,
                    clip: tuple | None = None, norm: str = "global", transform: str = "none", levels: int = 2,
                    channels_last: bool = False, max_error: float | None = None, profile=None,
                    model=None) -> bytes:
    """Compress named tensors. ``clip``: ("fixed", lo, hi), ("percentile", p) or ("sigma", k).
    ``profile``: a calibration profile (path or ``Profile``); ``model``: a bottleneck (path or
    ``Bottleneck``) for ``transform="learned"``."""
    import numpy as np

    from codec.features.pipeline import Pipeline
    from codec.modes.features import encode_features as encode

    kind, a, b = "none", 0.0, 0.0
    if clip is not None:
        if not isinstance(clip, (tuple, list)) or not clip or len(clip) > 3:
            raise InputError(f"clip must be ('fixed', lo, hi), ('percentile', p) or ('sigma', k), got {clip!r}")
        kind, *rest = clip
        a, b = (list(map(float, rest)) + [0.0, 0.0])[:2]
    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)):
        raise InputError(f"quality must be an integer in 1..100, got {quality!r}")
    if transform == "learned" and norm == "global":
        norm = "none"  # the default; the bottleneck normalises with its own statistics
    if lossless:
        quant, norm = "lossless", "none"
    else:
        quant = "bits" if bits is not None else "quality"
    if max_error is not None and (isinstance(max_error, bool) or not max_error > 0):
        raise InputError(f"--max-error must be a positive number, got {max_error!r}")
    p = Pipeline(clip=kind, clip_a=a, clip_b=b, norm=norm, transform=transform, levels=int(levels), quant=quant,
                 quality=int(quality), bits=int(bits or 0), channels_last=bool(channels_last),
                 max_error=float(max_error or 0.0))
    from codec.features.calibrate import load_profile

    prof = _load(profile, load_profile, "profile")
    bottleneck = None
    if transform == "learned":
        from codec.features.bottleneck import load_bottleneck

        bottleneck = _load(model, load_bottleneck, "model")
    return encode(as_tensors(tensors), p, profile=prof, bottleneck=bottleneck)


def decode_features(data: bytes, profile=None, model=None, exact: bool = False):
    """{name: numpy array} (bfloat16 comes back as its exact float32 values), or with
    ``exact`` the list of ``io.Tensor`` holding the exact dtypes."""
    from codec import bitstream
    from codec.features.calibrate import load_profile
    from codec.modes.features import decode_features as decode

    header = bitstream.read_header(data)
    bottleneck = None
    if header.model == "bottleneck":
        from codec.features.bottleneck import load_bottleneck

        bottleneck = _load(model, load_bottleneck, "model")
    tensors = decode(data, profile=_load(profile, load_profile, "profile"), bottleneck=bottleneck)
    if exact:
        return tensors
    return {t.name: (t.values() if t.dtype == "bfloat16" else t.array) for t in tensors}
