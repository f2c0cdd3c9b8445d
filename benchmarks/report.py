"""Turning measured rows into curves, summaries and the files people read.

Per codec and quality the rows are averaged over signals (mean rate, mean per-signal metric: the
convention of published results). From those curves come BD-rates (on the kind's first metric),
metric values at fixed rates and the files: ``<codec>.json`` (CompressAI's results schema plus
speed and provenance), ``per_<kind>.csv`` (``per_image.csv``, ``per_audio.csv``, ``per_array.csv``)
and ``summary.md``. The kind (``signals``) names the rate,
the metrics and the speed unit.
"""

import csv
import io
import json
import statistics
from dataclasses import dataclass, field

from .bdrate import bd_rate, value_at
from .cache import atomic_write

__all__ = ["Curve", "curves_from_rows", "summarise", "write_results"]


@dataclass
class Curve:
    codec: str
    description: str
    quality: list
    rate: list[float]
    values: dict[str, list]  # metric key -> mean per rate point (None where undefined)
    encode_s: list[float]  # mean seconds per signal during the sweep (CompressAI's encoding_time)
    decode_s: list[float]
    speed: dict = field(default_factory=dict)  # quality -> median timings on the speed signal
    speed_size: int = 0  # ``size`` of the speed signal
    complexity: dict | None = None

    def points(self, metric: str):
        return self.rate, self.values[metric]

    def throughput(self, which: str, scale: float) -> list[float]:
        """Per rate point, ``size / scale`` per second (megapixels per second for images)."""
        return [self.speed_size / scale / self.speed[q][f"{which}_s"] for q in self.quality]

    def median_throughput(self, which: str, scale: float) -> float | None:
        return statistics.median(self.throughput(which, scale)) if self.speed else None


def _mean(values):
    return None if any(v is None for v in values) else statistics.fmean(values)


def curves_from_rows(rows: list[dict], adapters: dict, kind) -> dict[str, Curve]:
    """One curve per codec, rate points sorted by rate, each averaged over the same signals."""
    grouped: dict[str, dict] = {}
    for row in rows:
        grouped.setdefault(row["codec"], {}).setdefault(row["quality"], []).append(row)
    curves = {}
    for name, adapter in adapters.items():
        if name not in grouped:
            continue
        points = sorted(grouped[name].items(), key=lambda item: _mean([r[kind.rate_key] for r in item[1]]))
        curves[name] = Curve(
            codec=name,
            description=adapter.description,
            quality=[q for q, _ in points],
            rate=[_mean([r[kind.rate_key] for r in rs]) for _, rs in points],
            values={m.key: [_mean([r[m.key] for r in rs]) for _, rs in points] for m in kind.metrics},
            encode_s=[_mean([r["encode_s"] for r in rs]) for _, rs in points],
            decode_s=[_mean([r["decode_s"] for r in rs]) for _, rs in points],
            complexity=adapter.complexity(),
        )
    return curves


def summarise(curves: dict[str, Curve], anchors: list[str], kind) -> dict[str, dict]:
    """Per codec: BD-rate (%) against each anchor, metric values at ``kind.rates_at``, speeds."""
    primary = kind.metrics[0].key
    summary = {}
    for name, curve in curves.items():
        s = {"bd_rate": {a: bd_rate(curves[a].points(primary), curve.points(primary), kind.bd_range)
                         if a in curves else None for a in anchors}}
        for m in kind.metrics[:kind.table_metrics]:
            s[f"{m.short.lower()}_at"] = {rate: value_at(curve.rate, curve.values[m.key], rate) for rate in kind.rates_at}
        for which in ("encode", "decode"):
            s[f"{which}_{kind.speed_key}"] = curve.median_throughput(which, kind.speed_scale)
        summary[name] = s
    return summary


def _fmt(value, spec: str, suffix: str = "") -> str:
    return "–" if value is None else f"{value:{spec}}{suffix}"


def _markdown(curves, summary, anchors, context: dict, kind) -> str:
    primary, table = kind.metrics[0], kind.metrics[:kind.table_metrics]
    over = (f"{kind.bd_range[0]}–{kind.bd_range[1]} {kind.rate_unit}" if kind.bd_range
            else "the rates both curves cover")
    lines = [
        f"# Rate-distortion and speed: {context['dataset']}",
        "",
        f"{context['count']} {kind.noun}; mean per-{kind.noun[:-1]} {primary.label.split(' (')[0]}; BD-rate over {over} "
        "(Bjøntegaard, PCHIP in log-rate; negative = fewer bits than the anchor). "
        f"Speeds: median of {context['reps']} in-process runs on {context['speed_signal']}, median over the sweep, "
        f"{context['threads']} threads, {context['cpu']} ({context['cores']} cores).",
        *(["", kind.method] if kind.method else []),
        "",
        f"Regenerate: `{context['command']}`",
        "",
        "| codec | " + " | ".join(f"BD-rate vs {a}" for a in anchors)
        + "".join(f" | {m.short} @{r} {kind.rate_unit}" for m in table for r in kind.rates_at)
        + f" | encode {kind.speed_unit} | decode {kind.speed_unit} |",
        "|---" * (len(anchors) + len(table) * len(kind.rates_at) + 3) + "|",
    ]
    for name, s in summary.items():
        cells = [name]
        cells += [_fmt(s["bd_rate"][a], "+.1f", "%") for a in anchors]
        cells += [_fmt(s[f"{m.short.lower()}_at"][r], ".2f") for m in table for r in kind.rates_at]
        cells += [_fmt(s[f"encode_{kind.speed_key}"], ".3g"), _fmt(s[f"decode_{kind.speed_key}"], ".3g")]
        lines.append("| " + " | ".join(cells) + " |")
    single = [c for c in curves.values() if len(c.rate) == 1]  # e.g. a lossless codec: one rate per signal
    if single:
        lines += ["", "One rate point: " + "; ".join(
            f"{c.codec} {c.rate[0]:.4g} {kind.rate_unit}, " + ", ".join(
                f"{m.short} {_fmt(c.values[m.key][0], '.2f')}" for m in kind.metrics) for c in single) + "."]
    learned = {n: c.complexity for n, c in curves.items() if c.complexity}
    if learned:
        lines += ["", "| codec | MACs/pixel | parameters |", "|---|---|---|"]
        lines += [f"| {n} | {c.get('macs_per_pixel', '–')} | {c.get('parameters', '–')} |" for n, c in learned.items()]
    if context["notes"]:
        lines += ["", "Notes: " + "; ".join(context["notes"]) + "."]
    lines += ["", "Codec settings: " + "; ".join(f"{n}: {c.description}" for n, c in curves.items()) + "."]
    return "\n".join(lines) + "\n"


def _codec_json(curve: Curve, summary: dict, provenance: dict, kind) -> dict:
    doc = {
        "name": curve.codec,
        "description": curve.description,
        "results": {
            "quality": curve.quality,
            kind.rate_key: curve.rate,
            **curve.values,
            "encoding_time": curve.encode_s,
            "decoding_time": curve.decode_s,
        },
        "speed": {
            "signal_size": curve.speed_size,
            **{f"{w}_{kind.speed_key}": curve.throughput(w, kind.speed_scale) if curve.speed else None
               for w in ("encode", "decode")},
        },
        "summary": {k: {str(r): v for r, v in s.items()} if k.endswith("_at") else s for k, s in summary.items()},
        "provenance": provenance,
    }
    if curve.complexity:
        doc["complexity"] = curve.complexity
    return doc


def _csv(rows: list[dict], kind) -> str:
    fields = ("codec", "quality", "signal", "bytes", "size", kind.rate_key, *(m.key for m in kind.metrics),
              "encode_s", "decode_s")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([kind.name if f == "signal" else f for f in fields])
    for row in sorted(rows, key=lambda r: (r["codec"], r["signal"], r[kind.rate_key])):
        writer.writerow(["" if row[f] is None else row[f] for f in fields])
    return buf.getvalue()


def write_results(out, curves, summary, rows, anchors, provenance, context, kind) -> None:
    """Every results file, each written atomically."""
    for name, curve in curves.items():
        doc = _codec_json(curve, summary[name], provenance, kind)
        atomic_write(out / f"{name}.json", json.dumps(doc, indent=2) + "\n")
    atomic_write(out / f"per_{kind.name}.csv", _csv(rows, kind))
    atomic_write(out / "summary.md", _markdown(curves, summary, anchors, context, kind))
