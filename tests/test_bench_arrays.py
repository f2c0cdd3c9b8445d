"""``wavecodec bench --kind array`` on a tiny synthetic 6-band array, per-band files, bad input."""

import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner

from benchmarks import arrays
from benchmarks.cli import bench


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


def test_array_bench_writes_sane_results(bands, tmp_path):
    out = tmp_path / "out"
    codecs = "wavecodec-array,jpeg2000-band,wavecodec-band"
    result = CliRunner().invoke(bench, ["--kind", "array", "--data", str(bands), "--codecs", codecs,
                                        "--reps", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "rd_psnr.png").read_bytes().startswith(b"\x89PNG")
    for name in codecs.split(","):
        res = json.loads((out / f"{name}.json").read_text())["results"]
        assert res["bits_per_sample"] == sorted(res["bits_per_sample"]), name
        assert all(0 < r < 16 for r in res["bits_per_sample"]) and all(15 < q <= 100 for q in res["psnr"]), name
        assert res["psnr"][-1] > res["psnr"][0], name
    rows = list(csv.DictReader((out / "per_array.csv").open()))
    assert {r["array"] for r in rows} == {"bands.npy"} and {r["size"] for r in rows} == {str(64 * 64 * 6)}
    summary = json.loads((out / "wavecodec-array.json").read_text())["summary"]
    assert summary["bd_rate"]["jpeg2000-band"] < 0  # the KLT across correlated bands pays
    text = (out / "summary.md").read_text()
    assert "| jpeg2000-band | +0.0% |" in text and "PSNR @1.0 bits/sample" in text and "encode MS/s" in text


def test_band_files_split_back():
    files = [b"", b"abc", bytes(300)]
    assert arrays._split(arrays._join(files)) == files


def test_bad_arrays_are_skipped_with_a_reason(tmp_path):
    np.save(tmp_path / "float.npy", np.zeros((8, 8, 3), np.float32))
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    result = CliRunner().invoke(bench, ["--kind", "array", "--data", str(tmp_path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 3 and "could be read" in result.output
    assert "skipping float.npy: need an HxWxC uint8 array, got float32 (8, 8, 3)" in result.output


def test_module_entry_point_is_the_array_bench(bands, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        arrays.main(["--data", str(bands), "--codecs", "jpeg2000-band", "--reps", "1", "--out", str(tmp_path / "o")])
    assert exit_.value.code == 0
    assert "Regenerate: `python -m benchmarks.arrays --data" in (tmp_path / "o" / "summary.md").read_text()
    missing = tmp_path / "nope.npy"
    with pytest.raises(SystemExit) as exit_:
        arrays.main(["--data", str(missing)])
    assert exit_.value.code == 3 and str(missing) in capsys.readouterr().err
