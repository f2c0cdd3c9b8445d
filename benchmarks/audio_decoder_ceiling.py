"""How much a decoder could add to the linear audio stream: a least-squares ceiling check.

Usage::

    python -m benchmarks.audio_decoder_ceiling [--data ../shared/data/audio/train/music] [--out FILE]

Why: a learned audio decoder (a network on the dequantised bands, as the learned image mode
has) is only worth shipping if the bands hold redundancy it can use. This fits, per band, the
least-squares linear estimate of each true coefficient from the dequantised ones around it
(+-1 band, +-2 positions in time) on training music, and reports the SNR it adds on held-out
music. Files sorted by name: the last is the audio benchmark's and is never read; the one
before it is the held-out file; the rest are fitted on. Segments of 2**16 frames, evenly spaced.
"""

import argparse
import json
from pathlib import Path

import numpy as np

from codec.train.audio import SEGMENT_FRAMES as FRAMES, bands_of, dequantised, segments_of

__all__ = ["QUALITIES", "FRAMES", "bands_of", "ceiling", "split", "main"]

QUALITIES = (20, 40, 60)
BANDS_AROUND, TIMES_AROUND = 1, 2


def _pairs(segments, step, model):
    """(true bands, dequantised bands) of each segment."""
    true = bands_of(segments)
    return list(zip(true, dequantised(true, step, model)))


def _neighbourhood(y_hat: np.ndarray) -> np.ndarray:
    """(bands, length, n): each coefficient's dequantised neighbours (zeros outside)."""
    k, t = y_hat.shape
    p = np.pad(y_hat, ((BANDS_AROUND, BANDS_AROUND), (TIMES_AROUND, TIMES_AROUND)))
    return np.stack([p[BANDS_AROUND + db:BANDS_AROUND + db + k, TIMES_AROUND + dt:TIMES_AROUND + dt + t]
                     for db in range(-BANDS_AROUND, BANDS_AROUND + 1)
                     for dt in range(-TIMES_AROUND, TIMES_AROUND + 1)], -1)


def ceiling(train, held_out) -> float:
    """dB the per-band least-squares estimate (fitted on ``train`` pairs) adds on ``held_out``."""
    x = np.concatenate([_neighbourhood(y_hat) for _, y_hat in train], 1).astype(np.float64)
    target = np.concatenate([y for y, _ in train], 1).astype(np.float64)
    weights = [np.linalg.lstsq(x[b], target[b], rcond=None)[0] for b in range(len(x))]
    plain = estimated = 0.0
    for y, y_hat in held_out:
        near = _neighbourhood(y_hat).astype(np.float64)
        guess = np.stack([near[b] @ weights[b] for b in range(len(near))])
        plain += float(np.sum((y - y_hat.astype(np.float64)) ** 2))
        estimated += float(np.sum((y - guess) ** 2))
    return 10 * np.log10(plain / estimated) if estimated > 0 else 0.0


def split(data: str, count: int):
    """(files fitted on, held-out file, their segments) of a folder of .flac files: the last file
    by name is the audio benchmark's and is never read, the one before it is held out."""
    files = sorted(Path(data).glob("*.flac"))
    if len(files) < 3:
        raise SystemExit(f"need at least 3 .flac files in {data} (fit, held out, reserved)")
    fit_files, held_file = files[:-2], files[-2]
    fit_segments = [s for f in fit_files for s in segments_of(f, count)]
    held_segments = segments_of(held_file, count)
    if not fit_segments or not held_segments:
        raise SystemExit(f"files must hold at least {FRAMES} frames")
    return fit_files, held_file, fit_segments, held_segments


def main(argv=None):
    from codec.modes.audio import quality_to_step
    from codec.zoo import get_linear_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/audio/train/music")
    parser.add_argument("--segments", type=int, default=12, help="segments per file")
    parser.add_argument("--out", default="benchmarks/results/audio/decoder_ceiling.json")
    args = parser.parse_args(argv)
    fit_files, held_file, fit_segments, held_segments = split(args.data, args.segments)
    model = get_linear_model("linear-v1")
    rows = []
    for q in QUALITIES:
        step = quality_to_step(q)
        gain = ceiling(_pairs(fit_segments, step, model), _pairs(held_segments, step, model))
        rows.append({"quality": q, "step": step, "gain_db": round(gain, 4)})
        print(f"quality {q}: least-squares estimate adds {gain:+.3f} dB on {held_file.name}")
    report = {"fit_files": [f.name for f in fit_files], "held_out": held_file.name, "frames": FRAMES,
              "segments_per_file": args.segments, "neighbourhood": [2 * BANDS_AROUND + 1, 2 * TIMES_AROUND + 1],
              "rows": rows}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
