"""Shipped model files: name -> file in codec/data, its sha256 and how it was made.

Files name their model in the header; the decoder looks the name up here and checks
the weights' hash, so a file never decodes silently with the wrong model.
"""

from dataclasses import dataclass
from pathlib import Path

from codec.errors import FormatError

__all__ = ["ModelEntry", "MODELS", "model_path", "get_linear_model", "get_learned_model"]

DATA_DIR = Path(__file__).parent / "data"


@dataclass(frozen=True)
class ModelEntry:
    file: str
    sha256: str
    made_by: str


MODELS = {
    "linear-v1": ModelEntry(
        file="linear-v1.npz",
        sha256="b0fd87bcd828c5bcab533fef08c5976171eee014f77190856c4727275bf83e4f",
        made_by="wavecodec fit-linear --data ../shared/data/images/train -o codec/data/linear-v1.npz",
    ),
    "learned-v1": ModelEntry(
        file="learned-v1.npz",
        sha256="813aef218fe595c995a32eb43d892aa7305d564a86661a3939cd8251447dda80",
        made_by="wavecodec train --data ../shared/data/images/train --out runs/learned-v1 --preset cpu; cp runs/learned-v1/learned.npz codec/data/learned-v1.npz",
    ),
}


def model_path(name: str) -> Path:
    return DATA_DIR / MODELS[name].file


def get_linear_model(name: str = "linear-v1", expected_hash: bytes | None = None):
    """Load a shipped linear model, checking its sha256 (and the file's short hash)."""
    from codec.modes.linear_model import load_linear_model

    if name not in MODELS:
        raise FormatError(f"unknown model {name!r}; this wavecodec has: {', '.join(MODELS)}")
    entry = MODELS[name]
    model = load_linear_model(str(DATA_DIR / entry.file), entry.sha256)
    if expected_hash is not None and expected_hash != model.short_hash:
        raise FormatError(
            f"file was made with other weights for model {name!r} "
            f"(hash {expected_hash.hex()}, this wavecodec has {model.short_hash.hex()})"
        )
    return model


def get_learned_model(name: str = "learned-v1", expected_hash: bytes | None = None):
    """Load a shipped learned model, checking its sha256 (and the file's short hash)."""
    from codec.models.export import load_learned_model

    if name not in MODELS or not name.startswith("learned"):
        raise FormatError(f"unknown learned model {name!r}; this wavecodec has: {', '.join(MODELS)}")
    entry = MODELS[name]
    model = load_learned_model(str(DATA_DIR / entry.file), entry.sha256)
    if expected_hash is not None and expected_hash != model.short_hash:
        raise FormatError(
            f"file was made with other weights for model {name!r} "
            f"(hash {expected_hash.hex()}, this wavecodec has {model.short_hash.hex()})"
        )
    return model
