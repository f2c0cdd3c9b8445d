"""How many bits a fitted context model could save on the linear audio stream.

Usage::

    python -m benchmarks.audio_context_ceiling [--data ../shared/data/audio/train/music] [--out FILE]

Why: the decoder ceiling check (``benchmarks.audio_decoder_ceiling``) found no redundancy a
decoder could use, so a learned audio mode would have to gain in the rate, as the learned
image mode's context model does. This measures that gain before anyone builds it: the
quantised bands of each window are laid out as a plane (bands in frequency order x time) and
split in two checkerboard passes, as the image context model does. Every coefficient keeps the
linear mode's (band, segment) table, moved by a shift fitted per cell on training music: one
cell for the first pass, and for the second the activity level of its four neighbours (time
+-1, frequency +-1, all first-pass). The saving is the ideal code length (the real integer
tables' bits) against the linear mode's, as a share of the linear mode's real window bytes.
Files sorted by name: the last is the audio benchmark's and is never read; the one before it
is held out; the rest are fitted on (the decoder ceiling check's split).
"""

import argparse
import json
from pathlib import Path

import numpy as np

from benchmarks.audio_decoder_ceiling import FRAMES, bands_of, split

QUALITIES = (20, 40, 60)
LEVELS = 16          # activity levels of the second pass (codec.modes.contexts' half-octave bins)
MAX_SHIFT = 8


def frequency_order(bands: int) -> np.ndarray:
    """Natural packet indices in frequency order: a highpass split reverses the spectrum, so
    the band at frequency rank k is the Gray code of k."""
    k = np.arange(bands)
    return k ^ (k >> 1)


def _cells(q: np.ndarray, tables: np.ndarray, model) -> np.ndarray:
    """Cell of each coefficient of a (bands, time) plane in frequency order: 0 for the first
    checkerboard pass, 1 + the neighbours' activity level for the second."""
    from codec.modes.contexts import _cross4, _level

    first = (np.arange(q.shape[0])[:, None] + np.arange(q.shape[1])[None]) % 2 == 0
    weight = model.context_weight[np.maximum(tables, 0)]
    magnitude = np.where(first & (tables >= 0), np.minimum(np.abs(q), 15) * weight, 0)
    count = 64 * _cross4(first.astype(np.int64))
    return np.where(first, 0, 1 + _level(_cross4(magnitude.astype(np.int64)), count))


def _window(y: np.ndarray, step: float, model):
    """(q, table per coefficient or -1 where its segment is all zero, real bytes) of one window."""
    from codec.modes.audio import SEGMENT, _segment_choices, encode_window
    from codec.modes.linear import quantise

    q = quantise(y, step)
    tables = np.repeat(_segment_choices(q, SEGMENT, model), SEGMENT, axis=1)[:, :q.shape[1]] - 1
    order = frequency_order(len(y))
    return q[order], tables[order], len(encode_window(y, step, SEGMENT, model))


def _histograms(windows, model) -> np.ndarray:
    """Counts (cells, tables, |q| up to 64) over the coded coefficients of the windows."""
    from codec.modes.linear_model import N_TABLES

    hist = np.zeros((LEVELS + 1, N_TABLES, 65), np.int64)  # cell 0: first pass; 1 + level
    for q, tables, _ in windows:
        used = tables >= 0
        cells = _cells(q, tables, model)[used]
        np.add.at(hist, (cells, tables[used], np.minimum(np.abs(q[used]), 64)), 1)
    return hist


def _bits(hist: np.ndarray, shifts: np.ndarray, cost: np.ndarray) -> float:
    """Ideal bits of the counted coefficients with every cell's tables moved by its shift."""
    n_tables = cost.shape[0]
    moved = np.clip(np.arange(n_tables)[None] + shifts[:, None], 0, n_tables - 1)   # (cells, tables)
    return float(np.sum(hist * cost[moved]))


def fit_shifts(hist: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Per cell, the shift that codes its counted coefficients in the fewest bits."""
    shifts = np.zeros(len(hist), np.int64)
    for cell in range(len(hist)):
        one = hist[cell:cell + 1]
        bits = [_bits(one, np.array([s]), cost) for s in range(-MAX_SHIFT, MAX_SHIFT + 1)]
        shifts[cell] = int(np.argmin(bits)) - MAX_SHIFT
    return shifts


def _shares(windows, hist, shifts, cost) -> tuple[float, float]:
    """(% of the windows' real bits the shifts save, share of those bits the coefficients take)."""
    real = 8.0 * sum(size for _, _, size in windows)
    plain, fitted = _bits(hist, np.zeros(len(hist), np.int64), cost), _bits(hist, shifts, cost)
    return 100 * (plain - fitted) / real, plain / real


def saving(fit_bands, held_bands, step: float, model) -> dict:
    """Share of the real bytes the fitted shifts would save: on the held-out windows, and on
    the windows they were fitted on (an upper bound: the fit sees its own symbols)."""
    from codec.modes.linear import cost_matrix

    cost = cost_matrix(model)
    fit = [_window(y, step, model) for y in fit_bands]
    fit_hist = _histograms(fit, model)
    shifts = fit_shifts(fit_hist, cost)
    held = [_window(y, step, model) for y in held_bands]
    held_saving, coefficient_share = _shares(held, _histograms(held, model), shifts, cost)
    return {"saving_pct": round(held_saving, 2),
            "fit_saving_pct": round(_shares(fit, fit_hist, shifts, cost)[0], 2),
            "coefficient_bits_share": round(coefficient_share, 3),
            "shifts": shifts.tolist()}


def main(argv=None):
    from codec.modes.audio import quality_to_step
    from codec.zoo import get_linear_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/audio/train/music")
    parser.add_argument("--segments", type=int, default=12, help="segments per file")
    parser.add_argument("--out", default="benchmarks/results/audio/context_ceiling.json")
    args = parser.parse_args(argv)
    fit_files, held_file, fit_segments, held_segments = split(args.data, args.segments)
    model = get_linear_model("linear-v1")
    fit_bands, held_bands = bands_of(fit_segments), bands_of(held_segments)
    rows = []
    for q in QUALITIES:
        step = quality_to_step(q)
        row = {"quality": q, "step": step, **saving(fit_bands, held_bands, step, model)}
        rows.append(row)
        print(f"quality {q}: fitted contexts would save {row['saving_pct']:.2f}% of {held_file.name}'s bytes "
              f"({row['fit_saving_pct']:.2f}% of the fitted files'; coefficients are "
              f"{100 * row['coefficient_bits_share']:.0f}% of the bytes)")
    report = {"fit_files": [f.name for f in fit_files], "held_out": held_file.name, "frames": FRAMES,
              "segments_per_file": args.segments, "rows": rows}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
