"""The audio decoder ceiling check finds redundancy where there is some, and none in noise;
it and the context ceiling check write their reports."""

import json

import numpy as np
import pytest
import soundfile

from benchmarks import audio_context_ceiling, audio_decoder_ceiling as ceiling
from codec.modes.audio import quality_to_step
from codec.zoo import get_linear_model

N = ceiling.FRAMES


def _gain(signal, quality):
    model, step = get_linear_model("linear-v1"), quality_to_step(quality)
    segments = [signal[i * N:(i + 1) * N] for i in range(4)]
    return ceiling.ceiling(ceiling._pairs(segments[:3], step, model), ceiling._pairs(segments[3:], step, model))


def test_steady_tones_are_predictable_and_noise_is_not():
    t = np.arange(4 * N) / 44100
    tones = (8000 * np.sin(2 * np.pi * 1234.5 * t) + 3000 * np.sin(2 * np.pi * 5555 * t)).astype(np.float32)
    noise = np.random.default_rng(0).normal(0, 3000, 4 * N).astype(np.float32)
    assert _gain(tones, 20) > 0.5
    assert _gain(noise, 20) < 0.05


@pytest.mark.parametrize("module, value", [(ceiling, "gain_db"), (audio_context_ceiling, "saving_pct")])
def test_main_writes_a_row_per_quality(tmp_path, module, value):
    rng = np.random.default_rng(1)
    for name in ("a", "b", "c"):
        soundfile.write(tmp_path / f"{name}.flac", (rng.normal(0, 0.1, N + 100)).astype(np.float32), 44100,
                        subtype="PCM_16")
    out = tmp_path / "ceiling.json"
    module.main(["--data", str(tmp_path), "--segments", "2", "--out", str(out)])
    report = json.loads(out.read_text())
    assert report["held_out"] == "b.flac" and report["fit_files"] == ["a.flac"]
    assert [r["quality"] for r in report["rows"]] == list(module.QUALITIES)
    assert all(np.isfinite(r[value]) for r in report["rows"])


def test_too_few_files_are_refused(tmp_path):
    with pytest.raises(SystemExit, match="at least 3"):
        ceiling.split(str(tmp_path), 2)
