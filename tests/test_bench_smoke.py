"""The bench command end to end on tiny images, and its behaviour on bad input, failures and resume."""

import csv
import json
import zlib

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from benchmarks.adapter import Adapter
from benchmarks.cli import bench
from benchmarks.registry import REGISTRY

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def images(tmp_path):
    """Two 64x48 images with edges, gradients and noise, so codecs have something to do."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:48, 0:64]
    for i in range(2):
        base = np.stack([x * 4, y * 5, (x + y) * 2 + 60 * (x > 32 - 8 * i)], axis=-1)
        image = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
        Image.fromarray(image).save(folder / f"img{i}.png")
    return folder


def run(*args):
    result = CliRunner().invoke(bench, [str(a) for a in args])
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.output
    return result


class Quantiser(Adapter):
    """A fake codec: uniform quantisation + zlib, counting every encode it does."""

    kind = "image"
    qualities = (1, 2, 3)
    description = "test quantiser"

    def __init__(self, name, reason=None, fail_on_decode=False, interrupt_after=None):
        self.name, self.reason = name, reason
        self.fail_on_decode, self.interrupt_after = fail_on_decode, interrupt_after
        self.encodes = 0

    def available(self):
        return self.reason

    def version(self):
        return "1"

    def encode(self, signal, quality):
        if self.interrupt_after is not None and self.encodes >= self.interrupt_after:
            raise KeyboardInterrupt
        self.encodes += 1
        step = 2 ** (6 - 2 * quality)
        header = np.array(signal.shape + (step,), dtype="<u2").tobytes()
        return header + zlib.compress((signal // step).astype(np.uint8).tobytes())

    def decode(self, data):
        if self.fail_on_decode:
            raise RuntimeError("decoder exploded")
        h, w, c, step = np.frombuffer(data[:8], dtype="<u2")
        q = np.frombuffer(zlib.decompress(data[8:]), dtype=np.uint8).reshape(h, w, c)
        return (q.astype(np.int32) * step + step // 2).clip(0, 255).astype(np.uint8)


@pytest.fixture
def fake(monkeypatch):
    def register(adapter):
        monkeypatch.setitem(REGISTRY, adapter.name, adapter)
        return adapter

    return register


def test_end_to_end_with_jpeg_and_webp(images, tmp_path):
    out = tmp_path / "out"
    result = run("--data", images, "--codecs", "jpeg,webp", "--reps", 1, "--out", out)
    assert result.exit_code == 0, result.output
    for name in ("jpeg", "webp"):
        doc = json.loads((out / f"{name}.json").read_text())
        res = doc["results"]
        assert doc["name"] == name and len(res["bpp"]) >= 2
        assert all(b > 0 for b in res["bpp"]) and res["bpp"] == sorted(res["bpp"])
        assert all(15 < p < 70 for p in res["psnr-rgb"])
        assert len(res["encoding_time"]) == len(res["bpp"]) == len(doc["speed"]["encode_mps"])
        prov = doc["provenance"]
        assert prov["machine"]["cores"] >= 1 and prov["threads"] >= 1
        assert prov["versions"]["pillow"] and "--codecs jpeg,webp" in prov["command"]
    rows = list(csv.DictReader((out / "per_image.csv").open()))
    assert {r["image"] for r in rows} == {"img0.png", "img1.png"}
    assert len(rows) == 2 * (len(REGISTRY["jpeg"].qualities) + len(REGISTRY["webp"].qualities))
    summary = (out / "summary.md").read_text()
    assert "| jpeg | +0.0% |" in summary and "| webp |" in summary
    for plot in ("rd_psnr.png", "rd_msssim.png", "speed_vs_bdrate.png"):
        assert (out / plot).read_bytes().startswith(PNG_MAGIC)
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*"))


def test_parallel_workers_give_the_same_numbers(images, tmp_path):
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    assert run("--data", images, "--codecs", "jpeg", "--reps", 1, "--out", serial).exit_code == 0
    assert run("--data", images, "--codecs", "jpeg", "--reps", 1, "--workers", 2, "--out", parallel).exit_code == 0
    a, b = (json.loads((d / "jpeg.json").read_text())["results"] for d in (serial, parallel))
    assert a["bpp"] == b["bpp"] and a["psnr-rgb"] == b["psnr-rgb"]


def test_empty_folder_is_a_clear_error(tmp_path):
    result = run("--data", tmp_path, "--codecs", "jpeg", "--out", tmp_path / "out")
    assert result.exit_code == 3
    assert "no image files in" in result.output and "Traceback" not in result.output


def test_unknown_codec_is_a_usage_error(images, tmp_path):
    result = run("--data", images, "--codecs", "jpeg,nope", "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert "unknown codec nope" in result.output


def test_unavailable_codec_is_skipped_with_its_reason(images, tmp_path, fake):
    fake(Quantiser("missing", reason="fakelib not installed"))
    fake(Quantiser("quant"))
    result = run("--data", images, "--codecs", "quant,missing", "--reps", 1, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "skipping missing: fakelib not installed" in result.output
    assert not (tmp_path / "out" / "missing.json").exists()
    assert "fakelib not installed" in (tmp_path / "out" / "summary.md").read_text()


def test_no_runnable_codec_stops_cleanly(images, tmp_path, fake):
    fake(Quantiser("missing", reason="fakelib not installed"))
    result = run("--data", images, "--codecs", "missing", "--out", tmp_path / "out")
    assert result.exit_code == 3 and "no codec can run here" in result.output


def test_unreadable_image_is_skipped(images, tmp_path, fake):
    (images / "broken.png").write_bytes(b"this is not a png")
    fake(Quantiser("quant"))
    result = run("--data", images, "--codecs", "quant", "--reps", 1, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "skipping broken.png: cannot read image" in result.output
    rows = list(csv.DictReader((tmp_path / "out" / "per_image.csv").open()))
    assert {r["image"] for r in rows} == {"img0.png", "img1.png"}


def test_folder_of_unreadable_images_is_a_clear_error(tmp_path):
    (tmp_path / "a.png").write_bytes(b"garbage")
    result = run("--data", tmp_path, "--codecs", "jpeg", "--out", tmp_path / "out")
    assert result.exit_code == 3 and "could be read" in result.output


def test_failing_codec_is_dropped_and_the_rest_reported(images, tmp_path, fake):
    fake(Quantiser("broken", fail_on_decode=True))
    fake(Quantiser("quant"))
    out = tmp_path / "out"
    result = run("--data", images, "--codecs", "broken,quant", "--anchor", "quant", "--reps", 1, "--out", out)
    assert result.exit_code == 0, result.output
    assert "dropping broken: img0.png at quality 1: RuntimeError: decoder exploded" in result.output
    assert (out / "quant.json").exists() and not (out / "broken.json").exists()


def test_interrupted_run_resumes_from_the_cache(images, tmp_path, fake):
    out = tmp_path / "out"
    flaky = fake(Quantiser("quant", interrupt_after=4))
    result = run("--data", images, "--codecs", "quant", "--reps", 2, "--out", out)
    assert result.exit_code == 130 and "run the same command again to resume" in result.output
    assert not (out / "summary.md").exists() and not (out / "quant.json").exists()

    steady = fake(Quantiser("quant"))
    assert run("--data", images, "--codecs", "quant", "--reps", 2, "--out", out).exit_code == 0
    rd_points = 2 * len(steady.qualities)
    speed_encodes = 1 + 2 * len(steady.qualities)  # one warm-up, then reps per quality
    assert steady.encodes == rd_points - flaky.encodes + speed_encodes

    again = fake(Quantiser("quant"))
    result = run("--data", images, "--codecs", "quant", "--reps", 2, "--out", out)
    assert result.exit_code == 0 and again.encodes == 0
    assert "0 points measured, 6 taken from" in result.output


def test_list_shows_every_codec_and_why_it_cannot_run(fake):
    fake(Quantiser("missing", reason="fakelib not installed"))
    result = run("--list")
    assert result.exit_code == 0
    assert "jpeg" in result.output and "unavailable: fakelib not installed" in result.output


def test_without_kodak_the_bundled_samples_are_used_and_said_so(tmp_path, monkeypatch):
    from benchmarks.registry import KINDS

    monkeypatch.setattr(KINDS["image"], "kodak", tmp_path / "no-kodak-here")
    result = run("--codecs", "jpeg", "--reps", 1, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "not found, using the bundled samples" in result.output
    assert "kodim23.png" in (tmp_path / "out" / "per_image.csv").read_text()


def test_opt_in_codecs_run_only_when_named(fake):
    from benchmarks.registry import select

    slow = Quantiser("slow")
    slow.opt_in = True
    fake(slow)
    fake(Quantiser("quick"))
    default = {a.name for a in select(None, "image")[0]}
    assert "quick" in default and "slow" not in default
    assert not {"wavecodec-inr", "wavecodec-inr-medium", "wavecodec-inr-slow"} & default
    assert [a.name for a in select(["slow"], "image")[0]] == ["slow"]
    listing = run("--list").output.splitlines()
    assert "opt-in" in next(line for line in listing if line.startswith("slow "))
    assert "opt-in" not in next(line for line in listing if line.startswith("quick "))


def test_limit_measures_every_codec_on_the_first_n_images(images, tmp_path, fake):
    rng = np.random.default_rng(2)  # a third, noisier image sorts last: the one --limit 2 leaves out
    Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(images / "img2.png")
    fake(Quantiser("quant"))
    fake(Quantiser("anchor"))
    out = tmp_path / "out"
    assert run("--data", images, "--codecs", "quant,anchor", "--anchor", "anchor", "--reps", 1, "--out", out).exit_code == 0
    full = list(csv.DictReader((out / "per_image.csv").open()))

    result = run("--data", images, "--codecs", "quant,anchor", "--anchor", "anchor", "--reps", 1, "--limit", 2,
                 "--out", out)  # the same folder: img2's cached rows must stay out of the curves
    assert result.exit_code == 0, result.output
    assert "0 points measured" in result.output
    rows = list(csv.DictReader((out / "per_image.csv").open()))
    assert {r["image"] for r in rows} == {"img0.png", "img1.png"}
    doc = json.loads((out / "anchor.json").read_text())
    for quality, bpp in zip(doc["results"]["quality"], doc["results"]["bpp"]):
        first_two = [float(r["bpp"]) for r in full if r["codec"] == "anchor" and r["quality"] == str(quality)
                     and r["image"] != "img2.png"]
        assert bpp == pytest.approx(sum(first_two) / 2)
    assert doc["provenance"]["limit"] == 2 and "--limit 2" in doc["provenance"]["command"]
    summary = (out / "summary.md").read_text()
    assert summary.count("--limit 2") >= 2 and "the first 2 of 3 images" in summary  # command and note


def test_limit_must_be_positive(images, tmp_path):
    result = run("--data", images, "--codecs", "jpeg", "--limit", 0, "--out", tmp_path / "out")
    assert result.exit_code == 2 and "--limit" in result.output
