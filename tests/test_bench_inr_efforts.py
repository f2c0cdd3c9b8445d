"""benchmarks.inr_efforts: one record per fit, with a fixed step count when asked."""

import json

import numpy as np
import torch
from PIL import Image

from benchmarks.inr_efforts import main


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
