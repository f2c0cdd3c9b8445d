"""Split computing on a small CNN: compress the features at the split, against three baselines.

The end-to-end example of feature coding (issue 8), offline on a CPU:

- Data: scikit-learn's bundled handwritten digits (1797 images, 8x8, 17 grey levels), split
  (seed 0) into 1437 training and 360 test images. The test images are never used for training
  the CNN, the bottlenecks or the calibration profile.
- Network: conv3x3(1->32) ReLU conv3x3(32->32) ReLU maxpool2 | split: 32x4x4 = 512 features per
  sample | conv3x3(32->64) ReLU maxpool2 linear(256->10). The device runs the head, the server
  the tail.
- Each codec codes the 360 test samples' features (or images) as one batch; bytes per sample =
  file bytes / 360 (container header included), BPFP = bits per feature point (file bits / (360 *
  512)). Top-1 agreement: the server's predictions on the decoded features against the
  uncompressed model's; accuracy against the labels is reported as well, and feature PSNR (peak =
  the largest feature value of the batch).

Curves:

- ``uniform+ec`` (the anchor): per-tensor min..max, ``--bits B`` uniform quantisation (B = 2..8)
  and WaveCodec's entropy coder, no clip or normalisation. ``B = 8`` is "8-bit + entropy coder".
- ``fcm-lm``: FCM-LM style: clip to mean +- 4 sigma (fitted on the training features), 10-bit
  quantisation, the 32 channels of each sample tiled into a 16x32 frame, the frames of the batch
  stacked into one 16-bit grey image, coded with JPEG 2000 (OpenJPEG via Pillow) at several
  compression ratios.
- ``jpeg`` / ``webp`` on the input: each test image alone (8-bit grey, 8x8) and the whole
  network on the server; ``-mosaic`` variants code the batch as one 160x144 mosaic (headers
  amortised as for the feature batch).
- ``wavecodec-klt``: clip mean +- 4 sigma, global normalisation, KLT across the 32 channels,
  ``--quality`` sweep, statistics (and the KLT) from a calibration profile fitted on the training
  features.
- ``wavecodec-learned``: learned bottlenecks (Entropic Student-style distillation from the
  frozen tail: 0.1 * feature MSE + KL to the teacher's outputs + beta * bits per feature value;
  8 latent channels at 2x2, 3000 steps), one per beta.

Also: per-sample files (one sample per .wlc) with and without the profile, float16 lossless
ratio, and encode/decode speed (median of 5).

Usage::

    python -m benchmarks.features [--out benchmarks/results/features] [--quick]
"""

from __future__ import annotations

import argparse
import io
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np

__all__ = ["main"]

SEED = 0
N_TEST = 360


def _torch():
    import torch

    torch.set_num_threads(1)
    return torch


def load_digits_split():
    from sklearn.datasets import load_digits

    d = load_digits()
    x = d.images.astype(np.float32)[:, None] / 16.0
    y = d.target.astype(np.int64)
    order = np.random.default_rng(SEED).permutation(len(x))
    test, train = order[:N_TEST], order[N_TEST:]
    return (x[train], y[train]), (x[test], y[test])


def build_cnn():
    torch = _torch()
    from torch import nn

    torch.manual_seed(SEED)
    head = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
                         nn.MaxPool2d(2))
    tail = nn.Sequential(nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(256, 10))
    return head, tail


def train_cnn(head, tail, x, y, epochs: int):
    torch = _torch()
    from torch.nn import functional as F

    params = list(head.parameters()) + list(tail.parameters())
    opt = torch.optim.Adam(params, lr=2e-3)
    rng = np.random.default_rng(SEED)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for i in range(0, len(x), 64):
            idx = torch.from_numpy(order[i:i + 64])
            loss = F.cross_entropy(tail(head(xt[idx])), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    head.eval()
    tail.eval()


def run_net(module, x: np.ndarray) -> np.ndarray:
    torch = _torch()
    with torch.no_grad():
        return module(torch.from_numpy(np.ascontiguousarray(x, np.float32))).numpy()


class Evaluator:
    """Scores decoded features (or images) against the uncompressed model."""

    def __init__(self, head, tail, x_test, y_test):
        self.head, self.tail, self.y = head, tail, y_test
        self.features = run_net(head, x_test)
        self.reference = run_net(tail, self.features).argmax(1)
        self.peak = float(self.features.max())

    def score(self, nbytes: int, features=None, images=None) -> dict:
        if images is not None:
            features_hat = run_net(self.head, images)
        else:
            features_hat = features
        pred = run_net(self.tail, features_hat).argmax(1)
        mse = float(np.mean((features_hat.astype(np.float64) - self.features) ** 2))
        n = len(self.y)
        return {
            "bytes_per_sample": nbytes / n,
            "bpfp": nbytes * 8 / self.features.size,
            "top1_agreement": float(np.mean(pred == self.reference) * 100),
            "accuracy": float(np.mean(pred == self.y) * 100),
            "feature_mse": mse,
            "feature_psnr": float(10 * np.log10(self.peak**2 / mse)) if mse > 0 else float("inf"),
        }


def curve(name: str, description: str, points: list[dict]) -> dict:
    keys = points[0].keys() if points else []
    return {"name": name, "description": description,
            "results": {k: [p[k] for p in points] for k in keys}}


# --- the codecs -----------------------------------------------------------------------------


def wavecodec_points(ev: Evaluator, settings: list[dict], **common) -> list[dict]:
    import codec

    out = []
    for s in settings:
        data = codec.encode_features({"split": ev.features}, **common, **s)
        decoded = codec.decode_features(data, profile=common.get("profile"), model=common.get("model"))["split"]
        out.append(ev.score(len(data), features=decoded) | {"setting": json.dumps(s)})
    return out


def fcm_points(ev: Evaluator, train_features: np.ndarray, ratios) -> list[dict]:
    from PIL import Image

    mean, std = float(train_features.mean()), float(train_features.std())
    lo, hi = max(mean - 4 * std, float(train_features.min())), mean + 4 * std
    f = np.clip(ev.features, lo, hi)
    q = np.rint((f - lo) / (hi - lo) * 1023).astype(np.uint16)          # 10-bit
    n, c, h, w = q.shape
    frames = q.reshape(n, 2, 16, h, w).transpose(0, 1, 3, 2, 4).reshape(n * 2 * h, 16 * w)  # 4x8 tiles per sample
    out = []
    for ratio in ratios:
        buf = io.BytesIO()
        Image.fromarray(frames).save(buf, "JPEG2000", quality_mode="rates", quality_layers=[ratio], irreversible=True)
        back = np.asarray(Image.open(io.BytesIO(buf.getvalue())), np.float32)
        back = back.reshape(n, 2, h, 16, w).transpose(0, 1, 3, 2, 4).reshape(n, c, h, w)
        decoded = lo + np.clip(back, 0, 1023) / 1023 * (hi - lo)
        out.append(ev.score(len(buf.getvalue()), features=decoded) | {"setting": f"ratio {ratio}"})
    return out


def image_points(ev: Evaluator, images: np.ndarray, fmt: str, qualities, mosaic: bool) -> list[dict]:
    from PIL import Image

    u8 = np.rint(images[:, 0] * 255).astype(np.uint8)   # (n, 8, 8); the 17 levels fit exactly
    n = len(u8)
    out = []
    for quality in qualities:
        kwargs = {"quality": quality} | ({"method": 6} if fmt == "WEBP" else {})
        if mosaic:
            rows = 18
            grid = u8.reshape(rows, n // rows, 8, 8).transpose(0, 2, 1, 3).reshape(rows * 8, n // rows * 8)
            buf = io.BytesIO()
            Image.fromarray(grid).save(buf, fmt, **kwargs)
            nbytes = len(buf.getvalue())
            back = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("L"))
            back = back.reshape(rows, 8, n // rows, 8).transpose(0, 2, 1, 3).reshape(n, 8, 8)
        else:
            nbytes, back = 0, np.empty_like(u8)
            for i in range(n):
                buf = io.BytesIO()
                Image.fromarray(u8[i]).save(buf, fmt, **kwargs)
                nbytes += len(buf.getvalue())
                back[i] = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("L"))
        decoded = back[:, None].astype(np.float32) / 255
        out.append(ev.score(nbytes, images=decoded) | {"setting": f"quality {quality}"})
    return out


def learned_points(ev: Evaluator, train_features, tail, betas, steps: int, log) -> tuple[list[dict], list]:
    import codec
    from codec.features.bottleneck import BottleneckConfig, train_bottleneck

    out, models = [], []
    for beta in betas:
        start = time.perf_counter()
        b = train_bottleneck(train_features, BottleneckConfig(32, latent_channels=8, hidden=64, stride=2),
                             beta=beta, steps=steps, seed=SEED, tail=tail, alpha=1.0, feature_weight=0.1)
        log(f"  bottleneck beta {beta}: trained in {time.perf_counter() - start:.0f} s")
        data = codec.encode_features({"split": ev.features}, transform="learned", model=b)
        decoded = codec.decode_features(data, model=b)["split"]
        out.append(ev.score(len(data), features=decoded) | {"setting": f"beta {beta}",
                                                             "model_bytes": len(b.save())})
        models.append((beta, b))
    return out, models


def per_sample_files(ev: Evaluator, profile, settings: dict, count: int = 50) -> dict:
    """Mean file size when each sample is its own file, with and without the profile."""
    import codec

    sizes = {"with profile": [], "without profile": []}
    agree = {"with profile": [], "without profile": []}
    for i in range(count):
        x = ev.features[i:i + 1]
        for key, prof in (("with profile", profile), ("without profile", None)):
            data = codec.encode_features({"split": x}, profile=prof, **settings)
            decoded = codec.decode_features(data, profile=prof)["split"]
            sizes[key].append(len(data))
            agree[key].append(int(run_net(ev.tail, decoded).argmax(1)[0] == ev.reference[i]))
    return {k: {"bytes_per_file": float(np.mean(v)), "top1_agreement": float(np.mean(agree[k]) * 100)}
            for k, v in sizes.items()} | {"samples": count, "settings": json.dumps(settings, default=str)}


def median_time(fn, reps: int = 5) -> float:
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _at_or_below(points, key, limit):
    ok = [p for p in points if p[key] <= limit]
    return max(ok, key=lambda p: p["top1_agreement"]) if ok else None


def summarise(res: dict) -> str:
    from benchmarks.bdrate import bd_rate

    curves = res["curves"]
    anchor = curves["uniform+ec"]["results"]
    lines = ["# Feature coding: split CNN on scikit-learn digits", "",
             f"Command: `{res['provenance']['command']}`", "",
             (f"Uncompressed model: top-1 accuracy {res['model']['accuracy']:.2f}% on {N_TEST} test images; "
              f"{res['model']['features_per_sample']} features per sample at the split "
              f"({res['model']['features_per_sample'] * 4} bytes as float32)."), "",
             "| codec | setting | bytes/sample | BPFP | top-1 agreement % | accuracy % | feature PSNR dB |",
             "|---|---|---|---|---|---|---|"]
    for name, c in curves.items():
        r = c["results"]
        for i in range(len(r["bytes_per_sample"])):
            lines.append(f"| {name} | {r['setting'][i]} | {r['bytes_per_sample'][i]:.2f} | {r['bpfp'][i]:.4f} | "
                         f"{r['top1_agreement'][i]:.2f} | {r['accuracy'][i]:.2f} | {r['feature_psnr'][i]:.2f} |")
    lines += ["", ("BD-rate against `uniform+ec` (negative = fewer bytes at equal quality; n/a where the curves "
                   "do not overlap):"), "", "| codec | BD-rate (top-1 agreement) | BD-rate (feature PSNR) |", "|---|---|---|"]
    for name, c in curves.items():
        r = c["results"]
        if name == "uniform+ec" or "feature_psnr" not in r:
            continue
        acc = bd_rate((anchor["bytes_per_sample"], anchor["top1_agreement"]), (r["bytes_per_sample"], r["top1_agreement"]))
        psnr = None
        if not name.startswith(("jpeg", "webp")):
            psnr = bd_rate((anchor["bytes_per_sample"], anchor["feature_psnr"]), (r["bytes_per_sample"], r["feature_psnr"]))
        fmt = lambda v: "n/a" if v is None else f"{v:+.1f}%"
        lines.append(f"| {name} | {fmt(acc)} | {fmt(psnr)} |")
    t = res["targets"]
    lines += ["", "## Targets", "",
              (f"- 8-bit + entropy coder: {t['eight_bit_bytes']:.2f} bytes/sample; 1/8 of it: "
               f"{t['eight_bit_bytes'] / 8:.2f}."),
              f"- Best WaveCodec point at or under 1/8 of those bytes: {t['best_within_eighth']}.",
              ("- Top-1 accuracy within 1 point of the uncompressed model's at <= 1/8 the bytes: "
               f"**{'met' if t['target_met'] else 'missed'}**."),
              (f"- Accuracy per byte against WebP on the input: {t['webp_comparison']}: "
               f"**{'met' if t['webp_better'] else 'missed'}**."), "",
              "## Per-sample files (one sample per file, 50 test samples)", "",
              "| statistics | bytes per file | top-1 agreement % |", "|---|---|---|"]
    ps = res["per_sample"]
    for key in ("without profile", "with profile"):
        lines.append(f"| {key} | {ps[key]['bytes_per_file']:.1f} | {ps[key]['top1_agreement']:.1f} |")
    lines += ["", f"Settings: `{ps['settings']}`.", "", "## Other measurements", ""]
    for k, v in res["other"].items():
        lines.append(f"- {k}: {v}")
    return "\n".join(lines) + "\n"


def plot(res: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for i, (name, c) in enumerate(res["curves"].items()):
        r = c["results"]
        order = np.argsort(r["bytes_per_sample"])
        x = np.array(r["bytes_per_sample"])[order]
        axes[0].plot(x, np.array(r["top1_agreement"])[order], "o-", color=f"C{i}", label=name)
        if not name.startswith(("jpeg", "webp")):
            axes[1].plot(x, np.array(r["feature_psnr"])[order], "o-", color=f"C{i}", label=name)
    for ax, label in zip(axes, ("top-1 agreement (%)", "feature PSNR (dB)")):
        ax.set_xscale("log")
        ax.set_xlabel("bytes per sample (batch of 360)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylim(80, 100.5)
    axes[0].legend(fontsize=8)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="benchmarks/results/features")
    parser.add_argument("--quick", action="store_true", help="fewer epochs and steps (a smoke test)")
    args = parser.parse_args(argv)
    torch = _torch()
    log = lambda s: print(s, file=sys.stderr, flush=True)
    import codec
    from benchmarks.provenance import provenance
    from codec.features.calibrate import calibrate, load_profile
    from codec.features.io import Tensor
    from codec.features.pipeline import Pipeline

    (x_train, y_train), (x_test, y_test) = load_digits_split()
    head, tail = build_cnn()
    train_cnn(head, tail, x_train, y_train, epochs=5 if args.quick else 40)
    ev = Evaluator(head, tail, x_test, y_test)
    train_features = run_net(head, x_train)
    accuracy = float(np.mean(ev.reference == y_test) * 100)
    log(f"CNN: test accuracy {accuracy:.2f}%")

    clip = ("sigma", 4.0)
    pipe = Pipeline(clip="sigma", clip_a=4.0, norm="global", transform="klt")
    profile = load_profile(calibrate([[Tensor("split", "float32", train_features)]], pipe))

    curves = {}
    log("uniform+ec")
    curves["uniform+ec"] = curve("uniform+ec", "min..max uniform B-bit quantisation + WaveCodec entropy coder",
                                 wavecodec_points(ev, [{"bits": b} for b in range(2, 9)], norm="none"))
    log("wavecodec-klt")
    qualities = [5, 8, 10, 12, 15, 20, 25, 30, 40, 55]
    hand = {"clip": clip, "norm": "global", "transform": "klt"}
    curves["wavecodec-klt"] = curve(
        "wavecodec-klt", "clip 4 sigma, global normalisation, KLT, --quality, calibration profile",
        wavecodec_points(ev, [{"quality": q} for q in qualities], profile=profile, **hand))
    log("fcm-lm")
    curves["fcm-lm"] = curve("fcm-lm", "clip 4 sigma, 10-bit, packed frames, JPEG 2000 (OpenJPEG)",
                             fcm_points(ev, train_features, [400, 200, 100, 60, 40, 25, 15, 8, 4]))
    log("images")
    for fmt, qs in (("JPEG", [5, 10, 20, 30, 50, 70, 90]), ("WEBP", [1, 5, 10, 20, 40, 60, 80, 95])):
        for mosaic in (False, True):
            name = fmt.lower() + ("-mosaic" if mosaic else "")
            curves[name] = curve(name, f"{fmt} on the input image{' (batch mosaic)' if mosaic else ''}, whole "
                                 "network on the server", image_points(ev, x_test, fmt, qs, mosaic))
    log("learned bottlenecks")
    betas = [3.0, 1.0, 0.3, 0.1, 0.03] if not args.quick else [1.0]
    points, models = learned_points(ev, train_features, tail, betas, steps=300 if args.quick else 3000, log=log)
    curves["wavecodec-learned"] = curve("wavecodec-learned", "learned bottleneck (8 latent channels at 2x2), "
                                        "distilled from the frozen tail, one model per beta", points)

    # Targets
    eight = curves["uniform+ec"]["results"]
    eight_bytes = eight["bytes_per_sample"][eight["setting"].index(json.dumps({"bits": 8}))]
    ours = [dict(p, codec=n) for n in ("wavecodec-klt", "wavecodec-learned")
            for p in _rows(curves[n]["results"])]
    within = [p for p in ours if p["bytes_per_sample"] <= eight_bytes / 8 and p["accuracy"] >= accuracy - 1]
    met = bool(within)
    best = min(within, key=lambda p: p["bytes_per_sample"]) if within else _at_or_below(
        ours, "bytes_per_sample", eight_bytes / 8)
    best_text = "none" if best is None else (f"{best['codec']} {best['setting']}: {best['bytes_per_sample']:.2f} "
                                             f"bytes/sample, accuracy {best['accuracy']:.2f}%, top-1 agreement "
                                             f"{best['top1_agreement']:.2f}%")
    webp = [dict(p, codec=n) for n in ("webp", "webp-mosaic") for p in _rows(curves[n]["results"])]
    cheapest = min(webp, key=lambda p: p["bytes_per_sample"])
    cheaper = [p for p in ours if p["bytes_per_sample"] <= cheapest["bytes_per_sample"]]
    webp_text = (f"the cheapest WebP point ({cheapest['codec']} {cheapest['setting']}) costs "
                 f"{cheapest['bytes_per_sample']:.2f} bytes/sample for accuracy {cheapest['accuracy']:.2f}%; "
                 "WaveCodec at or under that: "
                 + (", ".join(f"{p['codec']} {p['setting']} {p['bytes_per_sample']:.2f} bytes {p['accuracy']:.2f}%"
                              for p in sorted(cheaper, key=lambda p: p["bytes_per_sample"])) or "no point"))
    dominated = [w for w in webp if any(p["bytes_per_sample"] <= w["bytes_per_sample"]
                                        and p["accuracy"] >= w["accuracy"] for p in ours)]
    webp_better = len(dominated) == len(webp)
    webp_text += (f"; {len(dominated)} of {len(webp)} WebP points (per image and mosaic) are matched or beaten in "
                  "accuracy by a WaveCodec point of no more bytes")

    # Per-sample files, lossless float16, speed
    per_sample = per_sample_files(ev, profile, dict(hand, quality=15))
    f16 = ev.features.astype(np.float16)
    lossless = codec.encode_features({"split": f16}, lossless=True)
    assert np.array_equal(codec.decode_features(lossless)["split"].view(np.uint16), f16.view(np.uint16))
    fast = dict(hand, quality=15, profile=profile)
    data = codec.encode_features({"split": ev.features}, **fast)
    enc_t = median_time(lambda: codec.encode_features({"split": ev.features}, **fast))
    dec_t = median_time(lambda: codec.decode_features(data, profile=profile))
    beta, b = models[len(models) // 2]
    ldata = codec.encode_features({"split": ev.features}, transform="learned", model=b)
    lenc_t = median_time(lambda: codec.encode_features({"split": ev.features}, transform="learned", model=b))
    ldec_t = median_time(lambda: codec.decode_features(ldata, model=b))
    other = {
        "float16 lossless (bit-exact, checked)": f"{f16.nbytes} -> {len(lossless)} bytes "
                                                  f"(ratio {f16.nbytes / len(lossless):.2f})",
        "speed, KLT quality 15 + profile, 360 samples (median of 5)": f"encode {enc_t * 1e3:.1f} ms, decode "
                                                                   f"{dec_t * 1e3:.1f} ms",
        f"speed, learned bottleneck beta {beta} (median of 5)": f"encode {lenc_t * 1e3:.1f} ms, decode "
                                                               f"{ldec_t * 1e3:.1f} ms",
        "learned bottleneck model size": f"{len(b.save())} bytes (sent once, not per sample)",
    }
    res = {
        "provenance": provenance("python -m benchmarks.features" + (" " + shlex.join(argv or sys.argv[1:])
                                                                   if (argv or sys.argv[1:]) else ""),
                                 threads=torch.get_num_threads(), workers=1, reps=5),
        "model": {"accuracy": accuracy, "features_per_sample": int(ev.features[0].size),
                  "train_images": len(x_train), "test_images": len(x_test)},
        "curves": curves,
        "targets": {"eight_bit_bytes": eight_bytes, "best_within_eighth": best_text, "target_met": met,
                    "webp_comparison": webp_text,
                    "webp_better": webp_better},
        "per_sample": per_sample,
        "other": other,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(res, indent=1) + "\n")
    (out / "summary.md").write_text(summarise(res))
    plot(res, out / "rd.png")
    print(summarise(res))
    return 0


def _rows(results: dict) -> list[dict]:
    keys = list(results)
    return [dict(zip(keys, vals)) for vals in zip(*results.values())]


if __name__ == "__main__":
    sys.exit(main())
