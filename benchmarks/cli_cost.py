"""Whole-process cost of the command line: cold-start time and peak memory.

Cold start: ``wavecodec encode`` on one Kodak image, the whole process, median of N runs.
Peak memory: encode and decode of a large RGB image (default 8000x8000, tiled from a Kodak
image) in the linear and the learned mode, and of one hour of 44.1 kHz stereo 16-bit music (the training music looped, the
right channel 7 s behind the left), the child's peak resident set size. Usage::

    python -m benchmarks.cli_cost [--image PNG] [--music DIR] [--runs 5] [--size 8000] [--out FILE]
"""

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

WAVECODEC = [sys.executable, "-c", "from codec.cli import main; main()"]


def _run(args) -> tuple[float, int]:
    """Wall time and peak RSS (bytes) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run([*WAVECODEC, *map(str, args)], check=True, capture_output=True)
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return elapsed, max(peak, before) * 1024


def _hour_of_music(folder: Path, path: Path) -> bool:
    """Write one hour of stereo music looped from ``folder``; False when there is none."""
    import soundfile as sf

    files = sorted(folder.glob("*.flac"))
    if not files:
        return False
    music = np.concatenate([sf.read(f, dtype="int16", always_2d=True)[0][:, 0] for f in files])
    rate, minute = 44100, 44100 * 60
    left = np.tile(music, -(-rate * 3600 // len(music)))[: rate * 3600]
    right = np.roll(left, rate * 7)
    with sf.SoundFile(path, "w", rate, 2, "PCM_16") as f:
        for s in range(0, len(left), minute):
            f.write(np.stack([left[s:s + minute], right[s:s + minute]], axis=1))
    return True


def main(argv=None):
    from PIL import Image

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="../shared/data/images/kodak/kodim01.png")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size", type=int, default=8000)
    parser.add_argument("--music", default="../shared/data/audio/train/music")
    parser.add_argument("--out", default="benchmarks/results/cli_cost.md")
    args = parser.parse_args(argv)
    if not Path(args.image).is_file():
        raise SystemExit(f"{args.image}: not found")
    tmp = Path(tempfile.mkdtemp(prefix="wavecodec-cli-"))
    try:
        times = [_run(["encode", args.image, "-o", tmp / "a.wlc", "--force", "--quiet"])[0] for _ in range(args.runs)]
        tile = np.asarray(Image.open(args.image).convert("RGB"))
        reps = (-(-args.size // tile.shape[0]), -(-args.size // tile.shape[1]), 1)
        big = np.tile(tile, reps)[: args.size, : args.size]
        Image.fromarray(big).save(tmp / "big.png", compress_level=1)
        del big
        jobs = [("encode", f"{args.size}x{args.size} RGB image (default quality)",
                 ["encode", tmp / "big.png", "-o", tmp / "big.wlc", "--quiet"]),
                ("decode", f"{args.size}x{args.size} RGB image",
                 ["decode", tmp / "big.wlc", "-o", tmp / "out.png", "--quiet"]),
                ("encode", f"{args.size}x{args.size} RGB image, learned mode",
                 ["encode", tmp / "big.png", "-o", tmp / "big-learned.wlc", "--mode", "learned", "--quiet"]),
                ("decode", f"{args.size}x{args.size} RGB image, learned mode (tiled network)",
                 ["decode", tmp / "big-learned.wlc", "-o", tmp / "out-learned.png", "--quiet"])]
        if _hour_of_music(Path(args.music), tmp / "hour.wav"):
            jobs += [("encode", "1 hour 44.1 kHz stereo 16-bit music (quality 35)",
                      ["encode", tmp / "hour.wav", "-o", tmp / "hour.wlc", "-q", "35", "--quiet"]),
                     ("decode", "that hour of music", ["decode", tmp / "hour.wlc", "-o", tmp / "back.wav", "--quiet"]),
                     ("encode", "that hour of music, learned mode (quality 35)",
                      ["encode", tmp / "hour.wav", "-o", tmp / "hour-learned.wlc", "-q", "35", "--mode", "learned",
                       "--quiet"]),
                     ("decode", "that hour of music, learned mode",
                      ["decode", tmp / "hour-learned.wlc", "-o", tmp / "back-learned.wav", "--quiet"])]
        # Peak RSS of children is a high-water mark over all of them: measure each in a fresh helper.
        peaks = []
        for name, what, cmd in jobs:
            code = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, capture_output=True);"
                    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
            start = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", code, *WAVECODEC, *map(str, cmd)],
                                 check=True, capture_output=True, text=True)
            peaks.append((name, what, int(out.stdout.strip()) * 1024, time.perf_counter() - start))
    finally:
        shutil.rmtree(tmp)
    lines = [
        "# Command-line cost",
        "",
        f"Regenerate: `python -m benchmarks.cli_cost` (this machine: {sys.platform}, 2 cores).",
        "",
        f"- cold start, `wavecodec encode {Path(args.image).name}` (whole process), median of {args.runs}: "
        f"**{np.median(times):.2f} s** (min {min(times):.2f}, max {max(times):.2f})",
    ]
    for name, what, peak, wall in peaks:
        lines.append(f"- {name}, {what}: peak RSS **{peak / 2**30:.2f} GiB**, {wall:.1f} s (whole process)")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
