"""Learned model files: export after training, load (without pickle) for coding.

A model file is an ``.npz`` holding the float weights of the encoder, gain units,
hyper-analysis and decoder, the integer weights of the hyper-synthesis, and the integer
tables of both entropy models (computed once here, at export). ``allow_pickle=False``
on load; the sha256 of the file is what headers pin.
"""

import hashlib
import json
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from codec.entropy.tables import Table
from codec.errors import FormatError

__all__ = ["channel_std", "export_model", "load_learned_model", "LearnedModel"]

Z_RADIUS = 24


def channel_std(linear) -> np.ndarray:
    """Standard deviation of each KLT channel on the training images (its eigenvalue)."""
    from codec.zoo import model_path

    with np.load(model_path(linear.name), allow_pickle=False) as z:
        return np.sqrt(np.maximum(z["eigval_rgb"], 1e-2)).astype(np.float32)


def export_model(model, path, meta: dict) -> Path:
    """Write the trained ``LearnedCodec`` as a model file (atomically)."""
    import math

    from codec.models.entropy_models import SIGMA_MIN, TABLE_PRECISION, gaussian_tables
    from codec.models.fixed_point import FRAC_A, quantise_conv

    sd = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
    arrays = {k: v.astype(np.float32) for k, v in sd.items()
              if k.startswith(("decoder.", "hyper_analysis.")) or k in
              ("log2_gains", "log_lambdas", "scale", "hyper_input_scale")}
    arrays["encoder"] = sd["encoder.weight"][:, :, 0, 0].astype(np.float32)
    for name in ("c1", "c2", "c3"):
        w, b = quantise_conv(sd[f"hyper_synthesis.{name}.weight"], sd[f"hyper_synthesis.{name}.bias"])
        arrays[f"hs_{name}_w"], arrays[f"hs_{name}_b"] = w, b
    arrays["fixed_log2_gains"] = np.round(sd["log2_gains"].astype(np.float64) * 256).astype(np.int64)
    arrays["fixed_log2_scale"] = np.round(np.log2(sd["scale"].reshape(-1).astype(np.float64)) * 256).astype(np.int64)
    arrays["exp2_table"] = np.round(2.0 ** (np.arange(256) / 256 + 16)).astype(np.int64)
    arrays["sigma_offset"] = np.array(round((0.5 - 4 * math.log2(SIGMA_MIN)) * 2**FRAC_A), np.int64)
    z_freqs, z_offsets = model.z_density.tables(Z_RADIUS)
    arrays["z_freqs"], arrays["z_offsets"] = z_freqs, z_offsets
    tables = gaussian_tables()
    arrays["y_freqs"] = np.concatenate(tables)
    arrays["y_lengths"] = np.array([len(t) for t in tables], np.int64)
    arrays["table_precision"] = np.array(TABLE_PRECISION)
    cfg = {k: getattr(model.cfg, k) for k in ("latent", "hyper", "hyper_hidden", "decoder_width",
                                               "decoder_blocks", "lambdas")}
    arrays["config"] = np.frombuffer(json.dumps(cfg).encode(), np.uint8)
    arrays["meta"] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), np.uint8)
    path = Path(path)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)
    return path


@dataclass(frozen=True, eq=False)
class LearnedModel:
    """A loaded learned model: numpy parts for the encoder side, torch decoder built lazily."""

    name: str
    sha256: str
    arrays: dict
    config: dict
    meta: dict

    @property
    def short_hash(self) -> bytes:
        return bytes.fromhex(self.sha256[:16])

    @property
    def n_levels(self) -> int:
        return len(self.config["lambdas"])

    def gains(self, level: int) -> np.ndarray:
        """Quantiser gain per channel at a level in 1/256 units (the integer path's own)."""
        from codec.models.fixed_point import spread

        a = self.arrays
        s = spread(a["fixed_log2_scale"], a["fixed_log2_gains"], level) - a["fixed_log2_scale"]
        return np.exp2(s / 256.0).astype(np.float32)

    def z_tables(self) -> list:
        return _z_tables(self)

    def y_tables(self) -> list:
        return _y_tables(self)

    def hyper_synthesis(self):
        from codec.models.entropy_models import N_SIGMAS
        from codec.models.fixed_point import FixedHyperSynthesis

        a = self.arrays
        layers = {n: (a[f"hs_{n}_w"], a[f"hs_{n}_b"]) for n in ("c1", "c2", "c3")}
        return FixedHyperSynthesis(layers, a["fixed_log2_scale"], a["fixed_log2_gains"], a["exp2_table"],
                                   int(a["sigma_offset"]), N_SIGMAS)

    def torch_part(self, prefix: str):
        """The hyper-analysis or decoder as a torch module in eval mode (built once)."""
        return _torch_part(self, prefix)


@lru_cache(maxsize=4)
def _z_tables(model: LearnedModel) -> list:
    p = int(model.arrays["table_precision"])
    return [Table(freqs=f, offset=int(o), escape=True, precision=p)
            for f, o in zip(model.arrays["z_freqs"], model.arrays["z_offsets"])]


@lru_cache(maxsize=4)
def _y_tables(model: LearnedModel) -> list:
    p = int(model.arrays["table_precision"])
    bounds = np.concatenate([[0], np.cumsum(model.arrays["y_lengths"])])
    out = []
    for i in range(len(bounds) - 1):
        freqs = model.arrays["y_freqs"][bounds[i]:bounds[i + 1]]
        out.append(Table(freqs=freqs, offset=-((len(freqs) - 2) // 2), escape=True, precision=p))
    return out


@lru_cache(maxsize=8)
def _torch_part(model: LearnedModel, prefix: str):
    import torch

    from codec.models.learned import Config, Decoder

    c = model.config
    if prefix == "decoder":
        module = Decoder(c["latent"], c["decoder_width"], c["decoder_blocks"])
    else:
        module = torch.nn.Sequential(
            torch.nn.Conv2d(c["latent"], c["hyper_hidden"], 3, stride=2, padding=1), torch.nn.ReLU(),
            torch.nn.Conv2d(c["hyper_hidden"], c["hyper"], 3, stride=2, padding=1))
    del Config
    state = {k[len(prefix) + 1:]: torch.from_numpy(v) for k, v in model.arrays.items() if k.startswith(prefix + ".")}
    module.load_state_dict(state)
    return module.eval()


@lru_cache(maxsize=4)
def load_learned_model(path, expected_sha256=None) -> LearnedModel:
    """Read a learned model file (no pickle), checking its sha256 when one is expected."""
    raw = Path(path).read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if expected_sha256 is not None and digest != expected_sha256:
        raise FormatError(f"model file {path} has sha256 {digest[:16]}..., expected {expected_sha256[:16]}...")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise FormatError(f"cannot read model file {path}: {exc}") from exc
    config = json.loads(bytes(arrays.pop("config")).decode())
    meta = json.loads(bytes(arrays.pop("meta")).decode())
    return LearnedModel(name=Path(path).stem, sha256=digest, arrays=arrays, config=config, meta=meta)
