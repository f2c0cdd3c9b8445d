"""benchmarks.context_gain: sizes of both modes on the validation split, and its report."""

import numpy as np
from PIL import Image

from benchmarks import context_gain


def test_measure_and_report_on_a_tiny_folder(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(3):
        smooth = np.cumsum(rng.normal(0, 3, (64, 96, 3)), axis=0) + 128
        Image.fromarray(np.clip(smooth, 0, 255).astype(np.uint8)).save(tmp_path / f"{i}.png")
    rows = context_gain.measure(tmp_path, qualities=(30, 60))
    assert [r["image"] for r in rows] == ["0.png", "0.png"]  # only the validation file (every 16th)
    assert all(r["linear_bytes"] > 0 and r["learned_bytes"] > 0 for r in rows)
    text = context_gain.report(rows, tmp_path)
    assert text.count("\n| 30 |") == 1 and text.count("\n| 60 |") == 1
    assert "1 validation images" in text
