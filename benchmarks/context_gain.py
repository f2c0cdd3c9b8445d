"""What the learned mode's context model saves, on the held-out training photographs.

Codes each validation image of the training folder (every 16th file by name: never used to
fit the shipped tables or to train the decoder) in the linear and the learned mode at a few
qualities, and compares the real file sizes (same quantised values, so the same quantiser
and nearly the same PSNR). Usage::

    python -m benchmarks.context_gain [--data ../shared/data/images/train] [--out benchmarks/results/learned/context_gain.md]
"""

import argparse
import time
from pathlib import Path

import numpy as np

QUALITIES = (20, 35, 50)


def measure(data_dir, qualities=QUALITIES) -> list[dict]:
    from PIL import Image

    import codec
    from codec.train.data import load_split

    _, validation = load_split(data_dir)
    rows = []
    for path in validation:
        with Image.open(path) as im:
            a = np.asarray(im.convert("RGB"))
        for quality in qualities:
            sizes, seconds = {}, {}
            for mode in ("linear", "learned"):
                start = time.perf_counter()
                sizes[mode] = len(codec.encode(a, quality=quality, mode=mode))
                seconds[mode] = time.perf_counter() - start
            rows.append({"image": path.name, "quality": quality, "pixels": a.shape[0] * a.shape[1],
                         "linear_bytes": sizes["linear"], "learned_bytes": sizes["learned"],
                         "linear_s": seconds["linear"], "learned_s": seconds["learned"]})
    return rows


def report(rows, data_dir) -> str:
    lines = [
        "# Context model: file sizes, learned vs linear mode",
        "",
        (f"`python -m benchmarks.context_gain` on the {len({r['image'] for r in rows})} validation images of "
         f"`{data_dir}` ({time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC). Same quantised values in both "
         "modes; sizes are whole files. Encode times are one run each, in-process (first calls include warm-up)."),
        "",
        "| quality | linear bpp | learned bpp | size change, mean | min | max | encode ms linear / learned (median) |",
        "|---|---|---|---|---|---|---|",
    ]
    for quality in sorted({r["quality"] for r in rows}):
        sel = [r for r in rows if r["quality"] == quality]
        change = np.array([r["learned_bytes"] / r["linear_bytes"] - 1 for r in sel])
        bpp = {m: np.mean([8 * r[f"{m}_bytes"] / r["pixels"] for r in sel]) for m in ("linear", "learned")}
        ms = {m: 1e3 * np.median([r[f"{m}_s"] for r in sel]) for m in ("linear", "learned")}
        lines.append(f"| {quality} | {bpp['linear']:.3f} | {bpp['learned']:.3f} | {100 * change.mean():+.1f}% | "
                     f"{100 * change.min():+.1f}% | {100 * change.max():+.1f}% | {ms['linear']:.0f} / {ms['learned']:.0f} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/images/train")
    parser.add_argument("--out", default="benchmarks/results/learned/context_gain.md")
    args = parser.parse_args(argv)
    text = report(measure(args.data), args.data)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
