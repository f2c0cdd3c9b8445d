"""The N-channel array benchmark end to end on a tiny synthetic 6-band array, and on a missing file."""

import json

import numpy as np
import pytest

from benchmarks.arrays import main


@pytest.fixture
def bands(tmp_path):
    """64x64x6 smooth random bands, correlated across bands the way spectral bands are."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:64, 0:64] / 64.0
    base = np.sin(6 * x + 3 * y) + np.cos(5 * y - 2 * x) + 0.2 * rng.normal(size=(64, 64))
    stack = [90 + 40 * base * (0.6 + 0.1 * c) + 15 * c + 3 * rng.normal(size=(64, 64)) for c in range(6)]
    path = tmp_path / "bands.npy"
    np.save(path, np.clip(np.stack(stack, axis=-1), 0, 255).astype(np.uint8))
    return path


def test_quick_run_writes_sane_results(bands, tmp_path):
    out = tmp_path / "out"
    assert main(["--data", str(bands), "--out", str(out), "--quick", "--qualities", "40,60,80"]) == 0
    assert (out / "rd.png").read_bytes().startswith(b"\x89PNG")
    report = json.loads((out / "results.json").read_text())
    assert report["provenance"]["shape"] == [64, 64, 6]
    assert report["provenance"]["versions"]["numpy"] == np.__version__
    wave = report["codecs"]["wavecodec"]["points"]
    assert [p["setting"] for p in wave] == [40, 60, 80]
    for name, codec in report["codecs"].items():
        rates = [p["bits_per_sample"] for p in codec["points"]]
        psnrs = [p["psnr"] for p in codec["points"]]
        assert rates == sorted(rates) and all(0 < r < 16 for r in rates), name
        assert all(15 < q <= 100 for q in psnrs), name
    assert wave[-1]["psnr"] > wave[0]["psnr"]
    summary = (out / "summary.md").read_text()
    assert "| wavecodec:" in summary and "--quick" in summary and "anchor" in summary


def test_missing_file_exits_3_with_one_line(tmp_path, capsys):
    missing = tmp_path / "nope.npy"
    assert main(["--data", str(missing), "--out", str(tmp_path / "out")]) == 3
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(missing) in err
    assert not (tmp_path / "out").exists()
