"""Rate, SNR and speed of the linear audio mode on 30 s music excerpts.

Usage::

    python -m benchmarks.audio_linear [--data ../shared/data/audio/train/music] [--out FILE]

The excerpts are 30 s from 60 s into each of the first two files (sorted by name); SNR is
over the whole excerpt; speeds are the median of 3 runs, in multiples of real time.
"""

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

QUALITIES = (10, 20, 30, 40, 50, 70)


def _timed(fn, reps: int):
    times, result = [], None
    for _ in range(reps):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main(argv=None):
    import codec
    from codec.io.audio import read_audio

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/audio/train/music")
    parser.add_argument("--out", default="benchmarks/results/audio_linear.md")
    args = parser.parse_args(argv)
    files = sorted(Path(args.data).glob("*.flac"))[:2]
    if not files:
        raise SystemExit(f"no .flac files in {args.data}")
    lines = ["# Linear audio mode on music", "",
             "Regenerate: `python -m benchmarks.audio_linear`. 30 s excerpts (from 60 s), mono 16-bit "
             "44.1 kHz; speed = median of 3, multiples of real time, this 2-core CPU.", "",
             "| excerpt | quality | kb/s | SNR dB | encode x RT | decode x RT |", "|---|---|---|---|---|---|"]
    for path in files:
        samples, rate, _ = read_audio(path.read_bytes(), path.name)
        x = samples[60 * rate:90 * rate]
        seconds = len(x) / rate
        for q in QUALITIES:
            t_enc, data = _timed(lambda: codec.encode_audio(x, rate, quality=q), 3)
            t_dec, y = _timed(lambda: codec.decode(data), 3)
            noise = np.sum((y.astype(np.float64) - x) ** 2)
            snr = 10 * np.log10(np.sum(x.astype(np.float64) ** 2) / max(noise, 1e-12))
            lines.append(f"| {path.stem} | {q} | {len(data) * 8 / seconds / 1000:.1f} | {snr:.1f} | "
                         f"{seconds / t_enc:.0f} | {seconds / t_dec:.0f} |")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
