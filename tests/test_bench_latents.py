"""Smoke test of the latent-classifier benchmark on a tiny synthetic data folder.

The real run takes minutes; this one codes a handful of synthetic crops so that the
benchmark's plumbing (split by image, latents through LatentFolder, JSON and README) is
checked in seconds.
"""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from benchmarks import latent_classifier as lc


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Three 'urban' images (straight stripes, PNG) and three 'natural' ones (smooth noise, JPEG)."""
    root = tmp_path_factory.mktemp("images")
    (root / "urban100").mkdir()
    (root / "bsds500").mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        stripes = ((np.arange(160) // (4 + i)) % 2 * 200 + 20).astype(np.uint8)
        a = np.stack([np.tile(stripes, (144, 1))] * 3, axis=-1)
        Image.fromarray(a).save(root / "urban100" / f"u{i}.png")
        noise = rng.normal(128, 30, (18, 20, 3)).clip(0, 255).astype(np.uint8)
        Image.fromarray(noise).resize((160, 144), Image.BICUBIC).save(root / "bsds500" / f"n{i}.jpg")
    return root


def test_split_is_by_image_and_balanced(data):
    files = lc.pick_images(data)
    assert [len(f) for f in files.values()] == [3, 3]
    train, test, info = lc.split_images(files, data)
    for name in files:
        assert test[name] and train[name]
        assert not set(train[name]) & set(test[name])
        assert sorted(train[name] + test[name]) == files[name]
    assert "seeded" in info["method"]  # 6 images: the repository split has too few validation images


def test_tiny_cnn_shapes():
    assert lc.TinyCNN(192, 1)(torch.zeros(2, 192, 16, 16)).shape == (2, 2)
    assert lc.TinyCNN(3, 8)(torch.zeros(2, 3, 128, 128)).shape == (2, 2)


@pytest.fixture
def one_thread():
    """One torch thread, as the benchmark's main() sets: faster on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_run_writes_results(data, tmp_path, one_thread):
    r = lc.run(data, qualities=(30,), crops=1, seeds=1, epochs=1, reps=1, timing_crops=1)
    q = r["qualities"]["30"]
    assert q["latent_shape"] == [192, 16, 16]
    assert q["bpp"] > 0
    accuracies = [r["original_pixels_cnn"], *q["accuracy"].values()]
    assert len(accuracies) == 5
    for a in accuracies:
        assert 0 <= a["mean"] <= 1 and 0 <= a["train_mean"] <= 1 and len(a["per_seed"]) == 1
    assert q["per_crop_time"]["latents_s"] > 0 and q["per_crop_time"]["decode_s"] > 0
    assert sum(r["test_crops"].values()) + sum(r["train_crops"].values()) == 6
    assert len(r["model"]["sha256"]) == 64

    r["provenance"] = {"command": "pytest", "date": "now"}
    lc.write(r, tmp_path)
    saved = json.loads((tmp_path / "latent_classifier.json").read_text())
    for key in ("task", "split", "train_images", "test_images", "test_crops", "model", "qualities", "provenance"):
        assert key in saved
    readme = (tmp_path / "README.md").read_text()
    assert "| accuracy: latents, CNN |" in readme and "quality 30" in readme
