"""Turning measured rows into curves, summaries and the files people read.

Per codec and quality the rows are averaged over signals (mean bpp, mean per-image PSNR: the
convention of published results). From those curves come BD-rates, PSNR at fixed rates and the
files: ``<codec>.json`` (CompressAI's results schema plus speed and provenance), ``per_image.csv``
and ``summary.md``.
"""

import csv
import io
import json
import statistics
from dataclasses import dataclass, field

from .bdrate import bd_rate, value_at
from .cache import atomic_write

__all__ = ["Curve", "curves_from_rows", "summarise", "write_results", "BD_RANGE", "RATES_AT"]

BD_RANGE = (0.25, 1.5)  # the rate interval the project's targets are stated over
RATES_AT = (0.25, 0.5, 1.0)
CSV_FIELDS = ("codec", "quality", "signal", "bytes", "size", "bpp", "psnr-rgb", "ms-ssim-rgb", "encode_s", "decode_s")


@dataclass
class Curve:
    codec: str
    description: str
    quality: list
    bpp: list[float]
    psnr: list[float]
    msssim: list[float | None]
    encode_s: list[float]  # mean seconds per signal during the sweep (CompressAI's encoding_time)
    decode_s: list[float]
    speed: dict = field(default_factory=dict)  # quality -> median timings on the speed signal
    speed_size: int = 0  # pixels of the speed signal
    complexity: dict | None = None

    @property
    def points(self):
        return self.bpp, self.psnr

    def mps(self, which: str) -> list[float]:
        """Throughput per rate point in megapixels per second, from the speed timings."""
        return [self.speed_size / 1e6 / self.speed[q][f"{which}_s"] for q in self.quality]

    def median_mps(self, which: str) -> float | None:
        return statistics.median(self.mps(which)) if self.speed else None


def _mean(values):
    return None if any(v is None for v in values) else statistics.fmean(values)


def curves_from_rows(rows: list[dict], adapters: dict) -> dict[str, Curve]:
    """One curve per codec, rate points sorted by rate, each averaged over the same signals."""
    grouped: dict[str, dict] = {}
    for row in rows:
        grouped.setdefault(row["codec"], {}).setdefault(row["quality"], []).append(row)
    curves = {}
    for name, adapter in adapters.items():
        if name not in grouped:
            continue
        points = sorted(grouped[name].items(), key=lambda item: _mean([r["bpp"] for r in item[1]]))
        curves[name] = Curve(
            codec=name,
            description=adapter.description,
            quality=[q for q, _ in points],
            bpp=[_mean([r["bpp"] for r in rs]) for _, rs in points],
            psnr=[_mean([r["psnr-rgb"] for r in rs]) for _, rs in points],
            msssim=[_mean([r["ms-ssim-rgb"] for r in rs]) for _, rs in points],
            encode_s=[_mean([r["encode_s"] for r in rs]) for _, rs in points],
            decode_s=[_mean([r["decode_s"] for r in rs]) for _, rs in points],
            complexity=adapter.complexity(),
        )
    return curves


def summarise(curves: dict[str, Curve], anchors: list[str]) -> dict[str, dict]:
    """Per codec: BD-rate (%) against each anchor over ``BD_RANGE``, PSNR at ``RATES_AT``, speeds."""
    summary = {}
    for name, curve in curves.items():
        summary[name] = {
            "bd_rate": {a: bd_rate(curves[a].points, curve.points, BD_RANGE) if a in curves else None for a in anchors},
            "psnr_at": {rate: value_at(curve.bpp, curve.psnr, rate) for rate in RATES_AT},
            "encode_mps": curve.median_mps("encode"),
            "decode_mps": curve.median_mps("decode"),
        }
    return summary


def _fmt(value, spec: str, suffix: str = "") -> str:
    return "–" if value is None else f"{value:{spec}}{suffix}"


def _markdown(curves, summary, anchors, context: dict) -> str:
    lines = [
        f"# Rate-distortion and speed: {context['dataset']}",
        "",
        f"{context['count']} images; mean per-image RGB PSNR; BD-rate over {BD_RANGE[0]}–{BD_RANGE[1]} bpp "
        "(Bjøntegaard, PCHIP in log-rate; negative = fewer bits than the anchor). "
        f"Speeds: median of {context['reps']} in-process runs on {context['speed_signal']}, median over the sweep, "
        f"{context['threads']} threads, {context['cpu']} ({context['cores']} cores).",
        "",
        f"Regenerate: `{context['command']}`",
        "",
        "| codec | " + " | ".join(f"BD-rate vs {a}" for a in anchors)
        + " | " + " | ".join(f"PSNR @{r} bpp" for r in RATES_AT) + " | encode MP/s | decode MP/s |",
        "|---" * (len(anchors) + len(RATES_AT) + 3) + "|",
    ]
    for name, s in summary.items():
        cells = [name]
        cells += [_fmt(s["bd_rate"][a], "+.1f", "%") for a in anchors]
        cells += [_fmt(s["psnr_at"][r], ".2f") for r in RATES_AT]
        cells += [_fmt(s["encode_mps"], ".3g"), _fmt(s["decode_mps"], ".3g")]
        lines.append("| " + " | ".join(cells) + " |")
    learned = {n: c.complexity for n, c in curves.items() if c.complexity}
    if learned:
        lines += ["", "| codec | MACs/pixel | parameters |", "|---|---|---|"]
        lines += [f"| {n} | {c.get('macs_per_pixel', '–')} | {c.get('parameters', '–')} |" for n, c in learned.items()]
    if context["notes"]:
        lines += ["", "Notes: " + "; ".join(context["notes"]) + "."]
    lines += ["", "Codec settings: " + "; ".join(f"{n}: {c.description}" for n, c in curves.items()) + "."]
    return "\n".join(lines) + "\n"


def _codec_json(curve: Curve, summary: dict, provenance: dict) -> dict:
    doc = {
        "name": curve.codec,
        "description": curve.description,
        "results": {
            "quality": curve.quality,
            "bpp": curve.bpp,
            "psnr-rgb": curve.psnr,
            "ms-ssim-rgb": curve.msssim,
            "encoding_time": curve.encode_s,
            "decoding_time": curve.decode_s,
        },
        "speed": {
            "signal_size": curve.speed_size,
            "encode_mps": curve.mps("encode") if curve.speed else None,
            "decode_mps": curve.mps("decode") if curve.speed else None,
        },
        "summary": {**summary, "psnr_at": {str(k): v for k, v in summary["psnr_at"].items()}},
        "provenance": provenance,
    }
    if curve.complexity:
        doc["complexity"] = curve.complexity
    return doc


def _csv(rows: list[dict], signal_column: str) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([signal_column if f == "signal" else f for f in CSV_FIELDS])
    for row in sorted(rows, key=lambda r: (r["codec"], r["signal"], r["bpp"])):
        writer.writerow(["" if row[f] is None else row[f] for f in CSV_FIELDS])
    return buf.getvalue()


def write_results(out, curves, summary, rows, anchors, provenance, context, signal_column="image") -> None:
    """Every results file, each written atomically."""
    for name, curve in curves.items():
        atomic_write(out / f"{name}.json", json.dumps(_codec_json(curve, summary[name], provenance), indent=2) + "\n")
    atomic_write(out / "per_image.csv", _csv(rows, signal_column))
    atomic_write(out / "summary.md", _markdown(curves, summary, anchors, context))
