"""Command-line side of feature coding: ``encode --mode features`` options, decoding of
features files, and the ``calibrate`` and ``train-features`` commands.

Only click is imported here at load time (``wavecodec --help`` stays fast); numpy and torch
load when a command runs. Errors follow ``codec.cli``: one line, documented exit codes,
atomic outputs.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

__all__ = [
    "calibrate_cmd",
    "decode_file",
    "decode_options",
    "encode_file",
    "encode_options",
    "is_features",
    "train_features_cmd",
]

_NORMS = ("none", "global", "channel")
_TRANSFORMS = ("none", "klt", "wpt", "learned")

_ENCODE_OPTIONS = [
    click.option("--clip", default="none", show_default=True, metavar="SPEC",
                 help="Features: clipping before quantisation: none, fixed:LO,HI, percentile:P (the P-th and "
                      "(100-P)-th percentiles, 0 < P < 50) or sigma:K (mean +- K standard deviations)."),
    click.option("--norm", type=click.Choice(_NORMS), default="global", show_default=True,
                 help="Features: normalisation (global mean/std, or per channel). --quality's step is in "
                      "normalised units."),
    click.option("--transform", type=click.Choice(_TRANSFORMS), default="none", show_default=True,
                 help="Features: none, klt (across channels), wpt (wavelet packets along spatial/token axes) "
                      "or learned (a bottleneck from train-features, with --model)."),
    click.option("--levels", type=click.IntRange(1, 5), default=2, show_default=True,
                 help="Features: wavelet packet levels for --transform wpt."),
    click.option("--bits", type=click.IntRange(1, 16), default=None,
                 help="Features: uniform quantisation to 2**BITS levels over the coded range instead of "
                      "--quality. Default: off."),
    click.option("--lossless", is_flag=True, help="Features: float16/bfloat16 bit-exact (NaN, Inf, subnormals "
                 "kept). Default: off."),
    click.option("--channels-last", is_flag=True, help="Features: the channel axis is the last one (NHWC, "
                 "tokens x hidden), not axis 1. Default: off."),
    click.option("--profile", type=click.Path(dir_okay=False), default=None,
                 help="Features: calibration profile from 'wavecodec calibrate' (statistics are then not "
                      "stored in the file; decoding needs the same profile). Default: none."),
    click.option("--model", "bottleneck", type=click.Path(dir_okay=False), default=None,
                 help="Features: bottleneck model from 'wavecodec train-features' (--transform learned; "
                      "decoding needs it too). Default: none."),
]


def encode_options(f):
    for option in reversed(_ENCODE_OPTIONS):
        f = option(f)
    return f


def decode_options(f):
    f = click.option("--model", "bottleneck", type=click.Path(dir_okay=False), default=None,
                     help="Features files: the bottleneck model they were coded with.")(f)
    return click.option("--profile", type=click.Path(dir_okay=False), default=None,
                        help="Features files: the calibration profile they were coded with.")(f)


def _parse_clip(spec: str):
    from codec.errors import InputError

    kind, _, rest = spec.partition(":")
    try:
        values = [float(v) for v in rest.split(",")] if rest else []
    except ValueError:
        raise InputError(f"--clip {spec!r}: values must be numbers") from None
    wanted = {"none": 0, "fixed": 2, "percentile": 1, "sigma": 1}
    if kind not in wanted or len(values) != wanted[kind]:
        raise InputError(f"--clip {spec!r}: use none, fixed:LO,HI, percentile:P or sigma:K")
    return None if kind == "none" else (kind, *values)


def is_features(data: bytes) -> bool:
    from codec import bitstream

    try:
        return bitstream.looks_like_wlc(data) and bitstream.read_header(data).mode == "features"
    except Exception:  # noqa: BLE001 - not a readable header: the image/audio path reports it
        return False


def encode_file(src, out, quality, max_error, bpp, kbps, force, quiet, clip, norm, transform, levels, bits,
                lossless, channels_last, profile, bottleneck):
    from codec.cli import _read_input, _write_output
    from codec.errors import InputError
    from codec.features import encode_features
    from codec.features.io import read_tensors

    if bpp is not None or kbps is not None:
        raise InputError("--bpp and --kbps do not apply to --mode features; use --quality or --bits")
    tensors = read_tensors(_read_input(src), src)
    start = time.perf_counter()
    stream = encode_features(tensors, quality=quality, bits=bits, lossless=lossless, clip=_parse_clip(clip),
                             norm=norm, transform=transform, levels=levels, channels_last=channels_last,
                             max_error=max_error, profile=profile, model=bottleneck)
    elapsed = time.perf_counter() - start
    _write_output(out, stream, force)
    if not quiet:
        values = sum(t.array.size for t in tensors)
        click.echo(f"{src} -> {out}: {len(stream):,} bytes, {len(tensors)} tensor(s), {values:,} values, "
                   f"{len(stream) * 8 / values:.4f} bits per value, features, encode {elapsed:.3f} s", err=True)


def decode_file(data, src, output, force, quiet, profile, bottleneck):
    from codec.cli import _default_output, _write_output
    from codec.features import decode_features
    from codec.features.io import SINGLE_NAME, format_of_suffix, write_tensors

    start = time.perf_counter()
    tensors = decode_features(data, profile=profile, model=bottleneck, exact=True)
    elapsed = time.perf_counter() - start
    single = len(tensors) == 1 and tensors[0].name == SINGLE_NAME and tensors[0].dtype != "bfloat16"
    default = ".npy" if single else ".safetensors"
    out = output or _default_output(src, default)
    fmt = format_of_suffix(Path(out).suffix if out != "-" else default)
    _write_output(out, write_tensors(tensors, fmt), force)
    if not quiet:
        click.echo(f"{src} -> {out}: {len(tensors)} tensor(s), decode {elapsed:.3f} s", err=True)


_force = click.option("-f", "--force", is_flag=True, help="Overwrite an existing output file. Default: off.")
_debug = click.option("--debug", is_flag=True, help="Show a full traceback on errors. Default: off.")


@click.command("calibrate")
@click.argument("files", metavar="FEATURE_FILES...", nargs=-1, required=True)
@click.option("-o", "--output", required=True, metavar="PROFILE", help="Profile file to write (.npz).")
@click.option("--clip", default="none", show_default=True, metavar="SPEC", help="As for encode --mode features.")
@click.option("--norm", type=click.Choice(_NORMS), default="global", show_default=True, help="As for encode.")
@click.option("--transform", type=click.Choice(("none", "klt", "wpt")), default="none", show_default=True,
              help="As for encode (the KLT is fitted here).")
@click.option("--channels-last", is_flag=True, help="As for encode. Default: off.")
@_force
@_debug
def calibrate_cmd(files, output, clip, norm, transform, channels_last, force, debug):
    """Fit a calibration profile (clip range, normalisation, KLT per tensor name) on feature files
    (.npy, .pt, .safetensors), so that coded files need not carry these statistics."""
    from codec.cli import _run

    def run():
        import hashlib

        from codec.cli import _read_input, _write_output
        from codec.features.calibrate import calibrate
        from codec.features.io import read_tensors
        from codec.features.pipeline import Pipeline

        c = _parse_clip(clip) or ("none",)
        a, b = (list(c[1:]) + [0.0, 0.0])[:2]
        p = Pipeline(clip=c[0], clip_a=a, clip_b=b, norm=norm, transform=transform, channels_last=channels_last)
        raw = calibrate([read_tensors(_read_input(f), f) for f in files], p)
        _write_output(output, raw, force)
        click.echo(f"wrote {output} ({len(raw):,} bytes, sha256 {hashlib.sha256(raw).hexdigest()[:16]}...)", err=True)

    _run(debug, run)


@click.command("train-features")
@click.argument("files", metavar="FEATURE_FILES...", nargs=-1, required=True)
@click.option("-o", "--output", required=True, metavar="MODEL", help="Bottleneck model file to write (.pt).")
@click.option("--tensor", default=None, help="Name of the tensor to train on. Default: the first of each file.")
@click.option("--latent-channels", type=click.IntRange(1, 4096), default=8, show_default=True)
@click.option("--hidden", type=click.IntRange(1, 4096), default=64, show_default=True)
@click.option("--stride", type=click.Choice(["1", "2"]), default="1", show_default=True,
              help="Spatial downsampling of the latents.")
@click.option("--beta", type=click.FloatRange(min=0), default=0.01, show_default=True,
              help="Rate weight: loss = feature MSE (normalised) + beta * bits per feature value.")
@click.option("--steps", type=click.IntRange(1), default=2000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@_force
@_debug
def train_features_cmd(files, output, tensor, latent_channels, hidden, stride, beta, steps, seed, force, debug):
    """Train a learned bottleneck on (N, C, H, W) feature files by feature distillation (no task
    network here: benchmarks/features.py shows the task-aware version)."""
    from codec.cli import _run

    def run():
        import numpy as np

        from codec.cli import _read_input, _write_output
        from codec.errors import InputError
        from codec.features.bottleneck import BottleneckConfig, train_bottleneck
        from codec.features.io import read_tensors

        parts = []
        for f in files:
            tensors = read_tensors(_read_input(f), f)
            chosen = [t for t in tensors if tensor is None or t.name == tensor][:1]
            if not chosen:
                raise InputError(f"{f}: no tensor named {tensor!r}")
            parts.append(chosen[0].values())
        if len({p.shape[1:] for p in parts}) != 1 or parts[0].ndim != 4:
            raise InputError("train-features needs (N, C, H, W) tensors of one shape beyond N")
        x = np.concatenate(parts)
        cfg = BottleneckConfig(x.shape[1], latent_channels, hidden, int(stride))
        b = train_bottleneck(x, cfg, beta=beta, steps=steps, seed=seed, log=lambda s: click.echo(s, err=True))
        _write_output(output, b.save(), force)
        click.echo(f"wrote {output} ({len(b.save()):,} bytes, sha256 {b.short_hash.hex()}...)", err=True)

    _run(debug, run)
