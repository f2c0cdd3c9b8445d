"""benchmarks.inr_amortized: the analysis gives one grid per level at the fit's shapes, a
short training run writes a start that a fit then begins from, and missing or too small
training images are refused."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from benchmarks.inr_amortized import Analysis, lambda_position, start_from, train
from benchmarks.inr_efforts import main
from codec.inr.model import Architecture, INRModel


def test_lambda_position_spans_the_qualities():
    assert lambda_position(10 ** -1.5) == pytest.approx(1.0)     # quality 0
    assert lambda_position(10 ** -4.5) == pytest.approx(-1.0)    # quality 100


def test_analysis_gives_the_fits_grid_shapes():
    arch = Architecture()
    grids = Analysis(arch)(torch.rand(1, 3, 128, 192), 0.0)
    assert [tuple(g.shape) for g in grids] == arch.grid_shapes((128, 192))


def _training_folder(path, count=3):
    rng = np.random.default_rng(5)
    path.mkdir()
    for i in range(count):
        Image.fromarray(rng.integers(0, 255, (72, 80, 3), dtype=np.uint8)).save(path / f"t{i}.png")
    return path


def test_a_trained_start_sets_the_fits_latents_and_networks(tmp_path):
    out = tmp_path / "start.pt"
    train(_training_folder(tmp_path / "train"), steps=2, out=out, batch=1, crop=64)
    saved = torch.load(out)
    arch = Architecture()
    model = INRModel(arch, arch.padded_size(40, 70))
    target = torch.rand(1, 3, 40, 70)
    start_from(out)(model, target, 1e-3)
    assert torch.equal(model.state_dict()["synthesis.mlp.0.weight"], saved["networks"]["synthesis.mlp.0.weight"])
    analysis = Analysis(arch)
    analysis.load_state_dict(saved["analysis"])
    padded = torch.nn.functional.pad(target, (0, 128 - 70, 0, 64 - 40), mode="replicate")
    expected = analysis(padded, lambda_position(1e-3))
    assert all(torch.allclose(g, e) for g, e in zip(model.grids, expected))
    assert any(g.abs().sum() > 0 for g in model.grids)   # not the zeros a plain fit starts from


def test_a_trial_from_a_start_records_it(tmp_path):
    start = tmp_path / "start.pt"
    train(_training_folder(tmp_path / "train"), steps=1, out=start, batch=1, crop=64)
    Image.fromarray(np.random.default_rng(6).integers(0, 255, (32, 48, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    out = tmp_path / "trial.json"
    main(["a.png", "--data", str(tmp_path), "--steps", "2", "--qualities", "50", "--start-from", str(start),
          "--net-lr", "0.01", "--out", str(out)])
    assert [r["variant"] for r in json.loads(out.read_text())] == ["start from start.pt, net lr 0.01"]


def test_training_without_images_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="no training images"):
        train(tmp_path, steps=1, out=tmp_path / "s.pt")
    with pytest.raises(SystemExit, match="no training image is at least 256x256"):
        train(_training_folder(tmp_path / "small"), steps=1, out=tmp_path / "s.pt")
    assert not (tmp_path / "s.pt").exists()
