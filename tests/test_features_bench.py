"""The split-CNN feature benchmark runs end to end (opt-in: about 30 s)."""

import json

import pytest


@pytest.mark.slow
def test_feature_benchmark_quick_run_writes_every_curve(tmp_path):
    pytest.importorskip("sklearn")
    from benchmarks.features import main

    assert main(["--quick", "--out", str(tmp_path)]) == 0
    res = json.loads((tmp_path / "results.json").read_text())
    assert {"uniform+ec", "wavecodec-klt", "fcm-lm", "jpeg", "webp", "webp-mosaic", "wavecodec-learned"} <= set(
        res["curves"])
    for curve in res["curves"].values():
        r = curve["results"]
        assert all(0 <= a <= 100 for a in r["top1_agreement"]) and all(b > 0 for b in r["bytes_per_sample"])
    assert (tmp_path / "summary.md").exists() and (tmp_path / "rd.png").exists()
