"""Audio rate-distortion benchmark: WaveCodec linear audio against Opus, MP3 and FLAC.

Usage::

    python -m benchmarks.audio [--data ../shared/data/audio/train] [--out benchmarks/results/audio] [--quick]

Held-out clips (a fixed rule, applied to the file names sorted by name in each folder of ``--data``;
the files are read in place, never copied):

* ``music/``: the last file by name, cut into 30 s excerpts starting at 30 s, 90 s and 150 s
  (an excerpt that does not fit in the file is dropped; ``--quick`` keeps the first one only);
* ``samples/``: the last 3 files by name among those at least 1.0 s long;
* ``speech/``: the last 3 files by name among those at least 1.0 s long.

THESE CLIPS ARE RESERVED FOR EVALUATION: a learned audio model (or any tuning of the audio mode)
must not train or be tuned on these files, or its numbers here stop meaning anything. (For
``music/`` the whole file is reserved, not only the excerpts.)

Codecs: ``wavecodec-linear`` (a quality sweep), ``opus`` and ``mp3`` (libsndfile through soundfile:
Opus in Ogg, bitrate set through ``compression_level``, which libsndfile maps linearly onto
6..256 kb/s per channel; MP3 by LAME at constant bitrate, ``bitrate_mode="CONSTANT"``, whose
``compression_level`` picks a rate from LAME's table), and ``flac`` (lossless, one rate per clip).
libsndfile's Opus encoder takes 8/12/16/24/48 kHz input only: clips at other rates (44.1 kHz) are
resampled to 48 kHz with ``scipy.signal.resample_poly`` before encoding and the decoded signal is
resampled back to the clip's rate before it is measured against the untouched original; the
resampling round trip is part of Opus's error (its SNR ceiling is reported). Rate = compressed file
bytes * 8 / clip duration, per file (container headers included); all clips are mono, so this is
also the rate per channel. Metrics: SNR and SI-SDR (zero-mean, scale-invariant) in dB of the decoded
signal against the original, over the whole clip. Codec delay: the decoded signal is aligned to the
original by the lag that maximises their cross-correlation within +-100 ms (libsndfile already
removes Opus's pre-skip and MP3's encoder delay, so the lags found should be 0; they are recorded
per point), then cut or zero-padded to the original's length.
"""

import argparse
import datetime
import io
import json
import os
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.bdrate import bd_rate, value_at

EXIT_NO_DATA = 3
EXCERPT_S = 30
EXCERPT_STARTS_S = (30, 90, 150)
N_SHORT = 3
MIN_SHORT_S = 1.0
MAX_LAG_S = 0.1
OPUS_RATES = (48000, 24000, 16000, 12000, 8000)

QUALITIES = (3, 6, 10, 15, 20, 25, 30, 40, 50, 60, 70)
OPUS_KBPS = (8, 12, 16, 24, 32, 48, 64, 96, 128, 160, 200)
MP3_LEVELS = (0.99, 0.96, 0.93, 0.9, 0.87, 0.81, 0.75, 0.63, 0.51, 0.39, 0.12)
QUICK = {"qualities": (10, 30, 50), "opus": (16, 64, 128), "mp3": (0.93, 0.87, 0.63)}
TARGET_KBPS = (32, 64, 128)
SPEED_REPS = 3


# ---------------------------------------------------------------- clips


def select_clips(root: Path, quick: bool = False) -> list[dict]:
    """The held-out clips, by the rule in the module docstring: dicts with name, samples, rate."""
    from codec.io.audio import read_audio

    clips = []
    music = sorted((root / "music").glob("*.flac")) if (root / "music").is_dir() else []
    if music:
        path = music[-1]
        samples, rate, _ = read_audio(path.read_bytes(), path.name)
        starts = EXCERPT_STARTS_S[:1] if quick else EXCERPT_STARTS_S
        for start in starts:
            lo, hi = start * rate, (start + EXCERPT_S) * rate
            if hi <= len(samples):
                clips.append({"name": f"music/{path.stem}@{start}s", "file": f"music/{path.name}",
                              "samples": samples[lo:hi, :1].copy(), "rate": rate})
    for folder in ("samples", "speech"):
        files = sorted((root / folder).glob("*.flac")) if (root / folder).is_dir() else []
        chosen = []
        for path in reversed(files):
            samples, rate, _ = read_audio(path.read_bytes(), path.name)
            if len(samples) >= MIN_SHORT_S * rate:
                chosen.append({"name": f"{folder}/{path.stem}", "file": f"{folder}/{path.name}",
                               "samples": samples[:, :1].copy(), "rate": rate})
            if len(chosen) == N_SHORT:
                break
        clips.extend(reversed(chosen))
    return clips


def _to_float(samples: np.ndarray) -> np.ndarray:
    """(N, 1) int16/int32/float32 -> (N,) float64 in [-1, 1)."""
    x = samples[:, 0]
    if x.dtype == np.int16:
        return x.astype(np.float64) / 32768.0
    if x.dtype == np.int32:
        return x.astype(np.float64) / 2.0**31
    return x.astype(np.float64)


# ---------------------------------------------------------------- metrics


def align(original: np.ndarray, decoded: np.ndarray, rate: int) -> tuple[np.ndarray, int]:
    """``decoded`` shifted by the cross-correlation lag (within +-MAX_LAG_S) and cut to length.

    Returns (aligned, lag): aligned[n] = decoded[n + lag], zero outside the decoded signal.
    """
    from scipy.signal import correlate

    n = len(original)
    max_lag = int(MAX_LAG_S * rate)
    corr = correlate(decoded, original, mode="full", method="fft")  # index k <-> lag k - (n - 1)
    lags = np.arange(len(corr)) - (n - 1)
    window = np.abs(lags) <= max_lag
    lag = int(lags[window][np.argmax(corr[window])]) if np.any(corr[window] != 0) else 0
    out = np.zeros(n)
    lo, hi = max(0, -lag), min(n, len(decoded) - lag)
    if hi > lo:
        out[lo:hi] = decoded[lo + lag:hi + lag]
    return out, lag


def snr_db(x: np.ndarray, y: np.ndarray) -> float:
    noise = np.sum((y - x) ** 2)
    return float(10 * np.log10(np.sum(x**2) / noise)) if noise > 0 else float("inf")


def si_sdr_db(x: np.ndarray, y: np.ndarray) -> float:
    x = x - x.mean()
    y = y - y.mean()
    target = (np.dot(y, x) / np.dot(x, x)) * x
    noise = np.sum((y - target) ** 2)
    return float(10 * np.log10(np.sum(target**2) / noise)) if noise > 0 else float("inf")


def _timed(fn, reps: int):
    times, result = [], None
    for _ in range(reps):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


# ---------------------------------------------------------------- codecs


def _sf_roundtrip(x: np.ndarray, rate: int, fmt: str, subtype: str, **kwargs) -> tuple[bytes, np.ndarray, float, float]:
    import soundfile as sf

    start = time.perf_counter()
    buf = io.BytesIO()
    sf.write(buf, x.astype(np.float32), rate, format=fmt, subtype=subtype, **kwargs)
    data = buf.getvalue()
    t_enc = time.perf_counter() - start
    start = time.perf_counter()
    y, out_rate = sf.read(io.BytesIO(data), dtype="float64", always_2d=True)
    t_dec = time.perf_counter() - start
    if out_rate != rate:
        raise RuntimeError(f"{fmt}/{subtype} decoded at {out_rate} Hz, expected {rate} Hz")
    return data, y[:, 0], t_enc, t_dec


def run_wavecodec(clip: dict, quality: int, reps: int) -> dict:
    import codec

    x = clip["samples"]
    t_enc, data = _timed(lambda: codec.encode_audio(x, clip["rate"], quality=quality), reps)
    t_dec, y = _timed(lambda: codec.decode(data), reps)
    y = np.asarray(y).reshape(x.shape)
    return {"setting": quality, "bytes": len(data), "decoded": _to_float(y), "lag": None,
            "encode_s": t_enc, "decode_s": t_dec}


def _opus_resample(rate: int):
    """(up, down) to a libsndfile Opus rate and back, or None when ``rate`` is one already."""
    if rate in OPUS_RATES:
        return None
    from math import gcd

    g = gcd(48000, rate)
    return 48000 // g, rate // g


def run_opus(clip: dict, kbps: float) -> dict:
    from scipy.signal import resample_poly

    x = _to_float(clip["samples"])
    rate = clip["rate"]
    level = float(np.clip((256.0 - kbps) / 250.0, 0.0, 1.0))  # libsndfile: 256 - level * 250 kb/s per channel
    ratio = _opus_resample(rate)
    start = time.perf_counter()
    src = resample_poly(x, *ratio) if ratio else x
    src = np.clip(src, -1.0, 1.0)
    enc_rate = 48000 if ratio else rate
    resample_s = time.perf_counter() - start
    data, y, t_enc, t_dec = _sf_roundtrip(src, enc_rate, "OGG", "OPUS", compression_level=level)
    start = time.perf_counter()
    if ratio:
        y = resample_poly(y, ratio[1], ratio[0])
    resample_s += time.perf_counter() - start
    y, lag = align(x, y, rate)
    return {"setting": kbps, "compression_level": level, "bytes": len(data), "decoded": y, "lag": lag,
            "resampled_via_48k": bool(ratio), "encode_s": t_enc, "decode_s": t_dec, "resample_s": resample_s}


def run_mp3(clip: dict, level: float) -> dict:
    x = _to_float(clip["samples"])
    data, y, t_enc, t_dec = _sf_roundtrip(np.clip(x, -1, 1), clip["rate"], "MP3", "MPEG_LAYER_III",
                                          compression_level=level, bitrate_mode="CONSTANT")
    y, lag = align(x, y, clip["rate"])
    return {"setting": level, "bytes": len(data), "decoded": y, "lag": lag, "encode_s": t_enc, "decode_s": t_dec}


def run_flac(clip: dict) -> dict:
    import soundfile as sf

    x = clip["samples"]
    subtype = {np.dtype(np.int16): "PCM_16"}.get(x.dtype, "PCM_24")
    buf = io.BytesIO()
    sf.write(buf, x, clip["rate"], format="FLAC", subtype=subtype)
    data = buf.getvalue()
    y, _ = sf.read(io.BytesIO(data), dtype=x.dtype, always_2d=True)
    return {"bytes": len(data), "lossless": bool(np.array_equal(y, x))}


def mp3_available() -> str | None:
    """None when this libsndfile writes MP3, else the reason it cannot."""
    import soundfile as sf

    if "MPEG_LAYER_III" not in sf.available_subtypes("MP3"):
        return "this libsndfile has no MPEG Layer III encoder"
    try:
        buf = io.BytesIO()
        sf.write(buf, np.zeros(4410, np.float32), 44100, format="MP3", subtype="MPEG_LAYER_III")
    except Exception as exc:  # noqa: BLE001 - any libsndfile failure means "not available"
        return f"MP3 writing fails ({exc})"
    return None


# ---------------------------------------------------------------- evaluation


def _point(clip: dict, result: dict) -> dict:
    x = _to_float(clip["samples"])
    y = result["decoded"]
    seconds = len(x) / clip["rate"]
    point = {k: v for k, v in result.items() if k != "decoded"}
    point.update(clip=clip["name"], kbps=result["bytes"] * 8 / seconds / 1000, seconds=seconds,
                 snr_db=snr_db(x, y), si_sdr_db=si_sdr_db(x, y), gain=float(np.dot(y, x) / np.dot(x, x)))
    return point


def _curve(points: list[dict]) -> list[dict]:
    """Mean kb/s, SNR and SI-SDR over clips, per setting (points of one codec)."""
    settings = list(dict.fromkeys(p["setting"] for p in points))
    curve = []
    for s in settings:
        group = [p for p in points if p["setting"] == s]
        row = {"setting": s, "clips": len(group)}
        for key in ("kbps", "snr_db", "si_sdr_db"):
            row[key] = float(np.mean([p[key] for p in group]))
        total = sum(p["seconds"] for p in group)
        for key in ("encode_s", "decode_s"):
            row[key.replace("_s", "_x_rt")] = total / max(sum(p[key] for p in group), 1e-12)
        curve.append(row)
    return sorted(curve, key=lambda r: r["kbps"])


def _xy(curve, metric="snr_db"):
    return [r["kbps"] for r in curve], [r[metric] for r in curve]


def _safe_value_at(curve, metric, kbps):
    try:
        return value_at(*_xy(curve, metric), kbps)
    except ValueError:
        return None


def _safe_bd(anchor, test, metric="snr_db"):
    try:
        return bd_rate(_xy(anchor, metric), _xy(test, metric))
    except ValueError:
        return None


def evaluate(clips: list[dict], quick: bool, log=print) -> dict:
    qualities = QUICK["qualities"] if quick else QUALITIES
    opus_kbps = QUICK["opus"] if quick else OPUS_KBPS
    mp3_levels = QUICK["mp3"] if quick else MP3_LEVELS
    reps = 1 if quick else SPEED_REPS
    mp3_skip = mp3_available()
    points = {"wavecodec-linear": [], "opus": [], "mp3": []}
    flac, ceilings = [], []
    from scipy.signal import resample_poly

    for clip in clips:
        log(f"  {clip['name']} ({len(clip['samples']) / clip['rate']:.1f} s, {clip['rate']} Hz)")
        for q in qualities:
            points["wavecodec-linear"].append(_point(clip, run_wavecodec(clip, q, reps)))
        for k in opus_kbps:
            points["opus"].append(_point(clip, run_opus(clip, k)))
        if mp3_skip is None:
            for level in mp3_levels:
                points["mp3"].append(_point(clip, run_mp3(clip, level)))
        f = run_flac(clip)
        seconds = len(clip["samples"]) / clip["rate"]
        flac.append({"clip": clip["name"], "bytes": f["bytes"], "kbps": f["bytes"] * 8 / seconds / 1000,
                     "lossless": f["lossless"]})
        ratio = _opus_resample(clip["rate"])
        if ratio:
            x = _to_float(clip["samples"])
            back = resample_poly(resample_poly(x, *ratio), ratio[1], ratio[0])[:len(x)]
            ceilings.append({"clip": clip["name"], "snr_db": snr_db(x, back)})
    curves = {name: _curve(p) for name, p in points.items() if p}
    return {"points": points, "curves": curves, "flac": flac, "opus_resample_ceiling": ceilings,
            "mp3_skipped": mp3_skip}


def _per_clip_at(points: list[dict], clip: str, metric: str, kbps: float):
    group = [p for p in points if p["clip"] == clip]
    try:
        return value_at([p["kbps"] for p in group], [p[metric] for p in group], kbps)
    except ValueError:
        return None


def summarise(results: dict, clips: list[dict]) -> dict:
    curves = results["curves"]
    wc = curves["wavecodec-linear"]
    summary = {"at": {}, "bd_rate_snr": {}, "bd_rate_si_sdr": {}, "gain_range": {}, "per_clip_64": []}
    for name, curve in curves.items():
        summary["at"][name] = {f"{k}": {"snr_db": _safe_value_at(curve, "snr_db", k),
                                        "si_sdr_db": _safe_value_at(curve, "si_sdr_db", k)}
                               for k in TARGET_KBPS}
    for anchor in ("opus", "mp3"):
        if anchor in curves:
            summary["bd_rate_snr"][f"wavecodec-linear vs {anchor}"] = _safe_bd(curves[anchor], wc)
            summary["bd_rate_si_sdr"][f"wavecodec-linear vs {anchor}"] = _safe_bd(curves[anchor], wc, "si_sdr_db")
    for name, pts in results["points"].items():
        if pts:
            gains = [p["gain"] for p in pts]
            summary["gain_range"][name] = [float(np.median(gains)), min(gains), max(gains)]
    for clip in clips:
        row = {"clip": clip["name"]}
        for name in curves:
            row[name] = _per_clip_at(results["points"][name], clip["name"], "snr_db", 64)
        group = lambda codec_name: [p for p in results["points"][codec_name] if p["clip"] == clip["name"]]  # noqa: E731
        for anchor in ("opus", "mp3"):
            if anchor in curves:
                try:
                    row[f"bd_vs_{anchor}"] = bd_rate(_xy(group(anchor)), _xy(group("wavecodec-linear")))
                except ValueError:
                    row[f"bd_vs_{anchor}"] = None
        summary["per_clip_64"].append(row)
    wc64, op64 = summary["at"]["wavecodec-linear"]["64"]["snr_db"], summary["at"]["opus"]["64"]["snr_db"]
    both = [r for r in summary["per_clip_64"] if r.get("wavecodec-linear") is not None and r.get("opus") is not None]
    summary["target_64"] = {
        "wavecodec_snr_db": wc64, "opus_snr_db": op64,
        "met_on_mean_curve": None if wc64 is None or op64 is None else wc64 > op64,
        "clips_compared": len(both),
        "clips_won": sum(r["wavecodec-linear"] > r["opus"] for r in both),
        "per_clip_mean_wavecodec": float(np.mean([r["wavecodec-linear"] for r in both])) if both else None,
        "per_clip_mean_opus": float(np.mean([r["opus"] for r in both])) if both else None,
    }
    return summary


# ---------------------------------------------------------------- output


def _f(value, spec=".1f", suffix=""):
    if value is None:
        return "n/a"
    if isinstance(value, float) and not np.isfinite(value):
        return "inf"
    return f"{value:{spec}}{suffix}"


def _markdown(results, summary, clips, prov) -> str:
    curves = results["curves"]
    lines = ["# Audio rate-distortion: WaveCodec linear vs Opus, MP3 and FLAC", "",
             f"Regenerate: `{prov['command']}` ({prov['date']}; soundfile {prov['soundfile']}, "
             f"{prov['libsndfile']}).", "",
             "## Held-out clips (reserved for evaluation)", "",
             "Rule, applied to `--data` (file names sorted): `music/` the last file by name, 30 s excerpts "
             f"starting at {', '.join(f'{s} s' for s in EXCERPT_STARTS_S)} (the first only with `--quick`); "
             f"`samples/` and `speech/` the last {N_SHORT} files by name among those at least {MIN_SHORT_S} s long. "
             "**These files are reserved for evaluation: a future learned audio model (or any tuning of the "
             "audio mode) must not be trained or tuned on them** (for `music/`, the whole file).", "",
             "| clip | rate Hz | seconds |", "|---|---|---|"]
    for c in clips:
        lines.append(f"| {c['name']} | {c['rate']} | {len(c['samples']) / c['rate']:.2f} |")
    lines += ["", "## Method", "",
              "Mono clips, so kb/s is also per channel. kb/s = compressed file bytes x 8 / duration (container "
              "and headers included). SNR and SI-SDR (zero-mean, scale-invariant) in dB over the whole clip, "
              "averaged over clips per setting; kb/s likewise averaged per setting. Opus (Ogg, libsndfile, rate "
              "set with `compression_level` = (256 - kb/s) / 250) and MP3 (LAME via libsndfile, constant "
              "bitrate) decoded signals are aligned to the original by the cross-correlation lag within "
              f"+-{MAX_LAG_S * 1000:.0f} ms, then cut/zero-padded to the original length; lags found: "
              + _lag_text(results) + ". "
              "libsndfile's Opus encoder takes 8/12/16/24/48 kHz only, so 44.1 kHz clips are resampled to 48 kHz "
              "(`scipy.signal.resample_poly`) before Opus and back after; that round trip is counted in Opus's "
              "error. " + _ceiling_text(results) + " WaveCodec is measured on its own decoder output "
              "(no alignment needed: same length, no delay).", ""]
    if results["mp3_skipped"]:
        lines += [f"MP3 skipped: {results['mp3_skipped']}.", ""]
    labels = {"wavecodec-linear": "quality", "opus": "target kb/s", "mp3": "compression_level (CBR)"}
    for name, curve in curves.items():
        lines += [f"## {name}", ""]
        speed = name == "wavecodec-linear"
        head = f"| {labels[name]} | kb/s | SNR dB | SI-SDR dB |" + (" encode x RT | decode x RT |" if speed else "")
        lines += [head, "|" + "---|" * (head.count("|") - 1)]
        for r in curve:
            line = f"| {r['setting']} | {r['kbps']:.1f} | {r['snr_db']:.2f} | {r['si_sdr_db']:.2f} |"
            if speed:
                line += f" {r['encode_x_rt']:.0f} | {r['decode_x_rt']:.0f} |"
            lines.append(line)
        lines.append("")
    lines += ["## At 32, 64 and 128 kb/s (PCHIP interpolation of the mean curves, `value_at`; n/a outside "
              "the measured range)", "",
              "| codec | " + " | ".join(f"SNR @{k} | SI-SDR @{k}" for k in TARGET_KBPS) + " |",
              "|---|" + "---|---|" * len(TARGET_KBPS)]
    for name, at in summary["at"].items():
        lines.append(f"| {name} | " + " | ".join(f"{_f(at[str(k)]['snr_db'])} | {_f(at[str(k)]['si_sdr_db'])}"
                                                  for k in TARGET_KBPS) + " |")
    lines += ["", "## BD-rate in SNR (mean curves, `bd_rate` on (kb/s, SNR); negative = WaveCodec needs fewer bits)",
              ""]
    for key, value in summary["bd_rate_snr"].items():
        lines.append(f"- {key}: {_f(value, '+.1f', ' %')}")
    lines += ["", "In SI-SDR (same method, on (kb/s, SI-SDR)): "
              + "; ".join(f"{k}: {_f(v, '+.1f', ' %')}" for k, v in summary["bd_rate_si_sdr"].items()) + ".", "",
              "Least-squares gain of the decoded signal on the original, median (min..max) over points: "
              + "; ".join(f"{k} {g[0]:.3f} ({g[1]:.3f}..{g[2]:.3f})" for k, g in summary["gain_range"].items())
              + ". A gain g below 1 alone caps SNR at -20 log10(1 - g) dB (0.95 -> 26 dB); the libsndfile "
              "MP3 round trip (LAME encode, mpg123 decode) returns the signal scaled by about 0.95, so MP3's "
              "SNR at high rates is capped by that gain rather than by its coding noise; SI-SDR, which is "
              "gain-invariant, is the fairer view of MP3. SNR is reported on the decoded output as-is for "
              "every codec. SI-SDR also removes the mean: Opus's DC-rejecting high-pass costs it SNR on clips "
              "with a DC offset (where Opus's SI-SDR is well above its SNR).", ""]
    flac = results["flac"]
    lines += ["", "## FLAC (lossless reference)", "",
              f"Mean {np.mean([f['kbps'] for f in flac]):.1f} kb/s over the clips "
              f"(libsndfile's default FLAC level; lossless round trip checked: "
              f"{'yes' if all(f['lossless'] for f in flac) else 'NO'}). Per clip: "
              + ", ".join(f"{f['clip']} {f['kbps']:.1f}" for f in flac) + ".", ""]
    t = summary["target_64"]
    verdict = {True: "MET", False: "NOT MET", None: "NOT MEASURABLE"}[t["met_on_mean_curve"]]
    lines += ["## Project target", "",
              "> At 64 kb/s per channel a higher SNR than Opus at the same bitrate.", "",
              f"**{verdict}** on the mean curves: WaveCodec {_f(t['wavecodec_snr_db'], '.2f')} dB vs Opus "
              f"{_f(t['opus_snr_db'], '.2f')} dB SNR at 64 kb/s. Per clip (each clip's own curves interpolated "
              f"at 64 kb/s, clips where both reach 64 kb/s): WaveCodec higher on {t['clips_won']} of "
              f"{t['clips_compared']}, mean {_f(t['per_clip_mean_wavecodec'], '.2f')} vs "
              f"{_f(t['per_clip_mean_opus'], '.2f')} dB. Opus optimises perceived quality, not SNR (it shapes "
              "its noise under the masking threshold and may drop or parametrically code high bands), so a "
              "higher SNR than Opus does not mean better-sounding audio; SNR is the metric this target names.",
              "", "| clip | " + " | ".join(f"{n} SNR @64" for n in curves) + " | "
              + " | ".join(f"BD-rate vs {a}" for a in ("opus", "mp3") if a in curves) + " |",
              "|---|" + "---|" * (len(curves) + sum(a in curves for a in ("opus", "mp3")))]
    for r in summary["per_clip_64"]:
        lines.append(f"| {r['clip']} | " + " | ".join(_f(r[n], '.2f') for n in curves) + " | "
                     + " | ".join(_f(r[f"bd_vs_{a}"], '+.1f', ' %') for a in ("opus", "mp3") if a in curves) + " |")
    lines += ["", f"Speed: WaveCodec encode/decode in multiples of real time (clip seconds / wall seconds, "
              f"median of {prov['speed_reps']} run(s), summed over clips), {prov['cpu_cores']} CPU cores.", ""]
    return "\n".join(lines)


def _lag_text(results) -> str:
    parts = []
    for name in ("opus", "mp3"):
        lags = [p["lag"] for p in results["points"].get(name, [])]
        if lags:
            nonzero = sum(lag != 0 for lag in lags)
            parts.append(f"{name} {nonzero} of {len(lags)} points non-zero"
                         + (f" (range {min(lags)}..{max(lags)} samples)" if nonzero else ""))
    return "; ".join(parts) or "none"


def _ceiling_text(results) -> str:
    c = results["opus_resample_ceiling"]
    if not c:
        return "No clip needed resampling."
    return ("Resampling round-trip SNR alone (the ceiling for Opus on those clips): "
            + ", ".join(f"{x['clip']} {x['snr_db']:.1f} dB" for x in c) + ".")


def plot(results, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, curve in results["curves"].items():
        x, y = _xy(curve)
        ax.plot(x, y, marker="o", label=name)
    flac = float(np.mean([f["kbps"] for f in results["flac"]]))
    ax.axvline(flac, color="grey", ls="--", lw=1, label=f"flac (lossless) {flac:.0f} kb/s")
    ax.set_xscale("log")
    ax.set_xlabel("kb/s (mean over clips; mono)")
    ax.set_ylabel("SNR dB (mean over clips)")
    ax.set_title("Audio rate-distortion, held-out clips")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    _atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)


def _atomic(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _write_text(path: Path, text: str) -> None:
    _atomic(path, lambda tmp: Path(tmp).write_text(text))


def _provenance(command: str, reps: int) -> dict:
    import soundfile as sf

    prov = {"command": command, "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "soundfile": sf.__version__, "libsndfile": sf.__libsndfile_version__, "speed_reps": reps,
            "cpu_cores": os.cpu_count()}
    try:
        from benchmarks.provenance import _git_commit  # read-only git look (no index lock)

        prov["git_commit"] = _git_commit()
    except Exception:  # noqa: BLE001 - provenance is best effort
        prov["git_commit"] = None
    return prov


def _jsonable(obj):
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/audio/train")
    parser.add_argument("--out", default="benchmarks/results/audio")
    parser.add_argument("--quick", action="store_true", help="fewer settings, one music excerpt, no speed repeats")
    args = parser.parse_args(argv)
    root = Path(args.data)
    if not root.is_dir():
        print(f"error: audio data folder {root} not found (pass --data)", file=sys.stderr)
        return EXIT_NO_DATA
    clips = select_clips(root, args.quick)
    if not clips:
        print(f"error: no held-out clips in {root} (expected music/, samples/ or speech/ with .flac files)",
              file=sys.stderr)
        return EXIT_NO_DATA
    command = f"python -m benchmarks.audio {shlex.join(sys.argv[1:] if argv is None else list(argv))}".strip()
    print(f"{len(clips)} held-out clips:")
    results = evaluate(clips, args.quick)
    summary = summarise(results, clips)
    prov = _provenance(command, 1 if args.quick else SPEED_REPS)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    md = _markdown(results, summary, clips, prov)
    doc = {"provenance": prov,
           "clips": [{"name": c["name"], "file": c["file"], "rate": c["rate"],
                      "seconds": len(c["samples"]) / c["rate"]} for c in clips],
           "curves": results["curves"], "points": results["points"], "flac": results["flac"],
           "opus_resample_ceiling": results["opus_resample_ceiling"], "mp3_skipped": results["mp3_skipped"],
           "summary": summary}
    _write_text(out / "results.json", json.dumps(_jsonable(doc), indent=1) + "\n")
    plot(results, out / "rd_snr.png")
    _write_text(out / "summary.md", md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
