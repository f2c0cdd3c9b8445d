"""Learned model files: export after training, load (without pickle) for decoding.

A model file is an ``.npz`` of the decoder's float32 weights, its architecture and how it
was trained (JSON), and (from ``wavecodec fit-contexts``) the entropy model's fitted context
tables as int8 arrays. ``allow_pickle=False`` on load; the sha256 of the file is what
headers pin, so it pins the decoder and the entropy model together.
"""

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from codec.errors import FormatError

__all__ = ["channel_std", "export_model", "export_audio_model", "add_contexts", "load_learned_model", "LearnedModel",
           "CONTEXT_PREFIX"]

CONTEXT_PREFIX = "contexts_"   # arrays of the fitted context tables (codec.modes.contexts)


def channel_std(linear) -> np.ndarray:
    """Standard deviation of each KLT channel on the training images (its eigenvalue)."""
    from codec.zoo import model_path

    with np.load(model_path(linear.name), allow_pickle=False) as z:
        return np.sqrt(np.maximum(z["eigval_rgb"], 1e-2)).astype(np.float32)


def export_model(model, path, meta: dict) -> Path:
    """Write the trained ``LearnedDecoder`` as a model file (atomically)."""
    arrays = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in model.state_dict().items()}
    cfg = {k: getattr(model.cfg, k) for k in ("latent", "width", "blocks")}
    return _save(arrays, cfg, meta, path)


def export_audio_model(model, path, meta: dict) -> Path:
    """Write the trained ``AudioDecoder`` as a model file (atomically)."""
    arrays = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in model.state_dict().items()}
    cfg = {"network": model.cfg.network, "bands": model.cfg.bands, "width": model.cfg.width,
           "dilations": list(model.cfg.dilations), "min_step": model.cfg.min_step}
    return _save(arrays, cfg, meta, path)


def add_contexts(decoder: "LearnedModel", contexts, path, fit_meta: dict) -> Path:
    """Write a model file: a learned model's decoder plus fitted context tables (atomically)."""
    arrays = {k: v for k, v in decoder.arrays.items() if not k.startswith(CONTEXT_PREFIX)}
    meta = dict(decoder.meta, contexts=dict(fit_meta, decoder_sha256=decoder.sha256))
    return _save(arrays, decoder.config, meta, path, after=contexts.arrays())


def _save(arrays: dict, config: dict, meta: dict, path, after=None) -> Path:
    """Arrays, the JSON config and meta, then ``after``, as one ``.npz`` (that order, so a rerun
    writes the same bytes), written to a temporary file first."""
    arrays = dict(arrays, config=np.frombuffer(json.dumps(config).encode(), np.uint8),
                  meta=np.frombuffer(json.dumps(meta, sort_keys=True).encode(), np.uint8), **(after or {}))
    path = Path(path)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)
    return path


@dataclass(frozen=True, eq=False)
class LearnedModel:
    """A loaded learned model; the torch decoder is built on first use."""

    name: str
    sha256: str
    arrays: dict
    config: dict
    meta: dict

    @property
    def short_hash(self) -> bytes:
        return bytes.fromhex(self.sha256[:16])

    def decoder(self):
        """The decoder as a torch module in eval mode (built once per model)."""
        return _decoder(self)

    @property
    def contexts(self):
        """The fitted context tables of the entropy model, or None (then the colour group is
        coded as in the linear mode)."""
        if not any(k.startswith(CONTEXT_PREFIX) for k in self.arrays):
            return None
        cached = self.__dict__.get("_contexts")
        if cached is None:
            from codec.modes.contexts import ContextTables

            cached = ContextTables.from_arrays(self.arrays)
            object.__setattr__(self, "_contexts", cached)
        return cached


@lru_cache(maxsize=4)
def _decoder(model: LearnedModel):
    import torch

    from codec.models.audio_decoder import AudioConfig, AudioDecoder
    from codec.models.learned import Config, LearnedDecoder

    audio = model.config.get("network") == AudioConfig.network
    cfg = AudioConfig() if audio else Config()
    for key, value in model.config.items():
        setattr(cfg, key, tuple(value) if isinstance(value, list) else value)
    if "scale" not in model.arrays:
        raise FormatError(f"model file {model.name} has no 'scale' array")
    module = (AudioDecoder if audio else LearnedDecoder)(torch.from_numpy(model.arrays["scale"]), cfg)
    try:
        module.load_state_dict({k: torch.from_numpy(v) for k, v in model.arrays.items()
                                if not k.startswith(CONTEXT_PREFIX)})
    except RuntimeError as exc:
        raise FormatError(f"model file {model.name} does not fit the decoder: {exc}") from exc
    return module.eval()


@lru_cache(maxsize=4)
def load_learned_model(path, expected_sha256=None) -> LearnedModel:
    """Read a learned model file (no pickle), checking its sha256 when one is expected."""
    from codec.zoo import read_model_file

    digest, arrays = read_model_file(path, expected_sha256)
    try:
        config = json.loads(bytes(arrays.pop("config")).decode())
        meta = json.loads(bytes(arrays.pop("meta")).decode())
    except (KeyError, ValueError) as exc:
        raise FormatError(f"{path} is not a learned model file (no valid config/meta: {exc})") from exc
    return LearnedModel(name=Path(path).stem, sha256=digest, arrays=arrays, config=config, meta=meta)
