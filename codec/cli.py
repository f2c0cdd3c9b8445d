"""The ``wavecodec`` command line: encode, decode, info, demo, fit-linear, fit-contexts, train (and bench).

Behaves like the classical codec tools: ``-`` for stdin/stdout, default output names
that never overwrite without ``--force``, atomic writes, one summary line on stderr,
and one-line errors with documented exit codes (a traceback only with ``--debug``).
"""

import contextlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path

import click

from codec.errors import EXIT_CODES, InputError, OutputError, WaveCodecError
from codec.features import cli as features_cli
from codec.zoo import LEARNED_MODEL

__all__ = ["main", "encode_main", "decode_main", "cli"]

EXIT_HELP = "Exit codes:\n\n\b\n" + "\n".join(f"  {code}  {text}" for code, text in sorted(EXIT_CODES.items()))
_NPY_MAGIC = b"\x93NUMPY"
_ARRAY_OUTPUTS = (".npy",)
_IMAGE_OUTPUTS = (".png", ".tif", ".tiff", ".bmp", ".ppm", ".pgm")


def _read_input(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    p = Path(path)
    if not p.exists():
        raise InputError(f"{path}: no such file")
    if p.is_dir():
        raise InputError(f"{path}: is a directory")
    try:
        return p.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from exc


def _write_output(path: str, data: bytes, force: bool) -> None:
    """Write all of ``data`` or nothing: a temporary file in the same folder, then rename."""
    if path == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    with _atomic(path, force) as tmp:
        Path(tmp).write_bytes(data)


def _check_output(path: str, force: bool) -> Path:
    """Refuse an output that cannot be written (missing folder, existing file without --force);
    returns its folder."""
    p = Path(path)
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"{path}: directory {folder} does not exist")
    if p.exists() and not force:
        raise OutputError(f"{path}: already exists (use --force to overwrite)")
    return folder


@contextlib.contextmanager
def _atomic(path: str, force: bool):
    """A temporary path beside ``path``, renamed onto it if the block succeeds, else removed."""
    p = Path(path)
    folder = _check_output(path, force)
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{p.name}.", suffix=".tmp")
        os.close(fd)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc.strerror})") from exc
    try:
        yield tmp
        os.replace(tmp, p)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise OutputError(f"{path}: cannot write ({exc.strerror})") from exc
        raise


def _load_signal(data: bytes, name: str):
    import numpy as np

    if data.startswith(_NPY_MAGIC):
        try:
            return np.load(io.BytesIO(data), allow_pickle=False)
        except ValueError as exc:
            raise InputError(f"{name}: .npy holds Python objects, which are refused ({exc})") from exc
        except Exception as exc:
            raise InputError(f"{name}: not a readable .npy file ({exc})") from exc
    from codec.io.images import read_image

    return read_image(data, name)


def _run(debug: bool, fn, *args):
    """Call fn; turn WaveCodec errors into one line and an exit code."""
    try:
        return fn(*args)
    except WaveCodecError as exc:
        if debug:
            raise
        click.echo(f"wavecodec: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, click.exceptions.Exit, click.ClickException):
        raise
    except Exception as exc:  # a bug: say so in one line unless debugging
        if debug:
            raise
        click.echo(f"wavecodec: internal error: {type(exc).__name__}: {exc} (rerun with --debug)", err=True)
        sys.exit(1)


def _default_output(src: str, suffix: str) -> str:
    return "-" if src == "-" else str(Path(src).with_suffix(suffix))


def _encode(src, output, quality, bpp, mode, layout, max_error, force, quiet, kbps=None, inr=None, **features):
    import codec
    from codec.io.audio import looks_like_audio

    out = output or _default_output(src, ".wlc")
    if mode != "inr" and inr and (inr["effort"] != "fast" or inr["seconds"] is not None or inr["seed"] != 0):
        raise InputError("--effort, --seconds and --seed apply to --mode inr")
    if mode == "features":  # feature tensors: codec/features/cli.py
        return features_cli.encode_file(src, out, quality, max_error, bpp, kbps, force, quiet, **features)
    if src != "-" and Path(src).is_file():
        with open(src, "rb") as f:
            if looks_like_audio(f.read(12)):  # read by libsndfile from the path: held once
                return _encode_audio(src, src, out, quality, bpp, max_error, force, quiet, kbps, mode)
    data = _read_input(src)
    if looks_like_audio(data[:12]):
        return _encode_audio(data, src, out, quality, bpp, max_error, force, quiet, kbps, mode)
    if kbps is not None:
        raise InputError(f"{src}: --kbps applies to audio; use --bpp for images")
    signal = _load_signal(data, src)
    if out != "-":  # before encoding: an INR fit takes minutes
        _check_output(out, force)
    start = time.perf_counter()
    extra = {}
    if mode == "inr":
        extra = dict(inr or {}, progress=None if quiet else _inr_progress)
    stream = codec.encode(signal, quality=quality, mode=mode, bpp=bpp, layout=layout, max_error=max_error, **extra)
    if mode == "inr" and not quiet:
        click.echo("", err=True)
    elapsed = time.perf_counter() - start
    _write_output(out, stream, force)
    if not quiet:
        pixels = signal.shape[1] * signal.shape[2] if layout == "CHW" and signal.ndim == 3 else signal.shape[0] * signal.shape[1]
        q = codec.info(stream).header.quality
        click.echo(f"{src} -> {out}: {len(stream):,} bytes, {len(stream) * 8 / pixels:.4f} bpp, "
                   f"quality {q}, {mode}, encode {elapsed:.3f} s", err=True)


def _inr_progress(step: int, total: int, bpp: float, psnr: float) -> None:
    """One self-overwriting progress line on stderr while the INR mode fits."""
    width = 30
    done = width * step // total
    click.echo(f"\rfitting [{'#' * done}{'.' * (width - done)}] {step}/{total}  {bpp:.3f} bpp (latents)  "
               f"{psnr:.2f} dB", err=True, nl=False)


def _encode_audio(data, src, out, quality, bpp, max_error, force, quiet, kbps, mode="linear"):
    from codec.api import encode_audio, info
    from codec.io.audio import read_audio

    if mode not in ("linear", "learned"):
        raise InputError(f"{src}: audio files are coded by the linear or learned mode, not --mode {mode}")
    if bpp is not None:
        raise InputError(f"{src}: --bpp applies to images; use --kbps for audio")
    if max_error is not None:
        raise InputError(f"{src}: --max-error applies to float32 arrays, not audio files")
    samples, rate, _ = read_audio(data, src)
    start = time.perf_counter()
    stream = encode_audio(samples, rate, quality=quality, kbps=kbps, mode=mode)
    elapsed = time.perf_counter() - start
    _write_output(out, stream, force)
    if not quiet:
        seconds = samples.shape[0] / rate
        q = info(stream).header.quality
        click.echo(f"{src} -> {out}: {len(stream):,} bytes, {len(stream) * 8 / seconds / 1000:.2f} kb/s, "
                   f"{samples.shape[1]} ch {rate} Hz {seconds:.2f} s, quality {q}, {mode}, "
                   f"encode {elapsed:.3f} s", err=True)


def _decode(src, output, force, quiet, **features):
    import numpy as np

    import codec
    from codec.io.images import image_to_bytes

    data = _read_input(src)
    if features_cli.is_features(data):  # feature tensors: codec/features/cli.py
        return features_cli.decode_file(data, src, output, force, quiet, **features)
    start = time.perf_counter()
    array = codec.decode(data)
    elapsed = time.perf_counter() - start
    header = codec.info(data).header
    if header.modality == "audio":
        return _write_audio(src, output, array, header.sample_rate, force, quiet, elapsed)
    needs_array = array.dtype == np.float32 or (array.ndim == 3 and array.shape[2] > 4)
    out = output or _default_output(src, ".npy" if needs_array else ".png")
    suffix = Path(out).suffix.lower() if out != "-" else (".npy" if needs_array else ".png")
    if suffix in _ARRAY_OUTPUTS:
        buf = io.BytesIO()
        np.save(buf, array, allow_pickle=False)
        payload = buf.getvalue()
    elif suffix in _IMAGE_OUTPUTS:
        if needs_array:
            raise OutputError(f"{out}: a {array.dtype} image with shape {array.shape} needs a .npy output")
        payload = image_to_bytes(array, {".tif": "TIFF", ".tiff": "TIFF"}.get(suffix, suffix[1:].upper()))
    else:
        raise OutputError(f"{out}: unknown output type {suffix!r}; use one of {', '.join(_IMAGE_OUTPUTS + _ARRAY_OUTPUTS)}")
    _write_output(out, payload, force)
    if not quiet:
        click.echo(f"{src} -> {out}: {'x'.join(map(str, array.shape))} {array.dtype}, decode {elapsed:.3f} s", err=True)


def _write_audio(src, output, array, rate, force, quiet, elapsed):
    import numpy as np

    from codec.io.audio import AUDIO_OUTPUTS, write_audio

    out = output or _default_output(src, ".wav")
    suffix = Path(out).suffix.lower() if out != "-" else ".wav"
    if suffix in _ARRAY_OUTPUTS:
        buf = io.BytesIO()
        np.save(buf, array, allow_pickle=False)
        payload = buf.getvalue()
    elif suffix in AUDIO_OUTPUTS:
        frames = array if array.ndim == 2 else array[:, None]
        if out == "-":
            payload = write_audio(frames, rate, AUDIO_OUTPUTS[suffix])
        else:  # straight to disk: a long file is not held twice
            with _atomic(out, force) as tmp:
                write_audio(frames, rate, AUDIO_OUTPUTS[suffix], target=tmp)
            payload = None
    else:
        raise OutputError(f"{out}: unknown output type {suffix!r} for audio; use .wav, .flac or .npy")
    if payload is not None:
        _write_output(out, payload, force)
    if not quiet:
        click.echo(f"{src} -> {out}: {'x'.join(map(str, array.shape))} {array.dtype} {rate} Hz, "
                   f"decode {elapsed:.3f} s", err=True)


def _info(src):
    import codec

    click.echo(str(codec.info(_read_input(src))))


_quality = click.option("-q", "--quality", type=click.IntRange(1, 100), default=50, show_default=True,
                        help="Quality 1..100: higher is better and larger (log-linear in the quantiser step).")
_bpp = click.option("--bpp", type=click.FloatRange(min=0, min_open=True), default=None,
                    help="Target bits per pixel (header included); picks the best quality at or under it. "
                         "Overrides --quality. Default: off.")
_mode = click.option("--mode", type=click.Choice(["linear", "learned", "inr", "features"]), default="linear",
                     show_default=True,
                     help="Coding mode: linear (any image, array or audio), learned (RGB images and audio), inr (a network "
                          "fitted to one image of 1..8 channels; slow to encode, see --effort), features "
                          "(.npy/.pt/.safetensors tensors; see the --clip ... --model options).")
_force = click.option("-f", "--force", is_flag=True, help="Overwrite an existing output file. Default: off.")
_quiet = click.option("--quiet", is_flag=True, help="No summary line on stderr. Default: off.")
_debug = click.option("--debug", is_flag=True, help="Show a full traceback on errors. Default: off.")


@click.command("encode", epilog=EXIT_HELP)
@click.argument("src", metavar="IN")
@click.option("-o", "--output", metavar="OUT", help="Output file, '-' for stdout. Default: IN with .wlc "
              "(stdout when IN is '-').")
@_quality
@_bpp
@_mode
@click.option("--layout", type=click.Choice(["HWC", "CHW"]), default="HWC", show_default=True,
              help="Axis order of a 3-D .npy array (channels last or first); image files are always HWC.")
@click.option("--max-error", type=click.FloatRange(min=0, min_open=True), default=None,
              help="float32 .npy only: every decoded value is guaranteed within this distance of the "
                   "original (checked while encoding). Adds a residual layer on top of --quality. Default: off.")
@click.option("--kbps", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Audio only: target total kilobits per second (header included); picks the best "
                   "quality at or under it. Overrides --quality. Default: off.")
@click.option("--effort", type=click.Choice(["fast", "medium", "slow"]), default="fast", show_default=True,
              help="INR mode: fitting steps (750, 2500, 5500; a 768x512 image takes about 2, 6 and 13 "
                   "minutes on 2 CPU cores).")
@click.option("--seconds", type=click.FloatRange(min=0, min_open=True), default=None,
              help="INR mode: fit for about this many seconds instead (as many steps as the first ones' "
                   "pace allows). Default: off.")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True,
              help="INR mode: random seed; the same seed, effort and machine give the same file.")
@features_cli.encode_options
@_force
@_quiet
@_debug
def encode_cmd(src, output, quality, bpp, mode, layout, max_error, kbps, effort, seconds, seed, force, quiet,
               debug, **features):
    """Compress an image (PNG, JPEG, TIFF, ... or .npy) or audio (WAV, FLAC, Ogg) into a .wlc file.

    The input kind is detected from the content; '-' reads stdin. Arrays with 5 or more
    channels (multispectral) are decorrelated by a KLT fitted to the file and stored in it;
    audio with 2 or more channels likewise.
    """
    inr = {"effort": effort, "seconds": seconds, "seed": seed}
    _run(debug, lambda: _encode(src, output, quality, bpp, mode, layout, max_error, force, quiet, kbps, inr,
                                **features))


@click.command("decode", epilog=EXIT_HELP)
@click.argument("src", metavar="IN")
@click.option("-o", "--output", metavar="OUT", help="Output file (.png, .tif, .bmp, .ppm, .npy; .wav, .flac for "
              "audio), '-' for stdout. Default: IN with .png (.npy for float or >4-channel data, .wav for "
              "audio; stdout when IN is '-').")
@features_cli.decode_options
@_force
@_quiet
@_debug
def decode_cmd(src, output, force, quiet, debug, **features):
    """Decompress a .wlc file ('-' for stdin) into an image, audio file or .npy array
    (features files: .npy, .safetensors or .pt tensors)."""
    _run(debug, lambda: _decode(src, output, force, quiet, **features))


@click.command("info", epilog=EXIT_HELP)
@click.argument("src", metavar="FILE")
@_debug
def info_cmd(src, debug):
    """Print every header field of a .wlc file ('-' for stdin)."""
    _run(debug, _info, src)


@click.command("demo", epilog=EXIT_HELP)
@click.option("-q", "--quality", type=click.IntRange(1, 100), default=50, show_default=True,
              help="Quality 1..100.")
@click.option("--image", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Image to use. Default: the bundled kodim23.png.")
@_debug
def demo_cmd(quality, image, debug):
    """Encode and decode a sample image in memory; print bytes, bpp, PSNR and timings."""
    _run(debug, _demo, quality, image)


def _demo(quality, image):
    import numpy as np

    import codec
    from codec.io.images import read_image

    path = Path(image) if image else Path(__file__).parent / "data" / "samples" / "kodim23.png"
    a = read_image(path.read_bytes(), str(path))
    def median_of_5(fn):
        runs, result = [], None
        for _ in range(5):
            start = time.perf_counter()
            result = fn()
            runs.append(time.perf_counter() - start)
        return float(np.median(runs)), result

    times = {}
    times["encode"], stream = median_of_5(lambda: codec.encode(a, quality=quality))
    times["decode"], restored = median_of_5(lambda: codec.decode(stream))
    mse = np.mean((restored.astype(np.float64) - a) ** 2)
    peak = 255.0 if a.dtype == np.uint8 else 65535.0
    psnr = 10 * np.log10(peak**2 / mse) if mse > 0 else float("inf")
    mp = a.shape[0] * a.shape[1] / 1e6
    click.echo(f"image     {path.name} ({a.shape[1]}x{a.shape[0]}, {a.shape[2] if a.ndim == 3 else 1} channels)")
    click.echo(f"quality   {quality} (linear mode)")
    click.echo(f"bytes     {len(stream):,}")
    click.echo(f"bpp       {len(stream) * 8 / (a.shape[0] * a.shape[1]):.4f}")
    click.echo(f"PSNR      {psnr:.2f} dB")
    click.echo(f"encode    {times['encode'] * 1e3:.1f} ms ({mp / times['encode']:.1f} MP/s, median of 5)")
    click.echo(f"decode    {times['decode'] * 1e3:.1f} ms ({mp / times['decode']:.1f} MP/s, median of 5)")
    if a.ndim == 3 and a.shape[2] == 3:  # the learned mode: same quantiser, context coding, network
        seconds, learned = median_of_5(lambda: codec.encode(a, quality=quality, mode="learned"))
        decode_seconds, restored = median_of_5(lambda: codec.decode(learned))
        mse = np.mean((restored.astype(np.float64) - a) ** 2)
        gain = 10 * np.log10(peak**2 / mse) - psnr if mse > 0 else float("inf")
        click.echo(f"learned   {len(learned):,} bytes ({100 * (len(learned) / len(stream) - 1):+.1f}%), "
                   f"PSNR {psnr + gain:.2f} dB ({gain:+.2f} dB), encode {seconds * 1e3:.1f} ms, "
                   f"decode {decode_seconds * 1e3:.1f} ms (medians of 5)")


@click.command("fit-linear")
@click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False),
              help="Folder of training photographs (e.g. ../shared/data/images/train). Never Kodak.")
@click.option("-o", "--output", default="codec/data/linear-v1.npz", show_default=True, help="Model file to write.")
@click.option("--images", type=click.IntRange(1), default=200, show_default=True, help="Images sampled from DATA.")
@click.option("--seed", type=int, default=0, show_default=True, help="Sampling seed.")
@_debug
def fit_linear_cmd(data_dir, output, images, seed, debug):
    """Fit the linear mode's KLTs and tables (writes the shipped model file)."""
    def fit():
        from codec.modes.linear_model import fit_linear_model

        if not Path(data_dir).is_dir():
            raise InputError(f"{data_dir}: training folder not found")
        try:
            path = fit_linear_model(data_dir, output, n_images=images, seed=seed)
        except FileNotFoundError as exc:
            raise InputError(str(exc)) from exc
        import hashlib

        click.echo(f"wrote {path} (sha256 {hashlib.sha256(path.read_bytes()).hexdigest()})")

    _run(debug, fit)


@click.command("fit-contexts")
@click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False),
              help="Folder of training photographs (its training split is used). Never Kodak.")
@click.option("--decoder", "decoder_path", required=True, type=click.Path(dir_okay=False),
              help="Learned model file from 'wavecodec train' (OUT/learned.npz); its decoder is kept.")
@click.option("-o", "--output", default=f"codec/data/{LEARNED_MODEL}.npz", show_default=True, help="Model file to write.")
@click.option("--images", type=click.IntRange(1), default=None, help="Use this many training images (default: all).")
@_quiet
@_debug
def fit_contexts_cmd(data_dir, decoder_path, output, images, quiet, debug):
    """Fit the learned mode's entropy-model context tables (writes the shipped model file)."""
    def fit():
        import hashlib

        from codec.train.contexts import fit_contexts_file

        if not Path(data_dir).is_dir():
            raise InputError(f"{data_dir}: training folder not found")
        if not Path(decoder_path).is_file():
            raise InputError(f"{decoder_path}: decoder model file not found")
        if not Path(output).resolve().parent.is_dir():
            raise OutputError(f"{output}: directory {Path(output).parent} does not exist")
        done = None if quiet else (lambda i: click.echo(f"\r{i} images", nl=False, err=True))
        try:
            path, saved = fit_contexts_file(data_dir, decoder_path, output, images, done)
        except (FileNotFoundError, ValueError) as exc:
            raise InputError(str(exc)) from exc
        if done:
            click.echo("", err=True)
        click.echo("bits saved on the training symbols: " + ", ".join(f"{k} {100 * v:.1f}%" for k, v in saved.items()))
        click.echo(f"wrote {path} (sha256 {hashlib.sha256(path.read_bytes()).hexdigest()})")

    _run(debug, fit)


@click.command("train")
@click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False),
              help="Folder of training photographs (e.g. ../shared/data/images/train). Never Kodak.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Run folder: checkpoint.pt, log.jsonl and the model file learned.npz. Resumes if it "
                   "holds a checkpoint.")
@click.option("--preset", type=click.Choice(["cpu", "cuda", "tiny"]), default=None,
              help="Training length and batch. Default: cuda when a GPU is present, else cpu.")
@click.option("--steps", type=click.IntRange(1), default=None, help="Override the preset's step count.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for weights, crops and noise.")
@click.option("--device", default=None, help="torch device. Default: cuda if available, else cpu.")
@_quiet
@_debug
def train_cmd(data_dir, out_dir, preset, steps, seed, device, quiet, debug):
    """Train the learned mode's model on photographs (writes OUT/learned.npz)."""
    def run():
        import hashlib

        from codec.train.loop import train

        if not Path(data_dir).is_dir():
            raise InputError(f"{data_dir}: training folder not found")
        try:
            path = train(data_dir, out_dir, preset=preset, steps=steps, seed=seed, device=device,
                         progress=not quiet)
        except (FileNotFoundError, ValueError) as exc:
            raise InputError(str(exc)) from exc
        click.echo(f"wrote {path} (sha256 {hashlib.sha256(path.read_bytes()).hexdigest()})")

    _run(debug, run)


_FEATURE_COMMANDS = {"calibrate": "calibrate_cmd", "train-features": "train_features_cmd"}


class _Group(click.Group):
    """Loads ``bench`` (benchmarks/, heavy imports) only when it is asked for."""

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | {"bench"} | set(_FEATURE_COMMANDS))

    def get_command(self, ctx, name):
        if name in _FEATURE_COMMANDS and name not in self.commands:  # feature coding commands
            self.add_command(getattr(features_cli, _FEATURE_COMMANDS[name]))
        if name == "bench" and name not in self.commands:
            try:
                from benchmarks.cli import bench
            except ImportError as exc:
                raise click.UsageError(f"'bench' needs the benchmarks package of a source checkout ({exc})")
            self.add_command(bench)
        return super().get_command(ctx, name)


@click.group(cls=_Group, epilog=EXIT_HELP)
@click.version_option(package_name="wavecodec")
def cli():
    """WaveCodec: wavelet-packet compression for images and other signals."""


for _command in (encode_cmd, decode_cmd, info_cmd, demo_cmd, fit_linear_cmd, fit_contexts_cmd, train_cmd):
    cli.add_command(_command)


def main():
    cli(prog_name="wavecodec")


def encode_main():
    encode_cmd(prog_name="wavecodec-encode")


def decode_main():
    decode_cmd(prog_name="wavecodec-decode")
