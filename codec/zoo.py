"""Shipped model files: name -> file in codec/data, its sha256 and how it was made.

Files name their model in the header; the decoder looks the name up here and checks
the weights' hash, so a file never decodes silently with the wrong model.
"""

from dataclasses import dataclass
from pathlib import Path

from codec.errors import FormatError

__all__ = ["LEARNED_MODEL", "AUDIO_LEARNED_MODEL", "ModelEntry", "MODELS", "model_path", "read_model_file",
           "get_linear_model", "get_learned_model", "get_audio_learned_model"]

DATA_DIR = Path(__file__).parent / "data"


@dataclass(frozen=True)
class ModelEntry:
    file: str
    sha256: str
    made_by: str


LEARNED_MODEL = "learned-v3"  # the learned mode's model: what encoders write
AUDIO_LEARNED_MODEL = "audio-learned-v1"  # the learned audio mode's decoder network

MODELS = {
    "linear-v1": ModelEntry(
        file="linear-v1.npz",
        sha256="b0fd87bcd828c5bcab533fef08c5976171eee014f77190856c4727275bf83e4f",
        made_by="wavecodec fit-linear --data ../shared/data/images/train -o codec/data/linear-v1.npz",
    ),
    "learned-v3": ModelEntry(
        file="learned-v3.npz",
        sha256="807b0a6f5bfe79a0c066f0907338e2554e8f406c67f7bf6a2aaa773d59976c96",
        made_by="wavecodec train --data ../shared/data/images/train --out runs/learned-cuda --preset cuda "
                "(one H100); wavecodec fit-contexts --data ../shared/data/images/train "
                "--decoder runs/learned-cuda/learned.npz -o codec/data/learned-v3.npz",
    ),
    "audio-learned-v1": ModelEntry(
        file="audio-learned-v1.npz",
        sha256="e729a91515c3d87374b5ab429de03b0763a6360ab6753c06bfe3ff7e6e1e29cc",
        made_by="python -m codec.train.audio --data ../shared/data/audio/train/music "
                "-o codec/data/audio-learned-v1.npz (this 2-core CPU, about 7 minutes)",
    ),
}


def model_path(name: str) -> Path:
    return DATA_DIR / MODELS[name].file


def read_model_file(path, expected_sha256=None) -> tuple[str, dict]:
    """(sha256, arrays) of an ``.npz`` model file, read without pickle; the hash is checked
    when one is expected."""
    import hashlib
    import zipfile

    import numpy as np

    raw = Path(path).read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if expected_sha256 is not None and digest != expected_sha256:
        raise FormatError(f"model file {path} has sha256 {digest[:16]}..., expected {expected_sha256[:16]}...")
    try:
        with np.load(path, allow_pickle=False) as z:
            return digest, {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise FormatError(f"cannot read model file {path}: {exc}") from exc


def _shipped(name: str, loader, expected_hash: bytes | None):
    """A shipped model by name, its file's sha256 checked, and the header's short hash."""
    entry = MODELS[name]
    model = loader(str(DATA_DIR / entry.file), entry.sha256)
    if expected_hash is not None and expected_hash != model.short_hash:
        raise FormatError(
            f"file was made with other weights for model {name!r} "
            f"(hash {expected_hash.hex()}, this wavecodec has {model.short_hash.hex()})"
        )
    return model


def get_linear_model(name: str = "linear-v1", expected_hash: bytes | None = None):
    """Load a shipped linear model, checking its sha256 (and the file's short hash)."""
    from codec.modes.linear_model import load_linear_model

    if name not in MODELS or not name.startswith("linear"):
        raise FormatError(f"unknown model {name!r} for the linear mode; this wavecodec has: {', '.join(MODELS)}")
    return _shipped(name, load_linear_model, expected_hash)


def get_learned_model(name: str = LEARNED_MODEL, expected_hash: bytes | None = None):
    """Load a shipped learned model, checking its sha256 (and the file's short hash)."""
    from codec.models.export import load_learned_model

    if name not in MODELS or not name.startswith("learned"):
        raise FormatError(f"unknown learned model {name!r}; this wavecodec has: {', '.join(MODELS)}")
    return _shipped(name, load_learned_model, expected_hash)


def get_audio_learned_model(name: str = AUDIO_LEARNED_MODEL, expected_hash: bytes | None = None):
    """Load a shipped learned audio model, checking its sha256 (and the file's short hash)."""
    from codec.models.export import load_learned_model
    from codec.modes.learned_audio import NETWORK

    if name not in MODELS or not name.startswith("audio-learned"):
        raise FormatError(f"unknown learned audio model {name!r}; this wavecodec has: {', '.join(MODELS)}")
    model = _shipped(name, load_learned_model, expected_hash)
    if model.config.get("network") != NETWORK:
        raise FormatError(f"model file {name} is not an audio decoder")
    return model
