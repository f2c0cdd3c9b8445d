"""Rate-distortion of N-channel 8-bit arrays (the Landsat-7 scene): WaveCodec against per-band codecs.

The issue's target is "Landsat linear mode beats per-band JPEG 2000 in BD-rate"; this measures it.
Rate is bits per sample: the whole file (headers, and WaveCodec's stored KLT) * 8 / (H*W*C).
Distortion is PSNR over all samples, peak 255. Curves:

- ``wavecodec``: ``codec.encode`` on the whole HxWxC array (KLT across bands for C >= 5).
- ``jpeg2000-band``: each band an 8-bit grayscale JPEG 2000 codestream (OpenJPEG via Pillow,
  irreversible 9/7), every band at the same target PSNR (``quality_mode="dB"``). Equal distortion
  per band is the high-rate optimum for the total MSE, and it beats equal rates per band; this is
  the anchor of every BD-rate.
- ``jpeg2000-band-rates``: the same, every band at the same compression ratio (``"rates"``).
- ``wavecodec-band``: WaveCodec on each band alone, no KLT: what the transform across bands buys.
- ``zfp``: zfpy fixed-accuracy mode on the float32 array, PSNR of its float output as is
  (skipped when zfpy is not installed).

Usage::

    python -m benchmarks.arrays [--data PATH] [--out DIR] [--quick]
"""

import argparse
import datetime
import hashlib
import io
import json
import platform
import os
import shlex
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np

from benchmarks.bdrate import bd_rate, value_at
from benchmarks.cache import atomic_write
from benchmarks.metrics import psnr

__all__ = ["main", "SWEEPS", "QUICK"]

DEFAULT_DATA = "../shared/data/multispectral/L7_ETMs.npy"
DEFAULT_OUT = "benchmarks/results/landsat"
ANCHOR = "jpeg2000-band"
RATES_AT = (0.5, 1.0, 2.0)

# Each sweep chosen (on the Landsat scene) to span about 0.1-4 bits per sample where the codec can.
SWEEPS = {
    "wavecodec": (31, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90, 92),   # quality
    "wavecodec-band": (31, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90, 92),
    "jpeg2000-band": (27, 28, 29, 30, 32, 34, 36, 38, 40, 42, 44, 46, 48, 50, 52, 54, 56),  # dB per band
    "jpeg2000-band-rates": (80, 64, 48, 40, 32, 24, 20, 16, 12, 10, 8, 6, 5, 4, 3, 2.5, 2),  # ratio
    # zfp's absolute error tolerance; it cannot go below ~0.3 bits/sample here (fixed-rate mode
    # below 0.25 bits/value crashes zfpy 1.0.1), and is far behind at every rate it reaches.
    "zfp": tuple(float(2.0 ** (k / 2)) for k in range(24, 11, -1)),           # 4096 .. 64
}
QUICK = {
    "wavecodec": (40, 60, 80), "wavecodec-band": (40, 60, 80),
    "jpeg2000-band": (30, 36, 44), "jpeg2000-band-rates": (40, 10, 3), "zfp": (1024.0, 256.0, 64.0),
}
LABELS = {
    "wavecodec": "WaveCodec linear (KLT across bands)",
    "wavecodec-band": "WaveCodec linear, each band alone",
    "jpeg2000-band": "JPEG 2000 per band, equal dB (anchor)",
    "jpeg2000-band-rates": "JPEG 2000 per band, equal ratio",
    "zfp": "zfp fixed accuracy, float32 HxWxC",
}


class InputProblem(Exception):
    """Input the benchmark cannot use; reported as one line with exit code 3."""


def load(path: Path) -> np.ndarray:
    """The array, read in place; only HxWxC uint8 fits the per-band 8-bit JPEG 2000 anchor."""
    if not path.is_file():
        raise InputProblem(f"{path}: no such file (pass --data PATH to an HxWxC uint8 .npy array)")
    try:
        a = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise InputProblem(f"{path}: not a readable .npy array ({e})") from None
    if a.ndim != 3 or a.dtype != np.uint8:
        raise InputProblem(f"{path}: need an HxWxC uint8 array, got {a.dtype} {a.shape}")
    return a


def _wavecodec(a, q):
    import codec

    data = codec.encode(a, quality=int(q))
    return len(data), codec.decode(data)


def _wavecodec_band(a, q):
    import codec

    files = [codec.encode(np.ascontiguousarray(a[:, :, c]), quality=int(q)) for c in range(a.shape[2])]
    return sum(map(len, files)), np.stack([codec.decode(f) for f in files], axis=-1)


def _j2k_band(a, value, mode):
    """Raw J2K codestreams (no JP2 boxes), the least overhead JPEG 2000 can have."""
    from PIL import Image

    size, out = 0, np.empty_like(a)
    for c in range(a.shape[2]):
        buf = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(a[:, :, c])).save(
            buf, format="JPEG2000", irreversible=True, quality_mode=mode, quality_layers=[value], no_jp2=True)
        size += buf.tell()
        with Image.open(io.BytesIO(buf.getvalue())) as im:
            out[:, :, c] = np.asarray(im)
    return size, out


def _zfp(a, tolerance):
    import zfpy

    data = zfpy.compress_numpy(a.astype(np.float32), tolerance=tolerance)
    return len(data), zfpy.decompress_numpy(data)


CODERS = {
    "wavecodec": _wavecodec,
    "wavecodec-band": _wavecodec_band,
    "jpeg2000-band": lambda a, v: _j2k_band(a, v, "dB"),
    "jpeg2000-band-rates": lambda a, v: _j2k_band(a, v, "rates"),
    "zfp": _zfp,
}


def _unavailable(name) -> str | None:
    if name.startswith("jpeg2000"):
        from benchmarks.pillow_codecs import Jpeg2000

        return Jpeg2000().available()
    if name == "zfp":
        try:
            import zfpy  # noqa: F401
        except ImportError:
            return "zfpy not installed (pip install zfpy)"
    return None


def measure(a: np.ndarray, name: str, settings) -> list[dict]:
    points = []
    for s in settings:
        size, decoded = CODERS[name](a, s)
        points.append({"setting": s, "bytes": size, "bits_per_sample": size * 8 / a.size, "psnr": psnr(a, decoded)})
    return sorted(points, key=lambda p: p["bits_per_sample"])


def _curve(points):
    return np.array([p["bits_per_sample"] for p in points]), np.array([p["psnr"] for p in points])


def _versions() -> dict:
    from PIL import features

    out = {"python": platform.python_version()}
    for pkg in ("wavecodec", "numpy", "pillow", "zfpy"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    out["openjpeg"] = features.version("jpg_2000")
    return out


def _git_commit() -> str | None:
    """HEAD, with "-dirty" when tracked files differ (others edit codec/ while benchmarks run)."""
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}  # a read-only look: never touch the index
    try:
        git = [subprocess.run(["git", *args], cwd=root, env=env, capture_output=True, text=True, check=True)
               .stdout.strip() for args in (["rev-parse", "HEAD"], ["status", "--porcelain", "--untracked-files=no"])]
    except (OSError, subprocess.CalledProcessError):
        return None
    return git[0] + ("-dirty" if git[1] else "")


def _fmt(x, spec):
    return "n/a" if x is None else format(x, spec)


def _summary(command, data, a, results, skipped, bd_vs_wavecodec) -> str:
    h, w, c = a.shape
    lines = [
        f"# Rate-distortion on {data.name} ({h}x{w}x{c} uint8)",
        "",
        f"Regenerate: `{command}`",
        "",
        "Rate: whole files (all headers; WaveCodec's KLT is stored in its file), bits per sample ="
        f" bytes * 8 / {a.size}. PSNR over all samples, peak 255. BD-rate over the full overlapping"
        " PSNR range (PCHIP, `benchmarks.bdrate`); negative = fewer bits than the anchor at equal PSNR.",
        "",
        f"| codec | bits/sample range | BD-rate vs {ANCHOR} | PSNR @ 0.5 | PSNR @ 1 | PSNR @ 2 |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        at = [_fmt(r["psnr_at"][str(x)], ".2f") for x in RATES_AT]
        bd = "anchor" if name == ANCHOR else _fmt(r["bd_rate_vs_anchor"], "+.1f") + ("%" if r["bd_rate_vs_anchor"] is not None else "")
        rng = f"{r['points'][0]['bits_per_sample']:.3f}-{r['points'][-1]['bits_per_sample']:.3f}"
        lines.append(f"| {name}: {LABELS[name]} | {rng} | {bd} | {at[0]} | {at[1]} | {at[2]} |")
    lines += ["", "WaveCodec linear (KLT) against each other codec, BD-rate over their overlapping range:", ""]
    for name, bd in bd_vs_wavecodec.items():
        lines.append(f"- vs {name}: {_fmt(bd, '+.1f')}{'%' if bd is not None else ' (curves do not overlap)'}")
    for name, reason in skipped.items():
        lines.append(f"- {name}: skipped, {reason}")
    lines += [
        "",
        "PSNR in dB; n/a where the curve does not reach that rate (no extrapolation). JPEG 2000 is"
        " OpenJPEG via Pillow, raw J2K codestreams, one per band. zfp is scored on its float output"
        " without rounding back to 8 bits.",
    ]
    return "\n".join(lines) + "\n"


def _plot(results, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.5))
    for name, r in results.items():
        x, y = _curve(r["points"])
        ax.plot(x, y, marker="o", markersize=3, label=LABELS[name], linestyle="--" if "band" in name else "-")
    ax.set_xlabel("bits per sample")
    ax.set_ylabel("PSNR (dB), all samples, peak 255")
    ax.set_xlim(0, 4.5)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    atomic_write(path, buf.getvalue())


def run(data: Path, out: Path, sweeps: dict, command: str) -> dict:
    a = load(data)
    results, skipped = {}, {}
    for name, settings in sweeps.items():
        reason = _unavailable(name)
        if reason:
            skipped[name] = reason
            print(f"{name}: skipped, {reason}", file=sys.stderr)
            continue
        points = measure(a, name, settings)
        results[name] = {"label": LABELS[name], "points": points}
        print(f"{name}: {len(points)} points, {points[0]['bits_per_sample']:.3f}-"
              f"{points[-1]['bits_per_sample']:.3f} bits/sample", file=sys.stderr)
    if ANCHOR not in results or "wavecodec" not in results:
        raise InputProblem(f"cannot compare: {skipped}")
    anchor = _curve(results[ANCHOR]["points"])
    for name, r in results.items():
        curve = _curve(r["points"])
        r["bd_rate_vs_anchor"] = None if name == ANCHOR else bd_rate(anchor, curve)
        r["psnr_at"] = {str(x): value_at(*curve, x) for x in RATES_AT}
    wave = _curve(results["wavecodec"]["points"])
    bd_vs_wavecodec = {n: bd_rate(_curve(r["points"]), wave) for n, r in results.items() if n != "wavecodec"}
    report = {
        "provenance": {
            "command": command,
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "data": str(data), "shape": list(a.shape), "dtype": str(a.dtype),
            "data_sha256": hashlib.sha256(a.tobytes()).hexdigest(),
            "versions": _versions(),
            "git_commit": _git_commit(),
        },
        "rate": "bits per sample = total bytes * 8 / (H*W*C)",
        "distortion": "PSNR over all samples, peak 255",
        "anchor": ANCHOR,
        "wavecodec_bd_rate_vs": bd_vs_wavecodec,
        "skipped": skipped,
        "codecs": results,
    }
    atomic_write(out / "results.json", json.dumps(report, indent=1) + "\n")
    summary = _summary(command, data, a, results, skipped, bd_vs_wavecodec)
    atomic_write(out / "summary.md", summary)
    _plot(results, out / "rd.png", f"{data.name} {'x'.join(map(str, a.shape))}")
    print(summary)
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.arrays", description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=DEFAULT_DATA, help="HxWxC uint8 .npy array")
    parser.add_argument("--out", default=DEFAULT_OUT, help="folder for summary.md, results.json, rd.png")
    parser.add_argument("--quick", action="store_true", help="three points per codec (a smoke test)")
    parser.add_argument("--qualities", help="WaveCodec qualities, comma-separated (overrides the sweep)")
    args = parser.parse_args(argv)
    sweeps = dict(QUICK if args.quick else SWEEPS)
    if args.qualities:
        qs = tuple(int(q) for q in args.qualities.split(","))
        sweeps["wavecodec"] = sweeps["wavecodec-band"] = qs
    argv = sys.argv[1:] if argv is None else list(argv)
    command = " ".join(["python -m benchmarks.arrays", *map(shlex.quote, argv)])
    try:
        run(Path(args.data), Path(args.out), sweeps, command)
    except InputProblem as e:
        print(f"error: {e}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
