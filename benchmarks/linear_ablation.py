"""What each part of the linear mode's entropy modelling buys, measured on Kodak.

Runs the linear mode with parts switched off (by patching ``codec.modes.linear`` for the
duration of one variant) and reports BD-rate over 0.25-1.5 bpp against the full mode and
against JPEG (from the harness's ``jpeg.json``). Usage::

    python -m benchmarks.linear_ablation [--data DIR] [--out benchmarks/results/linear_ablation.md]
"""

import argparse
import contextlib
import json
from pathlib import Path
from unittest import mock

import numpy as np

from benchmarks.bdrate import bd_rate

STEPS = (300, 180, 110, 70, 45, 28, 18)
RANGE = (0.25, 1.5)


def _plain_blocks():
    """Code every sample (no zero-block flags)."""
    from codec.modes import linear

    def encode(enc, q, tables, model):
        linear.encode_grouped(enc, q.ravel(), tables.ravel(), model.tables)

    def decode(dec, tables, model):
        return linear.decode_grouped(dec, tables.ravel(), model.tables).reshape(tables.shape), tables

    return [mock.patch.object(linear, "_encode_blocks", encode), mock.patch.object(linear, "_decode_blocks", decode)]


def _no_context():
    """Context channels use their per-channel table only."""
    from codec.modes import linear

    original = linear._context_tables
    return [mock.patch.object(linear, "_context_tables", lambda base, shift: original(base, np.zeros_like(shift)))]


def _no_dyadic(model):
    """The smooth channels are coded as static channels, without the extra dyadic levels."""
    return [mock.patch.dict(model.n_dc, {"rgb": 0})]


def _variants(model):
    return {
        "full linear mode": [],
        "no zero-block flags": _plain_blocks(),
        "no context shifts (one table per channel)": _no_context(),
        "no dyadic split of the smooth channels": _no_dyadic(model),
        "static only: one table per channel, no dyadic, no context": _no_context() + _no_dyadic(model),
    }


def _curve(images, model, patches):
    from codec.modes.linear import analyse, decode_group, encode_group

    points = []
    with contextlib.ExitStack() as stack:
        for p in patches:
            stack.enter_context(p)
        for step in STEPS:
            rates, psnrs = [], []
            for im in images:
                x = im.transpose(2, 0, 1).astype(np.float32) - 127.5
                data = encode_group(analyse(x, model, "rgb"), step, model, "rgb")
                y = decode_group(data, x.shape, step, model, "rgb")
                y = np.clip(np.rint(y + 127.5), 0, 255).transpose(1, 2, 0)
                rates.append(len(data) * 8 / (im.shape[0] * im.shape[1]))
                psnrs.append(10 * np.log10(255**2 / np.mean((y - im) ** 2)))
            points.append((np.mean(rates), np.mean(psnrs)))
    rates, psnrs = map(np.array, zip(*points))
    return rates, psnrs


def main(argv=None):
    from PIL import Image

    from codec.zoo import get_linear_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/images/kodak")
    parser.add_argument("--jpeg", default="benchmarks/results/kodak/jpeg.json")
    parser.add_argument("--out", default="benchmarks/results/linear_ablation.md")
    args = parser.parse_args(argv)
    files = sorted(Path(args.data).glob("*.png"))
    if not files:
        raise SystemExit(f"no .png images in {args.data}")
    images = [np.asarray(Image.open(f).convert("RGB")).astype(np.float64) for f in files]
    images = [im for im in images if im.shape[0] % 64 == 0 and im.shape[1] % 64 == 0]
    jpeg = json.loads(Path(args.jpeg).read_text())["results"]
    jpeg_curve = (np.array(jpeg["bpp"]), np.array(jpeg["psnr-rgb"]))
    model = get_linear_model()
    curves = {name: _curve(images, model, patches) for name, patches in _variants(model).items()}
    full = curves["full linear mode"]
    lines = [
        "# Linear mode ablation (Kodak)",
        "",
        f"{len(images)} images, steps {STEPS}; bpp counts the range-coded stream only (no container header,",
        f"about 100 bytes). BD-rate over {RANGE[0]}-{RANGE[1]} bpp. Regenerate: `python -m benchmarks.linear_ablation`.",
        "",
        "| variant | BD-rate vs full | BD-rate vs JPEG |",
        "|---|---|---|",
    ]
    for name, curve in curves.items():
        lines.append(f"| {name} | {bd_rate(full, curve, RANGE):+.1f}% | {bd_rate(jpeg_curve, curve, RANGE):+.1f}% |")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
