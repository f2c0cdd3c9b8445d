"""benchmarks.inr_trials and the trial options of benchmarks.inr_efforts: a trial changes only
where a fit starts (or its latents' learning rate), names itself in the records, and leaves
codec.inr.fit as it was."""

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

import codec.inr.fit as fit_module
from benchmarks.inr_efforts import bd_lines, main
from benchmarks.inr_trials import networks_of, patched_fit, soft_round, soft_round_latents, variant_label
from codec.inr.model import Architecture, INRModel
from codec.modes.inr import encode_image

GRID_LR = fit_module._GRID_LR   # the codec's own, which every trial must leave as it was


def test_variant_label_names_what_changed():
    assert variant_label() is None
    assert variant_label(seed=1) == "seed 1"
    assert variant_label(hidden=96, first_layer_scale=0.25, grid_lr=0.4) == "width 96, first layer x0.25, grid lr 0.4"
    assert variant_label(networks_from="b.png q40") == "networks from b.png q40"
    assert variant_label(seed=2, soft_round=True) == "seed 2, soft round"
    assert variant_label(start_from="s.pt", net_lr=0.005) == "start from s.pt, net lr 0.005"
    assert variant_label(soft_fraction=0.85) == "soft fraction 0.85"


def test_soft_round_goes_from_identity_to_rounding():
    y = torch.linspace(-2.43, 2.43, 28)   # no half-integers, where rounding is ambiguous
    assert torch.allclose(soft_round(y, 50.0), y, atol=1e-4)        # hot: about the identity
    assert torch.allclose(soft_round(y, 0.002), torch.round(y), atol=1e-6)   # cold: rounding
    mid = soft_round(y, 0.2)
    assert (mid[1:] >= mid[:-1]).all()   # monotone
    assert torch.allclose(soft_round(torch.arange(-2.0, 3.0), 0.2), torch.arange(-2.0, 3.0), atol=1e-6)  # integers stay
    torch.manual_seed(0)
    grids = [torch.full((40, 40), 0.3), torch.full((20, 20), 1.7)]
    early, late = soft_round_latents(grids, 0.0), soft_round_latents(grids, 1.0)
    # Later in the phase: colder and less noise, so the values sit closer to the integers.
    assert (early[0] - 0).abs().mean() > (late[0] - 0).abs().mean() and (late[1] - 2).abs().mean() < 0.1


def test_soft_round_trial_replaces_the_relaxation_and_restores_it():
    base = fit_module._soft_latents
    with patched_fit(soft_round=True):
        assert fit_module._soft_latents is soft_round_latents
    assert fit_module._soft_latents is base
    image = np.random.default_rng(3).integers(0, 255, (24, 24, 3), dtype=np.uint8)
    plain = encode_image(image, "HWC", 50, steps=6)
    with patched_fit(soft_round=True):
        trial = encode_image(image, "HWC", 50, steps=6)
    assert trial != plain and encode_image(image, "HWC", 50, steps=6) == plain   # it changes the fit, and only inside


def test_patched_fit_starts_from_the_networks_and_restores_the_fit():
    arch = Architecture()
    source = INRModel(arch, (64, 64))
    networks = {k: v + 1 for k, v in source.state_dict().items() if not k.startswith("grids")}
    with patched_fit(networks, first_layer_scale=0.5, grid_lr=0.3):
        model = fit_module.INRModel(arch, (64, 64))
        assert fit_module._GRID_LR == 0.3
    state = model.state_dict()
    assert torch.equal(state["arm.layers.0.weight"], networks["arm.layers.0.weight"])
    assert torch.equal(state["synthesis.mlp.1.bias"], networks["synthesis.mlp.1.bias"])
    assert torch.allclose(state["synthesis.mlp.0.weight"], 0.5 * networks["synthesis.mlp.0.weight"])
    assert fit_module.INRModel is INRModel and fit_module._GRID_LR == GRID_LR
    with pytest.raises(RuntimeError), patched_fit(grid_lr=0.7):
        raise RuntimeError("a failed fit")
    assert fit_module._GRID_LR == GRID_LR   # restored after an error too


def test_patched_fit_replaces_the_start_and_the_networks_learning_rate_and_restores_them():
    base_start, calls = fit_module._start, []

    def start(model, target, lam):
        calls.append((model.arch, tuple(target.shape), lam))

    image = np.random.default_rng(4).integers(0, 255, (24, 24, 3), dtype=np.uint8)
    with patched_fit(start=start, net_lr=0.005, soft_fraction=0.5):
        assert fit_module._NET_LR == 0.005 and fit_module._SOFT_FRACTION == 0.5
        encode_image(image, "HWC", 50, steps=2)
    assert calls == [(Architecture(), (1, 3, 24, 24), pytest.approx(10 ** -3.0))]
    assert fit_module._start is base_start and fit_module._NET_LR == 0.02 and fit_module._SOFT_FRACTION == 0.95


def test_a_smaller_soft_fraction_rounds_earlier():
    seen = []
    base = fit_module._soft_latents

    def counting(grids, progress):
        seen.append(progress)
        return base(grids, progress)

    image = np.random.default_rng(7).integers(0, 255, (24, 24, 3), dtype=np.uint8)
    fit_module._soft_latents = counting
    try:
        encode_image(image, "HWC", 50, steps=20)
        with patched_fit(soft_fraction=0.5):
            encode_image(image, "HWC", 50, steps=20)
    finally:
        fit_module._soft_latents = base
    assert len(seen) == 19 + 10   # noisy steps: those before 95% (then 50%) of 20


def test_networks_of_keeps_a_fits_networks():
    kept = {}
    image = np.random.default_rng(0).integers(0, 255, (24, 24, 3), dtype=np.uint8)
    with networks_of(kept):
        encode_image(image, "HWC", 50, steps=3)
    assert "synthesis.mlp.0.weight" in kept["networks"] and "arm.layers.2.bias" in kept["networks"]
    assert not any(k.startswith("grids") for k in kept["networks"])
    assert fit_module._quantise.__name__ == "_quantise"


def test_trial_runs_record_their_variant(tmp_path, capsys):
    rng = np.random.default_rng(2)
    for name in ("a.png", "b.png"):
        Image.fromarray(rng.integers(0, 255, (32, 48, 3), dtype=np.uint8)).save(tmp_path / name)
    out = tmp_path / "trials.json"
    main(["a.png", "--data", str(tmp_path), "--steps", "3", "--qualities", "30", "70", "--seed", "1",
          "--first-layer-scale", "0.5", "--grid-lr", "0.2", "--networks-from", "b.png", "--out", str(out)])
    main(["a.png", "--data", str(tmp_path), "--steps", "3", "--qualities", "30", "70", "--out", str(out)])
    records = json.loads(out.read_text())
    assert [r["variant"] for r in records] == ["seed 1, networks from b.png q40, first layer x0.5, grid lr 0.2"] * 2 + [None] * 2
    assert fit_module._GRID_LR == GRID_LR and fit_module.INRModel is INRModel
    # The trial fit differs from the unchanged one (same pixels, steps and quality).
    assert (records[0]["bpp"], records[0]["psnr-rgb"]) != (records[2]["bpp"], records[2]["psnr-rgb"])


def test_bd_lines_compare_a_variant_with_the_unchanged_fit():
    def rec(bpp, q, variant=None, effort="fast"):
        return {"image": "x.png", "effort": effort, "bpp": bpp, "psnr-rgb": q, "grids_from": "1/2", "variant": variant}

    def quality(bpp):  # 6 dB per doubling of the rate
        return 30 + 6 * math.log2(bpp)

    heic = [{k: v for k, v in rec(b, quality(b), effort="heic").items() if k != "grids_from"} for b in (0.2, 0.5, 1.0, 1.6)]
    unchanged = [rec(b, quality(b)) for b in (0.3, 0.6, 1.2)]
    halved = [rec(b / 2, quality(b), "seed 1") for b in (0.3, 0.6, 1.2)]
    lines = bd_lines(heic + unchanged + halved)
    assert [line.split(": ")[0] for line in lines] == ["x.png fast, grids from 1/2", "x.png fast, grids from 1/2, seed 1"]
    assert "unchanged" not in lines[0] and abs(float(lines[0].split("HEIC ")[1].rstrip("%"))) < 0.1
    assert lines[1].endswith("BD-rate vs HEIC -50.0%; vs the unchanged fit -50.0%")
    assert bd_lines(halved) == []   # neither HEIC nor the unchanged fit: nothing to compare with


def test_bad_trial_settings_and_missing_images_are_refused(tmp_path):
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(tmp_path / "a.png")
    out = tmp_path / "o.json"
    base = ["a.png", "--data", str(tmp_path), "--steps", "2", "--out", str(out)]
    for bad in (["--hidden", "0"], ["--hidden", "wide"], ["--grid-lr", "-0.1"], ["--first-layer-scale", "0"],
                ["--networks-quality", "0"], ["--net-lr", "0"], ["--soft-fraction", "0"],
                ["--soft-fraction", "1.5"]):
        with pytest.raises(SystemExit) as caught:
            main(base + bad)
        assert caught.value.code == 2, bad
    with pytest.raises(SystemExit, match="b.png: no such image"):
        main(base + ["--networks-from", "b.png"])
    with pytest.raises(SystemExit, match="s.pt: no such file"):
        main(base + ["--start-from", str(tmp_path / "s.pt")])
    with pytest.raises(SystemExit, match="c.png: no such image"):
        main(["c.png"] + base[1:])
    assert not out.exists()
