"""One benchmark run, from the command's options to the files in its results folder.

Load the signals of one kind (images, audio, arrays), choose the codecs that can run, measure
(cached), summarise, write the results and plots. Every stop on bad input is a ``BenchError`` with
a one-line message.
"""

from pathlib import Path

import click

from . import metrics
from .cache import ResultCache
from .errors import BenchError
from .plots import plot_rd, plot_speed
from .provenance import provenance
from .registry import KINDS, REGISTRY, select
from .report import curves_from_rows, summarise, write_results
from .runner import measure_speed, run_rd, thread_count

__all__ = ["run", "list_codecs", "say"]

RESULTS = Path(__file__).resolve().parent / "results"


def say(message: str) -> None:
    click.echo(f"bench: {message}", err=True)


def list_codecs() -> None:
    for name, adapter in REGISTRY.items():
        reason = adapter.available()
        state = "ok" if reason is None else f"unavailable: {reason}"
        if adapter.opt_in:
            state += "; opt-in: runs only when named in --codecs"
        click.echo(f"{name:20} {adapter.kind:6} {state}")
        click.echo(f"{'':27} {adapter.description}; sweep {list(adapter.qualities)}")


def _choose_codecs(codecs: str | None, kind, anchor: str):
    names = [n.strip() for n in codecs.split(",") if n.strip()] if codecs else None
    adapters, skipped = select(names, kind.name)
    for message in skipped:
        say(message)
    if not adapters:
        raise BenchError("no codec can run here: " + "; ".join(skipped))
    if anchor not in {a.name for a in adapters}:
        say(f"anchor {anchor} is not in this run: its BD-rate column stays empty")
    return adapters, skipped


def _measure(adapters, samples, kind, cache, reps, workers):
    """Curves and per-signal rows of the codecs that ran through, and why the others were dropped."""
    if kind.name == "image" and metrics.ms_ssim_version() is None:
        say("pytorch-msssim not installed: MS-SSIM left empty (pip install pytorch-msssim)")
    result = run_rd(adapters, samples, cache, workers)
    say(f"{result.computed} points measured, {len(result.rows) - result.computed} taken from {cache.root}")
    adapters = [a for a in adapters if a.name not in result.failures]
    speeds, speed_failures = measure_speed(adapters, samples[0], reps, cache)
    failures = {**result.failures, **speed_failures}
    for name, reason in failures.items():
        say(f"dropping {name}: {reason}")
    adapters = [a for a in adapters if a.name not in failures]
    if not adapters:
        raise BenchError("every codec failed: " + "; ".join(f"{n}: {r}" for n, r in failures.items()))
    curves = curves_from_rows(result.rows, {a.name: a for a in adapters}, kind)
    for name, curve in curves.items():
        curve.speed, curve.speed_size = speeds[name], samples[0].size
    rows = [r for r in result.rows if r["codec"] in curves]
    return curves, rows, failures


def _report(command, curves, rows, notes, data, samples, kind, anchor, reps, workers, out, limit=None) -> None:
    anchors = list(dict.fromkeys([anchor, *kind.anchors[1:]]))
    summary = summarise(curves, anchors, kind)
    threads = thread_count()
    prov = {**provenance(command, threads, workers, reps), "limit": limit}
    context = {
        "dataset": data.name,
        "count": len(samples),
        "reps": reps,
        "speed_signal": f"{samples[0].name} ({samples[0].shape})",
        "threads": threads,
        "cpu": prov["machine"]["cpu"],
        "cores": prov["machine"]["cores"],
        "command": command,
        "notes": notes,
    }
    write_results(out, curves, summary, rows, anchors, prov, context, kind)
    on_kodak = kind.name == "image" and data.name.lower() == "kodak"  # the published curves: Kodak only
    title = f"{data.name} ({len(samples)} {kind.noun})"
    for metric in kind.metrics:
        plot_rd(curves, out / metric.plot, metric, kind, f"{title}: {metric.label.split(' (')[0]}", on_kodak)
    over = f"{kind.bd_range[0]}–{kind.bd_range[1]} {kind.rate_unit}" if kind.bd_range else "overlapping rates"
    plot_speed(summary, anchor, kind, out / "speed_vs_bdrate.png", f"{title}: speed vs BD-rate ({over})")
    click.echo((out / "summary.md").read_text())
    say(f"wrote {out}")


def run(command, data, codecs, anchor, reps, workers, out, kind="image", limit=None) -> None:
    """One benchmark from the command's options to the files in ``out``.

    ``limit`` keeps the first N signals only. It cuts the one sample list every codec is measured
    on, so the anchors' BD-rate points come from the same subset (rows are looked up per signal).
    """
    kind = KINDS[kind]
    anchor = anchor or kind.anchors[0]
    adapters, skipped = _choose_codecs(codecs, kind, anchor)
    data = data or kind.default_data(say)
    samples = kind.samples(data, say)
    subset = []
    if limit is not None and limit < len(samples):
        first, last = samples[0].name, samples[limit - 1].name
        subset.append(f"--limit {limit}: the first {limit} of {len(samples)} {kind.noun} ({first} .. {last}), "
                      "every codec on the same ones")
        samples = samples[:limit]
    out = out or RESULTS / kind.results_name(data)
    say(f"{len(samples)} {kind.noun} from {data}; codecs {', '.join(a.name for a in adapters)}; results in {out}")
    curves, rows, failures = _measure(adapters, samples, kind, ResultCache(out / "cache"), reps, workers)
    notes = subset + skipped + [f"dropped {n}: {r}" for n, r in failures.items()]
    _report(command, curves, rows, notes, data, samples, kind, anchor, reps, workers, out, limit)
