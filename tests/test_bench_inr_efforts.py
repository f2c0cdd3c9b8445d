"""benchmarks.inr_efforts: one record per fit, with a fixed step count, a crop, the full-size grid or HEIC when asked."""

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from benchmarks.inr_efforts import bd_lines, main


def test_fixed_step_count_records_rate_quality_device_and_threads(tmp_path):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (32, 48, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    out = tmp_path / "efforts.json"
    main(["a.png", "--data", str(tmp_path), "--steps", "6", "--qualities", "50", "--out", str(out)])
    (record,) = json.loads(out.read_text())
    assert record["effort"] == "6 steps" and record["quality"] == 50
    assert record["device"] == ("cuda" if torch.cuda.is_available() else "cpu")
    assert record["threads"] == torch.get_num_threads()
    assert record["bpp"] > 0 and 0 < record["psnr-rgb"] < 100


def test_crop_full_grid_and_heic_records_and_bd_lines(tmp_path, capsys):
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    out = tmp_path / "efforts.json"
    main(["a.png", "--data", str(tmp_path), "--steps", "4", "--qualities", "30", "70", "--crop", "48x32",
          "--full-grid", "--heic", "--out", str(out)])
    records = json.loads(out.read_text())
    heic = [r for r in records if r["effort"] == "heic"]
    inr = [r for r in records if r["effort"] == "4 steps"]
    assert len(heic) >= 4 and len(inr) == 2
    assert all(r["crop"] == "48x32" for r in records)
    assert all(r["grids_from"] == "1/1" for r in inr)
    assert "a.png 4 steps, grids from 1/1: BD-rate vs HEIC" in capsys.readouterr().out
    # A later run on the same pixels is compared with the HEIC records already in the file.
    main(["a.png", "--data", str(tmp_path), "--steps", "4", "--qualities", "30", "70", "--crop", "48x32",
          "--out", str(out)])
    printed = capsys.readouterr().out
    assert "a.png 4 steps, grids from 1/2: BD-rate vs HEIC" in printed
    assert "a.png 4 steps, grids from 1/1: BD-rate vs HEIC" in printed


def test_bd_lines_against_heic_per_image_and_curve():
    def rec(effort, bpp, q, grids=None):
        return {"image": "x.png", "effort": effort, "bpp": bpp, "psnr-rgb": q, "grids_from": grids}

    def quality(bpp):  # 6 dB per doubling of the rate, HEIC's curve
        return 30 + 6 * math.log2(bpp)

    heic = [rec("heic", b, quality(b)) for b in (0.2, 0.5, 1.0, 1.6)]
    same = [rec("fast", b, quality(b), "1/2") for b in (0.3, 0.6, 1.2)]
    double = [rec("fast", 2 * b, quality(b), "1/1") for b in (0.2, 0.4, 0.7)]
    lines = bd_lines(heic + same + double)
    assert [line.split(": ")[0] for line in lines] == ["x.png fast, grids from 1/2", "x.png fast, grids from 1/1"]
    assert [float(line.split("HEIC ")[1].rstrip("%")) for line in lines] == pytest.approx([0, 100], abs=0.5)
    assert bd_lines(same) == []   # no HEIC records: nothing to compare with
    other_pixels = [dict(r, crop="48x32") for r in heic]
    assert bd_lines(other_pixels + same) == []   # HEIC of another crop is not an anchor


def test_bad_crops_are_refused(tmp_path):
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(tmp_path / "a.png")
    with pytest.raises(SystemExit, match="a.png is 30x20, smaller than the crop 40x10"):
        main(["a.png", "--data", str(tmp_path), "--steps", "2", "--crop", "40x10", "--out", str(tmp_path / "o.json")])
    for bad in ("40", "axb", "0x10"):
        with pytest.raises(SystemExit) as caught:
            main(["a.png", "--data", str(tmp_path), "--crop", bad, "--out", str(tmp_path / "o.json")])
        assert caught.value.code == 2
    assert not (tmp_path / "o.json").exists()


def test_heic_without_its_encoder_is_refused_before_any_fit(tmp_path, monkeypatch):
    from benchmarks.pillow_codecs import Heic

    monkeypatch.setattr(Heic, "available", lambda self: "pillow-heif was built without the x265 encoder")
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(tmp_path / "a.png")
    with pytest.raises(SystemExit, match="--heic: pillow-heif was built without the x265 encoder"):
        main(["a.png", "--data", str(tmp_path), "--steps", "2", "--heic", "--out", str(tmp_path / "o.json")])
    assert not (tmp_path / "o.json").exists()
