"""One benchmark run, from the command's options to the files in its results folder.

Load the signals, choose the codecs that can run, measure (cached), summarise, write the
results and plots. Every stop on bad input is a ``BenchError`` with a one-line message.
"""

from pathlib import Path

import click

from . import metrics
from .cache import ResultCache
from .errors import BenchError
from .plots import plot_rd, plot_speed
from .provenance import provenance
from .registry import REGISTRY, select
from .report import BD_RANGE, curves_from_rows, summarise, write_results
from .runner import measure_speed, run_rd, thread_count
from .signals import KINDS, SampleError

__all__ = ["run", "list_codecs", "say", "KODAK"]

REPO = Path(__file__).resolve().parent.parent
KODAK = REPO.parent / "shared" / "data" / "images" / "kodak"
SAMPLES = REPO / "codec" / "data" / "samples"
RESULTS = Path(__file__).resolve().parent / "results"
SECOND_ANCHOR = "heic"  # the BPG stand-in: the bar learned codecs are usually measured against


def say(message: str) -> None:
    click.echo(f"bench: {message}", err=True)


def _default_data() -> Path:
    if KODAK.is_dir():
        say(f"data: Kodak at {KODAK}")
        return KODAK
    say(f"data: {KODAK} not found, using the bundled samples at {SAMPLES}")
    return SAMPLES


def _load_samples(kind, data: Path):
    if not data.is_dir():
        raise BenchError(f"data folder {data} does not exist")
    files = kind.find(data)
    if not files:
        raise BenchError(f"no {kind.name} files in {data} (looked for {', '.join(kind.suffixes)})")
    samples = []
    for path in files:
        try:
            samples.append(kind.load(path))
        except SampleError as exc:
            say(f"skipping {path.name}: {exc}")
    if not samples:
        raise BenchError(f"none of the {len(files)} files in {data} could be read")
    return samples


def list_codecs() -> None:
    for name, adapter in REGISTRY.items():
        reason = adapter.available()
        state = "ok" if reason is None else f"unavailable: {reason}"
        click.echo(f"{name:18} {adapter.kind:6} {state}")
        click.echo(f"{'':25} {adapter.description}; sweep {list(adapter.qualities)}")


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


def _measure(adapters, samples, cache, reps, workers):
    """Curves and per-signal rows of the codecs that ran through, and why the others were dropped."""
    if metrics.ms_ssim_version() is None:
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
    curves = curves_from_rows(result.rows, {a.name: a for a in adapters})
    for name, curve in curves.items():
        curve.speed, curve.speed_size = speeds[name], samples[0].size
    rows = [r for r in result.rows if r["codec"] in curves]
    return curves, rows, failures


def _report(command, curves, rows, notes, data, samples, kind, anchor, reps, workers, out) -> None:
    anchors = list(dict.fromkeys([anchor, SECOND_ANCHOR]))
    summary = summarise(curves, anchors)
    threads = thread_count()
    prov = provenance(command, threads, workers, reps)
    speed_signal = samples[0]
    context = {
        "dataset": data.name,
        "count": len(samples),
        "reps": reps,
        "speed_signal": f"{speed_signal.name} ({speed_signal.data.shape[1]}x{speed_signal.data.shape[0]})",
        "threads": threads,
        "cpu": prov["machine"]["cpu"],
        "cores": prov["machine"]["cores"],
        "command": command,
        "notes": notes,
    }
    write_results(out, curves, summary, rows, anchors, prov, context, signal_column=kind.name)
    on_kodak = data.name.lower() == "kodak"  # the published curves were measured on Kodak only
    title = f"{data.name} ({len(samples)} images)"
    plot_rd(curves, out / "rd_psnr.png", "psnr", f"{title}: RGB PSNR", references=on_kodak)
    plot_rd(curves, out / "rd_msssim.png", "msssim", f"{title}: MS-SSIM", references=on_kodak)
    speed_title = f"{title}: speed vs BD-rate ({BD_RANGE[0]}–{BD_RANGE[1]} bpp)"
    plot_speed(summary, anchor, out / "speed_vs_bdrate.png", speed_title)
    click.echo((out / "summary.md").read_text())
    say(f"wrote {out}")


def run(command, data, codecs, anchor, reps, workers, out) -> None:
    """One benchmark from the command's options to the files in ``out``."""
    kind = KINDS["image"]
    data = data or _default_data()
    samples = _load_samples(kind, data)
    adapters, skipped = _choose_codecs(codecs, kind, anchor)
    out = out or RESULTS / data.name.lower()
    say(f"{len(samples)} images from {data}; codecs {', '.join(a.name for a in adapters)}; results in {out}")
    curves, rows, failures = _measure(adapters, samples, ResultCache(out / "cache"), reps, workers)
    notes = skipped + [f"dropped {n}: {r}" for n, r in failures.items()]
    _report(command, curves, rows, notes, data, samples, kind, anchor, reps, workers, out)
