"""INR mode at the slower efforts: one fit per (image, effort, quality), timed once.

The harness (``wavecodec bench``) times every point again for its speed table, which for
6-13 minute fits would double the cost; this script encodes each point once and records
its rate, PSNR, encode and decode seconds (one run each, not a median), the torch device
and thread count (fit times depend on both) and the commit it ran at. Usage::

    python -m benchmarks.inr_efforts kodim01.png --efforts medium slow --qualities 20 60
        [--data ../shared/data/images/kodak] [--out benchmarks/results/kodak-inr/efforts.json]
    python -m benchmarks.inr_efforts kodim01.png --steps 9000 --qualities 60   # a fixed step count

``--steps`` replaces the efforts by a fixed number of fitting steps (for GPU runs, which the
efforts' CPU-sized step counts do not describe); the record names the torch device.
``--crop 768x512`` codes each image's centre crop of that size (Kodak-sized pieces of the
training sets, to compare settings without tuning on Kodak); ``--full-grid`` fits the
architecture whose finest grid is full size instead of half size; ``--heic`` also records
HEIC (the harness' adapter, its quality sweep) on the same pixels and prints each curve's
BD-rate against it (over 0.25-1.5 bpp, as the Kodak targets).

Trials of the fit (records name them in ``variant``; BD-rates are also printed against the
unchanged fit's records of the same pixels): ``--seed N``, ``--hidden W`` (synthesis width),
and, patched in by ``benchmarks.inr_trials``, ``--networks-from IMAGE`` (networks start from a
fast fit of that image, same folder and crop, at ``--networks-quality``), ``--first-layer-scale
S``, ``--grid-lr LR``, ``--net-lr LR``, ``--soft-fraction F``, ``--soft-round`` and ``--start-from FILE`` (the
amortised start trained by ``benchmarks.inr_amortized``).

Appends to the JSON list in ``--out`` (so runs can be split), one record per point.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import codec
from benchmarks.bdrate import bd_rate
from benchmarks.cache import atomic_write
from benchmarks.inr_amortized import start_from
from benchmarks.inr_trials import networks_of, patched_fit, variant_label
from benchmarks.metrics import psnr
from benchmarks.pillow_codecs import Heic
from benchmarks.provenance import git_commit
from codec.inr.model import Architecture
from codec.modes.inr import encode_image

ROOT = Path(__file__).resolve().parent.parent
BPP_RANGE = (0.25, 1.5)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="+")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "images" / "kodak")
    parser.add_argument("--efforts", nargs="+", default=["medium"], choices=["fast", "medium", "slow"])
    parser.add_argument("--steps", type=int, default=None, help="fitting steps instead of an effort")
    parser.add_argument("--qualities", nargs="+", type=int, default=[20, 60])
    parser.add_argument("--crop", type=_size, default=None, metavar="WxH", help="code each image's centre crop")
    parser.add_argument("--full-grid", action="store_true", help="finest latent grid at full size, not half")
    parser.add_argument("--heic", action="store_true", help="also record HEIC and print BD-rates against it")
    parser.add_argument("--seed", type=int, default=0, help="the fits' seed")
    parser.add_argument("--hidden", type=_positive(int), default=None, help="synthesis MLP width (default: the codec's)")
    parser.add_argument("--networks-from", default=None, metavar="IMAGE",
                        help="start the networks from a fast fit of IMAGE (in --data, same crop)")
    parser.add_argument("--networks-quality", type=int, default=40, choices=range(1, 101), metavar="1..100",
                        help="quality of that fit")
    parser.add_argument("--first-layer-scale", type=_positive(float), default=None,
                        help="scale the MLP's first layer at start")
    parser.add_argument("--grid-lr", type=_positive(float), default=None, help="the latents' learning rate")
    parser.add_argument("--soft-fraction", type=_fraction, default=None,
                        help="share of the steps with noisy latents (the rest straight-through)")
    parser.add_argument("--net-lr", type=_positive(float), default=None, help="the networks' learning rate")
    parser.add_argument("--start-from", type=Path, default=None, metavar="FILE",
                        help="start each fit from this amortised start (benchmarks.inr_amortized)")
    parser.add_argument("--soft-round", action="store_true",
                        help="C3's soft rounding with Gaussian noise in the soft phase, not uniform noise")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "kodak-inr" / "efforts.json")
    args = parser.parse_args(argv)
    if args.heic and (missing := Heic().available()):
        raise SystemExit(f"--heic: {missing}")
    records = json.loads(args.out.read_text()) if args.out.exists() else []
    arch = Architecture(first=0 if args.full_grid else 1, hidden=args.hidden or Architecture.hidden)
    grids = f"1/{2 ** arch.first}"
    networks_from = f"{args.networks_from} q{args.networks_quality}" if args.networks_from else None
    variant = variant_label(args.seed, args.hidden, args.first_layer_scale, args.grid_lr, networks_from,
                            args.soft_round, args.start_from and args.start_from.name, args.net_lr,
                            args.soft_fraction)
    if args.start_from and not args.start_from.is_file():
        raise SystemExit(f"{args.start_from}: no such file")
    starting_point = start_from(args.start_from) if args.start_from else None
    networks = None
    if args.networks_from:
        kept = {}
        with networks_of(kept):
            encode_image(_load(args.data / args.networks_from, args.crop), "HWC", args.networks_quality, arch=arch)
        networks = kept["networks"]
    new = []
    for name in args.images:
        image = _load(args.data / name, args.crop)
        where = {"image": name, "crop": f"{image.shape[1]}x{image.shape[0]}" if args.crop else None}
        points = []
        if args.heic:
            heic = Heic()
            points += [(dict(where, effort="heic", quality=q), lambda q=q: heic.encode(image, q), heic.decode)
                       for q in heic.qualities]
        for effort in [f"{args.steps} steps"] if args.steps else args.efforts:
            points += [(dict(where, effort=effort, quality=q, grids_from=grids, variant=variant),
                        lambda q=q, e=effort: encode_image(image, "HWC", q, e, seed=args.seed, steps=args.steps,
                                                           arch=arch),
                        codec.decode) for q in args.qualities]
        for fields, encode, decode in points:
            start = time.perf_counter()
            with patched_fit(networks, args.first_layer_scale, args.grid_lr, args.soft_round, starting_point,
                             args.net_lr, args.soft_fraction):
                data = encode()
            middle = time.perf_counter()
            decoded = decode(data)
            end = time.perf_counter()
            record = dict(fields, bpp=len(data) * 8 / (image.shape[0] * image.shape[1]),
                          **{"psnr-rgb": psnr(image, decoded)}, encode_s=middle - start, decode_s=end - middle,
                          device="cuda" if torch.cuda.is_available() else "cpu",
                          threads=torch.get_num_threads(), git_commit=git_commit())
            print(json.dumps(record), flush=True)
            records.append(record)
            new.append(record)
            atomic_write(args.out, json.dumps(records, indent=1) + "\n")   # a kill never truncates earlier records
    pieces = {(r["image"], r["crop"]) for r in new}   # earlier runs' records of the same pixels count too
    for line in bd_lines([r for r in records if (r["image"], r.get("crop")) in pieces]):
        print(line)


def _size(text: str) -> tuple[int, int]:
    """'768x512' -> (768, 512)."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}") from None
    if width < 1 or height < 1:
        raise argparse.ArgumentTypeError(f"crop sides must be positive, got {text!r}")
    return width, height


def _positive(kind):
    """An argparse type: ``kind`` (int or float) above zero."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
        return value
    return parse


def _fraction(text: str) -> float:
    """An argparse type: a number in (0, 1]."""
    value = _positive(float)(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"must be at most 1, got {text!r}")
    return value


def _load(path: Path, crop: tuple[int, int] | None) -> np.ndarray:
    """The image as RGB uint8, or its centre crop of (width, height); a missing image, or one
    smaller than the crop, is refused."""
    if not path.is_file():
        raise SystemExit(f"{path}: no such image")
    image = np.asarray(Image.open(path).convert("RGB"))
    if crop is None:
        return image
    width, height = crop
    h, w = image.shape[:2]
    if h < height or w < width:
        raise SystemExit(f"{path.name} is {w}x{h}, smaller than the crop {width}x{height}")
    top, left = (h - height) // 2, (w - width) // 2
    return np.ascontiguousarray(image[top:top + height, left:left + width])


def bd_lines(records: list[dict]) -> list[str]:
    """For each image's (and crop's) INR curve (effort, grids and variant), its BD-rate against
    the HEIC records of the same pixels over ``BPP_RANGE``, the Kodak targets' range, and a
    variant's against the unchanged fit's curve of the same effort and grids."""
    lines = []
    for image, crop in dict.fromkeys((r["image"], r.get("crop")) for r in records):
        mine = [r for r in records if (r["image"], r.get("crop")) == (image, crop)]
        curves = {}
        for r in mine:
            curves.setdefault((r["effort"], r.get("grids_from"), r.get("variant")), []).append((r["bpp"], r["psnr-rgb"]))
        anchor = curves.pop(("heic", None, None), None)
        for (effort, grids, variant), test in curves.items():
            against = [("HEIC", anchor), ("the unchanged fit", curves.get((effort, grids, None)) if variant else None)]
            shown = [f"vs {name} {_bd_text(ref, test)}" for name, ref in against if ref]
            if shown:
                label = f"{image} {effort}, grids from {grids}" + (f", {variant}" if variant else "")
                lines.append(f"{label}: BD-rate " + "; ".join(shown))
    return lines


def _bd_text(anchor: list, test: list) -> str:
    bd = bd_rate(list(zip(*anchor)), list(zip(*test)), BPP_RANGE) if len(test) >= 2 else None
    return "no common range" if bd is None else f"{bd:+.1f}%"


if __name__ == "__main__":
    main()
