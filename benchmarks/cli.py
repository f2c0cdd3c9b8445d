"""``wavecodec bench``: measure rate-distortion and speed, write tables, JSON, CSV and plots.

Everything lands in ``--out`` (results files written atomically, measurements cached under
``--out/cache`` so an interrupted run resumes when the same command is run again).
Exit codes: 0 done, 2 bad option (e.g. unknown codec), 3 bad input (no readable images, no
codec can run, a harness dependency missing), 5 a results file cannot be written, 130 interrupted.
The harness (numpy, matplotlib, scipy, torch for MS-SSIM) is imported only when the command
runs, so registering it in the ``wavecodec`` group costs the other commands nothing.
"""

import shlex
import sys
from pathlib import Path

import click
from click.core import ParameterSource

from .errors import BenchError

__all__ = ["bench"]


def _command(ctx: click.Context) -> str:
    """The command as typed, rebuilt from the options given on the command line."""
    words = shlex.split(ctx.command_path)
    for param in ctx.command.params:
        if ctx.get_parameter_source(param.name) == ParameterSource.COMMANDLINE:
            words += [param.opts[0], str(ctx.params[param.name])]
    return shlex.join(words)


@click.command("bench")
@click.option("--kind", type=click.Choice(["image", "audio", "array"]), default="image", show_default=True,
              help="Signals to benchmark: images (bpp, RGB PSNR, MS-SSIM), audio (kb/s, SNR, SI-SDR) or "
              "N-band uint8 arrays (bits per sample, PSNR).")
@click.option("--data", type=click.Path(path_type=Path), default=None,
              help="image: a folder of images, default ../shared/data/images/kodak (beside the repository) "
              "when it exists, else the bundled samples. audio: a folder with music/, samples/, speech/ "
              "(held-out clips chosen from it), default ../shared/data/audio/train. array: an HxWxC uint8 "
              ".npy file or a folder of them, default ../shared/data/multispectral/L7_ETMs.npy.")
@click.option("--codecs", default=None, metavar="A,B,...",
              help="Comma-separated codec names (see --list). Default: every registered codec of --kind "
              "except the opt-in ones (too slow to run unasked, e.g. wavecodec-inr).")
@click.option("--anchor", default=None,
              help="Codec the BD-rates are measured against. Default: jpeg (image), opus (audio), "
              "jpeg2000-band (array); a second BD-rate column is against heic, mp3 or jpeg2000-band-rates.")
@click.option("--reps", type=click.IntRange(min=1), default=3, show_default=True,
              help="Timed runs per speed point; the median is reported.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes measuring rate-distortion in parallel (over signals).")
@click.option("--limit", type=click.IntRange(min=1), default=None, metavar="N",
              help="Only the first N signals (in file-name order; audio: the held-out clips in order), e.g. "
              "for slow codecs on a subset. Every codec, the anchors included, is measured on the same N.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Results folder. Default: benchmarks/results/<data folder name> for images, "
              "benchmarks/results/<kind>-<data name> otherwise.")
@click.option("--list", "list_codecs", is_flag=True,
              help="List the codecs, whether they can run here, and their sweeps.")
@click.pass_context
def bench(ctx, kind, data, codecs, anchor, reps, workers, limit, out, list_codecs):
    """Rate-distortion and speed of WaveCodec and the classical codecs on images, audio or arrays."""
    try:
        from . import pipeline
    except ImportError as exc:
        click.echo(f"bench: error: the benchmark needs {exc.name} (pip install 'wavecodec[bench]')", err=True)
        ctx.exit(3)
    if list_codecs:
        pipeline.list_codecs()
        return
    try:
        pipeline.run(_command(ctx), data, codecs, anchor, reps, workers, out, kind, limit)
    except BenchError as exc:
        pipeline.say(f"error: {exc}")
        ctx.exit(exc.exit_code)
    except OSError as exc:  # e.g. --out on a read-only disk
        pipeline.say(f"error: {exc}")
        ctx.exit(5)
    except KeyboardInterrupt:
        pipeline.say("interrupted; finished points are cached: run the same command again to resume")
        sys.exit(130)
