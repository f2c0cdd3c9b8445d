"""Learning on compressed data: the latents of RGB files without running any decoder.

The latents are the dequantised KLT channels (K = 192, H/8, W/8; H, W padded up to
multiples of 64) that the learned mode's network starts from. Linear- and learned-mode
files hold the same quantised values (the learned mode codes them with fitted contexts and
reconstructs each at its own table's centroid), so both have them. ``latents`` gets them
from a file, or from an image coded by the (faster) linear mode; ``LatentFolder`` serves a
folder of ``.wlc`` files as a ``torch.utils.data.Dataset``, entropy decoding each file and
nothing more.
"""

from pathlib import Path

import numpy as np
import torch

from codec.errors import InputError

__all__ = ["latents", "LatentFolder", "pooled"]


def latents(image_or_file, quality: int = 50) -> torch.Tensor:
    """Latents of a file (bytes or path), or of an image coded at ``quality`` (linear mode)."""
    from codec.api import encode
    from codec.api import latents as file_latents

    if isinstance(image_or_file, (bytes, bytearray, memoryview)):
        return file_latents(bytes(image_or_file))
    if isinstance(image_or_file, (str, Path)):
        path = Path(image_or_file)
        if not path.is_file():
            raise InputError(f"{path}: no such file")
        return file_latents(path.read_bytes())
    return file_latents(encode(image_or_file, quality=quality))


class LatentFolder(torch.utils.data.Dataset):
    """Every ``.wlc`` file under ``root`` (sorted), as (latents, label).

    ``labels`` maps a file's path relative to ``root`` to its label; by default the
    label is the name of the file's parent folder's index among the sorted folder names
    (one folder per class, like torchvision's ImageFolder).
    """

    def __init__(self, root, labels: dict | None = None):
        self.root = Path(root)
        self.files = sorted(self.root.rglob("*.wlc"))
        if not self.files:
            raise InputError(f"{root}: no .wlc files")
        if labels is None:
            folders = {f.relative_to(self.root).as_posix(): f.parent.relative_to(self.root).as_posix()
                       for f in self.files}
            self.classes = sorted(set(folders.values()))
            labels = {name: self.classes.index(folder) for name, folder in folders.items()}
        self.labels = [labels[f.relative_to(self.root).as_posix()] for f in self.files]

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int):
        return latents(self.files[i]), self.labels[i]


def pooled(tensor: torch.Tensor) -> np.ndarray:
    """Mean absolute value and mean of each latent channel: a tiny fixed-length feature."""
    return torch.cat([tensor.abs().mean((1, 2)), tensor.mean((1, 2))]).numpy()
