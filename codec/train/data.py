"""Training images: random crops, mapped to the linear mode's KLT channels, and the same
channels after a real linear-mode encode and entropy decode at a given step.

The split is fixed by file name (every 16th file, sorted, is validation), so training
never sees the validation images and reruns use the same split. Kodak is not read here.
"""

from pathlib import Path

import numpy as np
import torch

__all__ = ["ImageSet", "load_split", "read_rgb"]

_SUFFIXES = (".png", ".jpg", ".jpeg")
VALIDATION_EVERY = 16


def load_split(data_dir) -> tuple[list[Path], list[Path]]:
    files = sorted(p for p in Path(data_dir).rglob("*") if p.suffix.lower() in _SUFFIXES)
    if not files:
        raise FileNotFoundError(f"no .png/.jpg images under {data_dir}")
    val = files[::VALIDATION_EVERY]
    train = [f for i, f in enumerate(files) if i % VALIDATION_EVERY]
    return train, val


def read_rgb(path: Path) -> np.ndarray:
    """An image file as (H, W, 3) uint8."""
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


_POOL_SET = None  # the ImageSet that fork-pool workers inherit (see ImageSet.pool)


def _pool_pair(crop: np.ndarray, step: float):
    return _POOL_SET._pair(crop, step)


def _one_thread() -> None:
    """Each worker codes one crop at a time: threads inside many workers only oversubscribe."""
    from threadpoolctl import threadpool_limits

    from codec.wavelets import use_threads

    threadpool_limits(1)
    use_threads(1)


class ImageSet:
    """Images held in memory as uint8; ``batch`` cuts crops and transforms them."""

    def __init__(self, files, crop: int, model):
        self.images = [a for a in (read_rgb(f) for f in files) if min(a.shape[:2]) >= crop]
        if not self.images:
            raise ValueError(f"no image is at least {crop}x{crop}")
        self.crop, self.model = crop, model

    def _klt(self, crop: np.ndarray) -> np.ndarray:
        from codec.modes.linear import analyse

        x = crop.transpose(2, 0, 1).astype(np.float32) - np.float32(127.5)
        return analyse(np.ascontiguousarray(x), self.model, "rgb")

    def _pair(self, crop: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
        """(original KLT channels, what the linear mode's decoder gets back at ``step``)."""
        from codec.modes.linear import decode_klt, encode_group

        y0 = self._klt(crop)
        data = encode_group(y0.copy(), step, self.model, "rgb")
        return y0, decode_klt(data, (3, self.crop, self.crop), step, self.model, "rgb")

    def batch(self, rng: np.random.Generator, steps: np.ndarray, pool=None):
        """Random crops (flipped half the time), one per step: (y0, y_hat) tensors.

        The crops are drawn here (so the seed fixes them); with a process ``pool`` the
        linear-mode coding, the costly part, runs in parallel.
        """
        crops = []
        for step, i in zip(steps, rng.integers(0, len(self.images), len(steps))):
            a = self.images[i]
            top = rng.integers(0, a.shape[0] - self.crop + 1)
            left = rng.integers(0, a.shape[1] - self.crop + 1)
            c = a[top:top + self.crop, left:left + self.crop]
            if rng.random() < 0.5:
                c = c[:, ::-1]
            crops.append((np.ascontiguousarray(c), float(step)))
        pairs = pool.starmap(_pool_pair, crops) if pool else [self._pair(*c) for c in crops]
        return tuple(torch.from_numpy(np.stack(t)) for t in zip(*pairs))

    def pool(self, workers: int):
        """Worker processes for ``batch``. They are forked after this set is made, so they
        inherit its images and model instead of receiving them pickled with every crop."""
        import multiprocessing

        global _POOL_SET
        _POOL_SET = self
        return multiprocessing.get_context("fork").Pool(workers, initializer=_one_thread)

    def centre_crops(self, step: float):
        """The centre crop of every image at one step: (y0, y_hat) tensors."""
        pairs = []
        for a in self.images:
            top, left = (a.shape[0] - self.crop) // 2, (a.shape[1] - self.crop) // 2
            pairs.append(self._pair(np.ascontiguousarray(a[top:top + self.crop, left:left + self.crop]), step))
        return tuple(torch.from_numpy(np.stack(t)) for t in zip(*pairs))
