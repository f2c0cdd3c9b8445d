"""Learned model files: export after training, load (without pickle) for decoding.

A model file is an ``.npz`` of the decoder's float32 weights, its architecture and how it
was trained (JSON). ``allow_pickle=False`` on load; the sha256 of the file is what
headers pin.
"""

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from codec.errors import FormatError

__all__ = ["channel_std", "export_model", "load_learned_model", "LearnedModel"]


def channel_std(linear) -> np.ndarray:
    """Standard deviation of each KLT channel on the training images (its eigenvalue)."""
    from codec.zoo import model_path

    with np.load(model_path(linear.name), allow_pickle=False) as z:
        return np.sqrt(np.maximum(z["eigval_rgb"], 1e-2)).astype(np.float32)


def export_model(model, path, meta: dict) -> Path:
    """Write the trained ``LearnedDecoder`` as a model file (atomically)."""
    arrays = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in model.state_dict().items()}
    cfg = {k: getattr(model.cfg, k) for k in ("latent", "width", "blocks")}
    arrays["config"] = np.frombuffer(json.dumps(cfg).encode(), np.uint8)
    arrays["meta"] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), np.uint8)
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


@lru_cache(maxsize=4)
def _decoder(model: LearnedModel):
    import torch

    from codec.models.learned import Config, LearnedDecoder

    cfg = Config()
    for key, value in model.config.items():
        setattr(cfg, key, value)
    module = LearnedDecoder(torch.from_numpy(model.arrays["scale"]), cfg)
    try:
        module.load_state_dict({k: torch.from_numpy(v) for k, v in model.arrays.items()})
    except RuntimeError as exc:
        raise FormatError(f"model file {model.name} does not fit the decoder: {exc}") from exc
    return module.eval()


@lru_cache(maxsize=4)
def load_learned_model(path, expected_sha256=None) -> LearnedModel:
    """Read a learned model file (no pickle), checking its sha256 when one is expected."""
    from codec.zoo import read_model_file

    digest, arrays = read_model_file(path, expected_sha256)
    config = json.loads(bytes(arrays.pop("config")).decode())
    meta = json.loads(bytes(arrays.pop("meta")).decode())
    return LearnedModel(name=Path(path).stem, sha256=digest, arrays=arrays, config=config, meta=meta)
