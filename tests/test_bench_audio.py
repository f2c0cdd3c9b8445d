"""The audio rate-distortion benchmark on two short synthetic clips (fast), and its missing-data exit."""

import json

import numpy as np
import pytest

sf = pytest.importorskip("soundfile")

from benchmarks import audio  # noqa: E402


def _clip(rate: int, seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(rate * seconds)) / rate
    x = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.15 * np.sin(2 * np.pi * 1250 * t) + 0.02 * rng.standard_normal(t.size)
    return np.round(x * 32767).astype(np.int16)


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    root = tmp_path_factory.mktemp("audio")
    (root / "samples").mkdir()
    (root / "speech").mkdir()
    sf.write(root / "samples" / "tones.flac", _clip(48000, 3.0, 0), 48000, subtype="PCM_16")
    sf.write(root / "speech" / "tones44.flac", _clip(44100, 3.0, 1), 44100, subtype="PCM_16")  # Opus resample path
    sf.write(root / "speech" / "too_short.flac", _clip(48000, 0.5, 2), 48000, subtype="PCM_16")  # below 1 s: skipped
    out = root / "out"
    assert audio.main(["--data", str(root), "--out", str(out), "--quick"]) == 0
    return out


def test_outputs_exist(bench):
    for name in ("summary.md", "results.json", "rd_snr.png"):
        assert (bench / name).stat().st_size > 0
    assert not list(bench.glob(".*.tmp"))  # atomic writes leave no temporaries
    assert (bench / "rd_snr.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_numbers_are_sane(bench):
    doc = json.loads((bench / "results.json").read_text())
    assert [c["name"] for c in doc["clips"]] == ["samples/tones", "speech/tones44"]
    assert doc["provenance"]["libsndfile"] and doc["provenance"]["command"].startswith("python -m benchmarks.audio")
    for name in ("wavecodec-linear", "opus"):
        curve = doc["curves"][name]
        rates = [r["kbps"] for r in curve]
        assert rates == sorted(rates) and all(0 < r < 1000 for r in rates)
        assert all(np.isfinite(r["snr_db"]) and -5 < r["snr_db"] < 120 for r in curve)
        assert curve[-1]["snr_db"] > curve[0]["snr_db"]  # more bits, less error
    # a tone at a decent rate is reconstructed well; misalignment would wreck Opus's SNR
    assert doc["curves"]["wavecodec-linear"][-1]["snr_db"] > 20
    assert max(r["snr_db"] for r in doc["curves"]["opus"]) > 10
    assert all(abs(p["lag"]) < 48 for p in doc["points"]["opus"])
    assert all(f["lossless"] and 0 < f["kbps"] < 48 * 16 for f in doc["flac"])
    assert [c["clip"] for c in doc["opus_resample_ceiling"]] == ["speech/tones44"]
    text = (bench / "summary.md").read_text()
    assert "reserved for evaluation" in text and "64 kb/s" in text and "Opus optimises perceived quality" in text


def test_align_finds_a_known_delay():
    rng = np.random.default_rng(3)
    x = rng.standard_normal(8000)
    y = np.concatenate((np.zeros(312), x, np.zeros(50)))
    aligned, lag = audio.align(x, y, 16000)
    assert lag == 312 and np.allclose(aligned, x)
    assert audio.snr_db(x, aligned) == float("inf")


def test_missing_data_folder_exits_3(tmp_path, capsys):
    assert audio.main(["--data", str(tmp_path / "nope"), "--out", str(tmp_path / "out")]) == 3
    assert "not found" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_module_entry_point_exit_code(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(audio.__file__).resolve().parent.parent
    proc = subprocess.run([sys.executable, "-m", "benchmarks.audio", "--data", str(tmp_path / "nope")],
                          capture_output=True, text=True, timeout=60, cwd=root)
    assert proc.returncode == 3 and proc.stderr.strip().count("\n") == 0
