"""Calibration profiles: statistics fitted once on sample feature files, held by both sides.

A small tensor (one sample's features) would spend most of its file on its own clip range,
per-channel means and deviations and KLT. ``wavecodec calibrate FILES... -o profile.npz``
fits them on calibration files instead, for one pipeline (clip, normalisation, transform,
channel axis), and the encoder and decoder both read them from the profile; a file names
the profile by the first 8 bytes of its sha256 and the decoder refuses another one.

The profile is an ``.npz`` (loaded without pickle): ``config`` (UTF-8 JSON: the pipeline
settings and the tensor names) and, per tensor i, ``i.range`` (lo, hi), ``i.mean``,
``i.std``, ``i.klt`` (matrix then means; empty unless the transform is ``klt``), float32.
Tensors of the same name in several files are stacked along axis 0 (the batch axis).
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import asdict, dataclass

import numpy as np

from codec.errors import FormatError, InputError
from codec.features.io import Tensor
from codec.features.pipeline import Pipeline, TensorStats, fit_stats
from codec.modes.spectral import SpectralKLT

__all__ = ["Profile", "calibrate", "load_profile"]

_KEYS = ("clip", "clip_a", "clip_b", "norm", "transform", "channels_last")


@dataclass
class _Entry:
    lo: float
    hi: float
    mean: np.ndarray
    std: np.ndarray
    klt: np.ndarray

    def stats(self, p: Pipeline, channels: int) -> TensorStats:
        n = channels if p.norm == "channel" else 1
        if p.norm != "none" and self.mean.size != n:
            raise InputError(f"the profile has {self.mean.size} channel statistics, this tensor needs {n}")
        klt = None
        if p.transform == "klt":
            if self.klt.size != channels * (channels + 1):
                raise InputError(f"the profile's KLT is not for {channels} channels")
            klt = SpectralKLT.unpack(self.klt.astype("<f4").tobytes(), channels)
        return TensorStats(0.0, self.lo, self.hi, self.mean, self.std, klt)


class Profile:
    """Per-tensor statistics for one pipeline; ``short_hash`` names it in coded files."""

    def __init__(self, config: dict, entries: dict[str, _Entry], raw: bytes):
        self.config, self.entries = config, entries
        self.short_hash = hashlib.sha256(raw).digest()[:8]
        self.raw = raw

    def entry(self, name: str) -> _Entry:
        if name not in self.entries:
            raise InputError(f"the calibration profile has no tensor {name!r} "
                             f"(it has {', '.join(list(self.entries)[:5])})")
        return self.entries[name]

    def check(self, p: Pipeline) -> None:
        """Refuse a pipeline other than the one the profile was fitted for."""
        mine = {k: getattr(p, k) for k in _KEYS}
        if {k: self.config[k] for k in _KEYS} != mine:
            fitted = ", ".join(f"{k} {self.config[k]}" for k in _KEYS)
            raise InputError(f"the profile was fitted for {fitted}; encode with the same settings")


def calibrate(files: list[list[Tensor]], p: Pipeline) -> bytes:
    """Fit a profile on the tensors of several files; returns the profile file's bytes."""
    if not files:
        raise InputError("calibrate needs at least one feature file")
    if p.transform == "learned" or p.quant == "lossless":
        raise InputError("a profile serves the clip/normalise/transform stages, not the learned or lossless paths")
    stacks: dict[str, list[np.ndarray]] = {}
    for tensors in files:
        for t in tensors:
            x = t.values()
            if not np.isfinite(x).all():
                raise InputError(f"tensor {t.name!r} contains NaN or infinite values")
            stacks.setdefault(t.name, []).append(x.reshape(1) if x.ndim == 0 else x)
    arrays, names = {}, list(stacks)
    for i, name in enumerate(names):
        parts = stacks[name]
        if len({a.shape[1:] for a in parts}) != 1:
            raise InputError(f"tensor {name!r} has different shapes beyond axis 0 across the files")
        s = fit_stats(np.concatenate(parts, axis=0), p)
        arrays[f"{i}.range"] = np.array([s.lo, s.hi], np.float32)
        arrays[f"{i}.mean"] = s.mean.astype(np.float32)
        arrays[f"{i}.std"] = s.std.astype(np.float32)
        klt = np.frombuffer(s.klt.pack(), "<f4") if s.klt else np.zeros(0)
        arrays[f"{i}.klt"] = klt.astype(np.float32)
    config = {k: v for k, v in asdict(p).items() if k in _KEYS} | {"names": names}
    arrays["config"] = np.frombuffer(json.dumps(config).encode("utf-8"), np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def load_profile(raw: bytes, what: str = "profile") -> Profile:
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        config = json.loads(arrays["config"].tobytes().decode("utf-8"))
        entries = {}
        for i, name in enumerate(config["names"]):
            lo, hi = (float(v) for v in arrays[f"{i}.range"])
            entries[name] = _Entry(lo, hi, arrays[f"{i}.mean"].astype(np.float32),
                                   arrays[f"{i}.std"].astype(np.float32), arrays[f"{i}.klt"].astype(np.float32))
        if not all(k in config for k in _KEYS):
            raise KeyError("config")
    except (FormatError, InputError):
        raise
    except Exception as exc:  # noqa: BLE001 - any failure to parse untrusted bytes is a refusal
        raise InputError(f"{what}: not a WaveCodec calibration profile ({type(exc).__name__}: {exc})") from None
    return Profile(config, entries, bytes(raw))
