"""Two image benchmark runs of one codec side by side, per image: what a change to it did.

``wavecodec bench`` summarises one run against an anchor codec. After a change to a codec the
questions are per image: how far each image moved against the earlier run, and where each run
stands against the anchor. This reads the two runs' ``per_image.csv`` (the images both hold)
and prints a markdown table: per image, the BD-rate of the new rows against the old ones (over
the rates both cover) and against the anchor in each run (over 0.25-1.5 bpp, as the Kodak
targets); then the same for the mean curves (per quality, the mean bpp and PSNR over those
images, as the harness averages), and whether the anchor's rows are identical in the two runs
(if not, the codec change is not the only difference). Either side may be several runs over
disjoint images joined by commas, so that a run too long for one sitting can be done in parts
(``--limit`` and a folder of the remaining images). Usage::

    python -m benchmarks.compare_runs benchmarks/results/kodak-inr-keepbest-all \\
        benchmarks/results/kodak-inr-quarters --codec wavecodec-inr --anchor heic
    python -m benchmarks.compare_runs FIRST8,REST16 OLD     # a side done in two parts
    python -m benchmarks.compare_runs benchmarks/results/kodak-inr-medium \\
        benchmarks/results/kodak-inr-keepbest-all --codec wavecodec-inr-medium --old-codec wavecodec-inr
"""

import argparse
import csv
import math
import statistics
import sys
from pathlib import Path

from benchmarks.bdrate import bd_rate
from benchmarks.signals import ImageKind

__all__ = ["compare", "main"]

RATE, QUALITY = ImageKind.rate_key, ImageKind.metrics[0].key


class CompareError(Exception):
    """A run folder that cannot be compared; its message is the one line the user sees."""


def _rows(run: Path) -> list[dict]:
    path = run / "per_image.csv"
    try:
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        raise CompareError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        for row in rows:
            row["quality"] = int(row["quality"])
            row[RATE], row[QUALITY] = float(row[RATE]), float(row[QUALITY])
    except (KeyError, TypeError, ValueError):
        raise CompareError(f"{path} is not a per_image.csv of an image benchmark "
                           f"(needs codec, quality, image, {RATE} and {QUALITY})") from None
    return rows


def _joined_rows(runs: list[Path]) -> list[dict]:
    """The rows of runs over disjoint images, as one run's."""
    rows, seen = [], {}
    for run in runs:
        part = _rows(run)
        for image in {r["image"] for r in part}:
            if image in seen:
                raise CompareError(f"{image} is in both {seen[image]} and {run}; joined runs need disjoint images")
            seen[image] = run
        rows += part
    return rows


def _curve(rows: list[dict]) -> tuple[list[float], list[float]]:
    rows = sorted(rows, key=lambda r: r[RATE])
    return [r[RATE] for r in rows], [r[QUALITY] for r in rows]


def _mean_curve(rows: list[dict]) -> tuple[list[float], list[float]]:
    by_quality: dict[int, list[dict]] = {}
    for row in rows:
        by_quality.setdefault(row["quality"], []).append(row)
    points = sorted((statistics.fmean(r[RATE] for r in rs), statistics.fmean(r[QUALITY] for r in rs))
                    for rs in by_quality.values())
    return [p[0] for p in points], [p[1] for p in points]


def _same_rows(a: list[dict], b: list[dict]) -> bool:
    """The same points: equal bytes, and rate and quality equal to 1e-9 (a fresh install's
    float sums can move a PSNR in its last digit)."""
    key = (lambda r: (r["image"], r["quality"]))
    return len(a) == len(b) and all(
        key(x) == key(y) and x.get("bytes") == y.get("bytes")
        and math.isclose(x[RATE], y[RATE], rel_tol=1e-9) and math.isclose(x[QUALITY], y[QUALITY], rel_tol=1e-9)
        for x, y in zip(sorted(a, key=key), sorted(b, key=key)))


def _pct(value: float | None) -> str:
    return "none" if value is None else f"{value:+.1f}%"


def compare(new: list[Path], old: list[Path], codec: str, anchor: str, old_codec: str | None = None) -> str:
    """The markdown report (see the module's docstring); each side is one run or several joined,
    and the old side's codec may have another name (e.g. another effort)."""
    folders = {"new": new, "old": old}
    codecs = {"new": codec, "old": old_codec or codec}
    runs = {name: _joined_rows(parts) for name, parts in folders.items()}
    for name, rows in runs.items():
        for wanted in (codecs[name], anchor):
            if not any(r["codec"] == wanted for r in rows):
                where = ",".join(map(str, folders[name]))
                raise CompareError(f"the {name} run ({where}) has no rows of {wanted}")
    images = sorted(set.intersection(*({r["image"] for r in rows if r["codec"] == codecs[name]}
                                        for name, rows in runs.items())))
    if not images:
        named = " and ".join(dict.fromkeys(codecs.values()))
        raise CompareError(f"the two runs share no image coded by {named}")

    def pick(run, name, image=None):
        return [r for r in runs[run] if r["codec"] == name and (image is None or r["image"] == image)
                and r["image"] in images]

    lines = [f"| {len(images)} images | new vs old | new vs {anchor} | old vs {anchor} |", "|---|---|---|---|"]
    for image in images + [None]:
        new_rows, old_rows = pick("new", codecs["new"], image), pick("old", codecs["old"], image)
        shape = _curve if image else _mean_curve
        cells = [bd_rate(shape(old_rows), shape(new_rows)),
                 bd_rate(shape(pick("new", anchor, image)), shape(new_rows), ImageKind.bd_range),
                 bd_rate(shape(pick("old", anchor, image)), shape(old_rows), ImageKind.bd_range)]
        lines.append(f"| {image or '**mean curve**'} | " + " | ".join(_pct(c) for c in cells) + " |")
    lines.append("")
    for run in ("new", "old"):
        rates, psnrs = _mean_curve(pick(run, codecs[run]))
        lines.append(f"Mean curve, {run}: " + ", ".join(f"{r:.3f} bpp / {p:.2f} dB" for r, p in zip(rates, psnrs)))
    lines.append(f"\n{anchor} rows of these images identical in both runs (bytes, {RATE}, {QUALITY}): "
                 f"{'yes' if _same_rows(pick('new', anchor), pick('old', anchor)) else 'NO'}")
    return "\n".join(lines)


def _folders(text: str) -> list[Path]:
    return [Path(part) for part in text.split(",")]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("new", type=_folders, help="results folder of the run after the change "
                        "(or several over disjoint images, joined by commas)")
    parser.add_argument("old", type=_folders, help="results folder of the run before it (the same)")
    parser.add_argument("--codec", default="wavecodec-inr")
    parser.add_argument("--old-codec", default=None, help="the old run's codec, if not --codec "
                        "(e.g. wavecodec-inr against wavecodec-inr-medium)")
    parser.add_argument("--anchor", default="heic")
    args = parser.parse_args(argv)
    try:
        print(compare(args.new, args.old, args.codec, args.anchor, args.old_codec))
    except CompareError as exc:
        sys.exit(f"compare_runs: {exc}")


if __name__ == "__main__":
    main()
