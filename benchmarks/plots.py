"""The figures: rate-distortion curves (one per metric of the signal kind) and speed against BD-rate.

Measured curves are solid; published reference results are dashed, marked hollow and labelled
with their source, and drawn only on Kodak, the data set they were measured on.
"""

import io
import math

import matplotlib

matplotlib.use("Agg")  # files only: no display needed, none assumed
import matplotlib.pyplot as plt  # noqa: E402

from .cache import atomic_write  # noqa: E402
from .references import KODAK_PSNR  # noqa: E402

__all__ = ["plot_rd", "plot_speed"]

REFERENCE_MARKERS = ("s", "^", "D", "v", "P", "X", "*", "h")


def _save(fig, path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    atomic_write(path, buf.getvalue())


def _visible(xs, ys, limit):
    """Points up to the first one past ``limit`` (so the line runs to the plot's edge)."""
    out = []
    for x, y in zip(xs, ys):
        if y is not None:
            out.append((x, y))
        if x > limit:
            break
    return [p[0] for p in out], [p[1] for p in out]


def _msssim_db(value):
    return None if value is None else -10 * math.log10(max(1 - value, 1e-10))


def plot_rd(curves, path, metric, kind, title: str, references: bool) -> None:
    """``metric`` is one of ``kind.metrics``; MS-SSIM is shown in dB, -10 log10(1 - MS-SSIM), as papers do."""
    fig, ax = plt.subplots(figsize=(9, 6))
    limit = kind.plot_max_rate or math.inf
    if not all(c.rate[0] <= limit for c in curves.values()):
        limit = math.inf
    drawn = 0
    for curve in curves.values():
        ys = curve.values[metric.key]
        if metric.key.startswith("ms-ssim"):
            ys = [_msssim_db(v) for v in ys]
        xs, ys = _visible(curve.rate, ys, limit)
        if xs:
            ax.plot(xs, ys, marker="o", markersize=3, label=curve.codec)
            drawn += 1
    references = references and metric.key == "psnr-rgb"
    if references:
        for ref, marker in zip(KODAK_PSNR, REFERENCE_MARKERS):
            label = f"{ref.name} (published)"
            ax.plot(ref.bpp, ref.psnr, "--", color="0.35", marker=marker, markerfacecolor="none", label=label)
        sources = "\n".join(f"{ref.name}: {ref.source}" for ref in KODAK_PSNR)
        caption = "Published results (dashed), not re-run here:\n" + sources
        ax.text(0, -0.12, caption, transform=ax.transAxes, va="top", fontsize=7)
    if not drawn:
        message = "no values (MS-SSIM needs images of at least 161 px a side)"
        ax.text(0.5, 0.5, message, ha="center", transform=ax.transAxes)
    if limit < math.inf:
        ax.set_xlim(0, limit)
    ax.set_xlabel(kind.rate_label)
    ax.set_ylabel(metric.label)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if drawn or references:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    _save(fig, path)


def plot_speed(summary, anchor: str, kind, path, title: str) -> None:
    """Encode (filled) and decode (hollow) throughput against BD-rate: down and right is better."""
    fig, ax = plt.subplots(figsize=(8, 6))
    for name, s in summary.items():
        bd = s["bd_rate"].get(anchor)
        enc, dec = s[f"encode_{kind.speed_key}"], s[f"decode_{kind.speed_key}"]
        if bd is None or enc is None:
            continue
        (line,) = ax.plot([enc, dec], [bd, bd], linewidth=0.8)
        ax.plot(enc, bd, "o", color=line.get_color())
        ax.plot(dec, bd, "o", markerfacecolor="none", color=line.get_color())
        ax.annotate(name, (enc, bd), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel(f"throughput ({kind.speed_unit}, log scale): ● encode, ○ decode")
    ax.set_ylabel(f"BD-rate vs {anchor} (%), lower is better")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    _save(fig, path)
