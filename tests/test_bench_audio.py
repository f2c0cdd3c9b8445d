"""``wavecodec bench --kind audio`` on two short synthetic clips (fast), alignment, and bad input."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

sf = pytest.importorskip("soundfile")
pytest.importorskip("scipy")

from benchmarks import audio  # noqa: E402
from benchmarks.cli import bench  # noqa: E402


def _clip(rate: int, seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(rate * seconds)) / rate
    x = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.15 * np.sin(2 * np.pi * 1250 * t) + 0.02 * rng.standard_normal(t.size)
    return np.round(x * 32767).astype(np.int16)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("audio")
    (root / "samples").mkdir()
    (root / "speech").mkdir()
    sf.write(root / "samples" / "tones.flac", _clip(48000, 1.5, 0), 48000, subtype="PCM_16")
    sf.write(root / "speech" / "tones44.flac", _clip(44100, 1.5, 1), 44100, subtype="PCM_16")  # Opus resamples
    sf.write(root / "speech" / "too_short.flac", _clip(48000, 0.5, 2), 48000, subtype="PCM_16")  # below 1 s
    return root


@pytest.fixture(scope="module")
def out(clips):
    out = clips / "out"
    result = CliRunner().invoke(bench, ["--kind", "audio", "--data", str(clips), "--reps", "1", "--out", str(out),
                                        "--codecs", "wavecodec-audio,opus,flac"])
    assert result.exit_code == 0, result.output
    return out


def _results(out, name):
    return json.loads((out / f"{name}.json").read_text())["results"]


def test_held_out_clips_and_files(out):
    rows = list(csv.DictReader((out / "per_audio.csv").open()))
    assert {r["audio"] for r in rows} == {"samples/tones", "speech/tones44"}  # the 0.5 s clip is not held out
    for name in ("summary.md", "rd_snr.png", "rd_si-sdr.png", "speed_vs_bdrate.png"):
        assert (out / name).stat().st_size > 0
    assert (out / "rd_snr.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.glob(".*.tmp"))


def test_rates_and_snrs_are_sane(out):
    for name in ("wavecodec-audio", "opus"):
        res = _results(out, name)
        assert res["kbps"] == sorted(res["kbps"]) and all(0 < r < 1000 for r in res["kbps"])
        assert all(-5 < v < 100 for v in res["snr"] + res["si-sdr"])
        assert res["snr"][-1] > res["snr"][0]  # more bits, less error
    assert _results(out, "wavecodec-audio")["snr"][-1] > 20  # a tone at a decent rate is reconstructed well
    assert max(_results(out, "opus")["snr"]) > 10  # misalignment or a bad resample would wreck this
    lags = [json.loads(p.read_text())["lag"] for p in (out / "cache" / "opus").glob("q*/*/*.json")]
    lags += [json.loads(p.read_text())["lag"] for p in (out / "cache" / "opus").glob("q*/*.json")]
    assert lags and all(abs(lag) < 48 for lag in lags)
    flac = _results(out, "flac")
    assert flac["quality"] == ["lossless"] and flac["snr"] == [100.0] and 0 < flac["kbps"][0] < 48 * 16
    assert json.loads((out / "opus.json").read_text())["speed"]["encode_x_realtime"][0] > 0


def test_summary_names_the_audio_metrics(out):
    text = (out / "summary.md").read_text()
    assert "| codec | BD-rate vs opus | BD-rate vs mp3 | SNR @32 kb/s" in text
    assert "SI-SDR @64 kb/s" in text and "encode x real time" in text
    assert "BD-rate over 16–128 kb/s" in text and "One rate point: flac" in text and "reserved for evaluation" in text
    assert "| opus | +0.0% |" in text and "--kind audio" in text


def test_align_finds_a_known_delay():
    rng = np.random.default_rng(3)
    x = rng.standard_normal(8000)
    y = np.concatenate((np.zeros(312), x, np.zeros(50)))
    aligned, lag = audio.align(x, y, 16000)
    assert lag == 312 and np.allclose(aligned, x)
    assert audio.snr_db(x, aligned) == float("inf")


def test_measure_resamples_a_decoder_at_another_rate():
    x = _clip(44100, 1.0, 4)[:, None]
    kind = audio.AudioKind()
    sample = audio.Sample("c", audio.Audio(x, 44100), "d", len(x) * 1000 / 44100)
    from scipy.signal import resample_poly

    at48 = resample_poly(x[:, 0] / 32768.0, 160, 147)[:, None]
    row = kind.measure(sample, audio.Audio(at48, 48000), 1000)
    assert row["snr"] > 30 and row["lag"] == 0 and row["kbps"] == pytest.approx(8.0)


def test_missing_data_and_wrong_kind_codec(tmp_path):
    result = CliRunner().invoke(bench, ["--kind", "audio", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 3 and "not found" in result.output
    assert not (tmp_path / "o").exists()
    result = CliRunner().invoke(bench, ["--kind", "audio", "--codecs", "jpeg", "--data", str(tmp_path)])
    assert result.exit_code == 2 and "does not code audio signals" in result.output


def test_module_entry_point_is_the_audio_bench(tmp_path):
    root = Path(audio.__file__).resolve().parent.parent
    proc = subprocess.run([sys.executable, "-m", "benchmarks.audio", "--data", str(tmp_path / "nope")],
                          capture_output=True, text=True, timeout=60, cwd=root)
    assert proc.returncode == 3 and proc.stderr.strip().count("\n") == 0 and "audio data folder" in proc.stderr
