"""The networks INR fits start from (codec.inr.start) and the command that makes them: the
shipped file matches the RGB architecture only, a fit really starts from the networks it is
given, files from either start decode, and bad inputs to ``fit-inr-start`` leave nothing."""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import codec
from codec.cli import cli
from codec.inr.fit import fit
from codec.inr.model import Architecture, INRModel
from codec.inr.start import centre_crop, shipped_start
from codec.modes.inr import encode_image
from codec.zoo import INR_START, MODELS, model_path, read_model_file


def _image(h=32, w=48, seed=0):
    smooth = np.cumsum(np.random.default_rng(seed).normal(0, 6, (h, w, 3)), axis=1)
    return np.clip(smooth + 128, 0, 255).astype(np.uint8)


def test_shipped_networks_fit_the_rgb_architecture_only():
    arch = Architecture(channels=3)
    networks = shipped_start(arch)
    expected = {k: v.shape for k, v in INRModel(arch, (64, 64)).state_dict().items() if not k.startswith("grids")}
    assert {k: v.shape for k, v in networks.items()} == expected
    assert all(torch.isfinite(v).all() for v in networks.values())
    assert shipped_start(Architecture(channels=1)) is None
    assert shipped_start(Architecture(channels=3, hidden=96)) is None
    assert shipped_start(Architecture(channels=3, first=0)) is None


def test_shipped_file_says_what_it_was_made_from():
    _, arrays = read_model_file(model_path(INR_START), MODELS[INR_START].sha256)
    made_from = json.loads(arrays["made_from"].tobytes())
    assert made_from["image"] in MODELS[INR_START].made_by and made_from["crop"] in MODELS[INR_START].made_by
    assert made_from["effort"] == "fast" and "kodim" not in made_from["image"]   # never Kodak


def test_a_fit_starts_from_the_networks_it_is_given():
    x = _image().transpose(2, 0, 1).astype(np.float32) / 255
    arch = Architecture(channels=3)
    given = shipped_start(arch)
    started = fit(x, 0.002, arch, steps=1, networks=given).networks
    random = fit(x, 0.002, arch, steps=1).networks
    key = "synthesis.mlp.0.weight"   # one Adam step moves each weight by at most the learning rate (0.02)
    assert (started[key] - given[key]).abs().max() <= 0.0201
    assert (random[key] - given[key]).abs().max() > 0.1


def test_shipped_and_random_starts_both_decode_and_differ():
    image = _image(seed=1)
    shipped = encode_image(image, "HWC", 50, steps=20)
    random = encode_image(image, "HWC", 50, steps=20, start="random")
    assert shipped != random
    for data in (shipped, random):
        assert codec.decode(data).shape == image.shape
    gray = encode_image(image[:, :, 0], "HW", 50, steps=5)   # no shipped networks: random start
    assert gray == encode_image(image[:, :, 0], "HW", 50, steps=5, start="random")
    with pytest.raises(ValueError, match="start must be"):
        encode_image(image, "HWC", 50, steps=2, start="warm")


def test_centre_crop_takes_the_middle_and_refuses_a_small_image():
    a = np.arange(10 * 12 * 3).reshape(10, 12, 3)
    assert np.array_equal(centre_crop(a, 4, 6), a[2:8, 4:8])
    with pytest.raises(ValueError, match="smaller than the crop 13x6"):
        centre_crop(a, 13, 6)


def test_fit_inr_start_writes_networks_that_fits_can_start_from(tmp_path):
    Image.fromarray(_image(80, 100)).save(tmp_path / "train.png")
    out = tmp_path / "start.npz"
    r = CliRunner().invoke(cli, ["fit-inr-start", str(tmp_path / "train.png"), "--crop", "64x64", "--quality", "30",
                                 "-o", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    assert "wrote" in r.output and "sha256" in r.output
    _, arrays = read_model_file(out)
    assert json.loads(arrays["made_from"].tobytes()) == dict(image="train.png", crop="64x64", quality=30, seed=0,
                                                              effort="fast")
    assert [int(v) for v in arrays["arch"]] == [6, 1, 48, 16, 3]
    networks = {k: torch.from_numpy(v) for k, v in arrays.items() if k not in ("arch", "made_from")}
    assert encode_image(_image(), "HWC", 50, steps=2, start=networks)   # loads into the fit's model
    assert {p.name for p in tmp_path.iterdir()} == {"train.png", "start.npz"}   # no temporary file left


@pytest.mark.parametrize("args, code, message", [
    (["{dir}/none.png"], 3, "no such image"),
    (["{dir}/text.png"], 3, "not a readable image"),
    (["{dir}/small.png"], 3, "smaller than the crop 768x512"),
    (["{dir}/small.png", "--crop", "64by64"], 3, "expected WIDTHxHEIGHT"),
    (["{dir}/small.png", "--crop", "32x64"], 3, "at least 64 pixels"),
    (["{dir}/small.png", "--crop", "64x64", "-o", "{dir}/no/start.npz"], 5, "does not exist"),
    (["{dir}/small.png", "--quality", "0"], 2, "quality"),
])
def test_fit_inr_start_refuses_bad_inputs_with_one_line(tmp_path, args, code, message):
    Image.fromarray(_image(70, 70)).save(tmp_path / "small.png")
    (tmp_path / "text.png").write_text("not an image")
    before = sorted(p.name for p in tmp_path.iterdir())
    args = [a.format(dir=tmp_path) for a in args]
    if "-o" not in args:
        args += ["-o", str(tmp_path / "start.npz")]
    r = CliRunner().invoke(cli, ["fit-inr-start"] + args)
    assert r.exit_code == code and message in r.output, r.output
    if code != 2:
        assert len(r.output.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == before
