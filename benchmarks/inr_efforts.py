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
from benchmarks.metrics import psnr
from benchmarks.provenance import git_commit
from codec.modes.inr import encode_image

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="+")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "images" / "kodak")
    parser.add_argument("--efforts", nargs="+", default=["medium"], choices=["fast", "medium", "slow"])
    parser.add_argument("--steps", type=int, default=None, help="fitting steps instead of an effort")
    parser.add_argument("--qualities", nargs="+", type=int, default=[20, 60])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "kodak-inr" / "efforts.json")
    args = parser.parse_args(argv)
    records = json.loads(args.out.read_text()) if args.out.exists() else []
    for name in args.images:
        image = np.asarray(Image.open(args.data / name).convert("RGB"))
        for effort in [f"{args.steps} steps"] if args.steps else args.efforts:
            for quality in args.qualities:
                start = time.perf_counter()
                if args.steps:
                    data = encode_image(image, "HWC", quality, steps=args.steps)
                else:
                    data = codec.encode(image, quality=quality, mode="inr", effort=effort)
                middle = time.perf_counter()
                decoded = codec.decode(data)
                end = time.perf_counter()
                record = {"image": name, "effort": effort, "quality": quality,
                          "bpp": len(data) * 8 / (image.shape[0] * image.shape[1]),
                          "psnr-rgb": psnr(image, decoded), "encode_s": middle - start, "decode_s": end - middle,
                          "device": "cuda" if torch.cuda.is_available() else "cpu",
                          "threads": torch.get_num_threads(), "git_commit": git_commit()}
                print(json.dumps(record), flush=True)
                records.append(record)
                args.out.parent.mkdir(parents=True, exist_ok=True)
                args.out.write_text(json.dumps(records, indent=1) + "\n")


if __name__ == "__main__":
    main()
