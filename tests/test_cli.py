"""The command line: round trips, names, stdin/stdout, and one clear line per bad input."""

import hashlib
import io
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import codec

WAVECODEC = [sys.executable, "-c", "from codec.cli import main; main()"]


def run(*args, stdin=b""):
    return subprocess.run([*WAVECODEC, *map(str, args)], input=stdin, capture_output=True)


@pytest.fixture
def png(tmp_path, sample_rgb):
    path = tmp_path / "img.png"
    Image.fromarray(sample_rgb).save(path)
    return path


def test_encode_then_decode_with_default_names(png, sample_rgb):
    r = run("encode", png, "-q", "60")
    assert r.returncode == 0, r.stderr
    wlc = png.with_suffix(".wlc")
    assert wlc.exists() and b"bpp" in r.stderr
    png.unlink()
    r = run("decode", wlc)
    assert r.returncode == 0, r.stderr
    out = np.asarray(Image.open(png))
    assert out.shape == sample_rgb.shape


def test_existing_outputs_are_kept_unless_forced(png):
    wlc = png.with_suffix(".wlc")
    wlc.write_bytes(b"precious")
    r = run("encode", png)
    assert r.returncode == 5 and b"already exists" in r.stderr
    assert wlc.read_bytes() == b"precious"
    assert run("encode", png, "--force").returncode == 0
    assert codec.info(wlc.read_bytes()).header.mode == "linear"


def test_inr_encode_refuses_an_existing_output_before_fitting(png):
    wlc = png.with_suffix(".wlc")
    wlc.write_bytes(b"precious")
    r = run("encode", png, "--mode", "inr", "--effort", "slow")
    assert r.returncode == 5 and b"already exists" in r.stderr
    assert b"fitting" not in r.stderr  # no progress line: refused before the fit started
    assert wlc.read_bytes() == b"precious"


def test_stdin_to_stdout_pipeline(png, sample_rgb):
    enc = run("encode", "-", "--quiet", stdin=png.read_bytes())
    assert enc.returncode == 0 and enc.stderr == b""
    dec = run("decode", "-", "--quiet", stdin=enc.stdout)
    assert dec.returncode == 0
    assert np.asarray(Image.open(io.BytesIO(dec.stdout))).shape == sample_rgb.shape


def test_bpp_option_and_info(png, tmp_path):
    out = tmp_path / "x.wlc"
    assert run("encode", png, "--bpp", "1.5", "-o", out).returncode == 0
    bpp = out.stat().st_size * 8 / (96 * 128)
    assert 1.5 * 0.95 <= bpp <= 1.5
    r = run("info", out)
    assert r.returncode == 0
    for field in (b"format version", b"mode", b"shape", b"chunk lengths", b"model hash"):
        assert field in r.stdout


def test_npy_round_trip_for_float_arrays(tmp_path):
    a = np.linspace(-1, 1, 40 * 30, dtype=np.float32).reshape(40, 30)
    src = tmp_path / "a.npy"
    np.save(src, a)
    assert run("encode", src, "-q", "90").returncode == 0
    assert run("decode", tmp_path / "a.wlc", "-o", tmp_path / "b.npy").returncode == 0
    assert np.abs(np.load(tmp_path / "b.npy") - a).max() < 0.05


def test_help_states_defaults_ranges_and_exit_codes():
    text = b" ".join(run("encode", "--help").stdout.split())
    assert b"1..100" in text and b"default: 50" in text and b"Exit codes" in text


def _corruptions(valid: bytes) -> dict:
    flipped = bytearray(valid)
    flipped[len(valid) // 2] ^= 0x10
    newer = bytearray(valid)
    newer[4] = 99
    return {
        "truncated": (valid[: len(valid) // 2], b"truncated"),
        "bit-flipped": (bytes(flipped), b"checksum"),
        "wrong magic": (b"\x89PNG" + valid[4:], b"bad magic"),
        "unknown version": (bytes(newer), b"newer"),
        "empty": (b"", b"empty"),
    }


def _assert_clean_failure(r, code, message, outdir):
    assert r.returncode == code, (r.returncode, r.stderr)
    lines = r.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wavecodec: error:") and "Traceback" not in r.stderr.decode()
    assert message in r.stderr.lower() or message in r.stderr
    assert not any(p.name.endswith(".tmp") for p in outdir.iterdir())


def test_bad_compressed_files_fail_cleanly(tmp_path, png):
    valid = tmp_path / "good.wlc"
    assert run("encode", png, "-o", valid).returncode == 0
    for name, (data, message) in _corruptions(valid.read_bytes()).items():
        bad = tmp_path / "bad.wlc"
        bad.write_bytes(data)
        before = hashlib.sha256(data).digest()
        r = run("decode", bad, "-o", tmp_path / "out.png")
        expected_code = 4
        _assert_clean_failure(r, expected_code, message, tmp_path)
        assert not (tmp_path / "out.png").exists(), name
        assert hashlib.sha256(bad.read_bytes()).digest() == before


def test_unknown_mode_and_absurd_size_fail_cleanly(tmp_path, png):
    from codec import bitstream

    valid = tmp_path / "good.wlc"
    run("encode", png, "-o", valid)
    header, chunks = bitstream.unpack(valid.read_bytes())
    raw = bytearray(valid.read_bytes())
    raw[10] = 77  # mode id byte (see docs/FORMAT.md), then fix the header CRC
    import struct
    import zlib

    size = struct.unpack_from("<I", raw, 6)[0]
    crc_at = 10 + size - 4
    struct.pack_into("<I", raw, crc_at, zlib.crc32(raw[:crc_at]))
    (tmp_path / "mode.wlc").write_bytes(raw)
    _assert_clean_failure(run("decode", tmp_path / "mode.wlc", "-o", tmp_path / "o.png"), 4, b"mode", tmp_path)
    assert not (tmp_path / "o.png").exists()

    huge = bytearray(valid.read_bytes())
    at = huge.find(struct.pack("<III", 96, 128, 3))
    struct.pack_into("<III", huge, at, 1 << 20, 1 << 20, 3)
    struct.pack_into("<I", huge, crc_at, zlib.crc32(huge[:crc_at]))
    (tmp_path / "huge.wlc").write_bytes(huge)
    _assert_clean_failure(run("decode", tmp_path / "huge.wlc", "-o", tmp_path / "o.png"), 4, b"limit", tmp_path)


@pytest.mark.parametrize("content, message", [
    (b"hello, I am a text file\n", b"not a readable image"),
    (b"", b"empty"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, b"not a readable image"),
])
def test_bad_images_fail_cleanly(tmp_path, content, message):
    src = tmp_path / "in.png"
    src.write_bytes(content)
    r = run("encode", src)
    _assert_clean_failure(r, 3, message, tmp_path)
    assert not src.with_suffix(".wlc").exists()
    assert src.read_bytes() == content


def test_pickled_npy_is_refused(tmp_path):
    src = tmp_path / "obj.npy"
    np.save(src, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    _assert_clean_failure(run("encode", src), 3, b"objects", tmp_path)


def test_missing_input_and_missing_output_directory(tmp_path, png):
    _assert_clean_failure(run("encode", tmp_path / "nope.png"), 3, b"no such file", tmp_path)
    r = run("encode", png, "-o", tmp_path / "no" / "dir" / "x.wlc")
    _assert_clean_failure(r, 5, b"does not exist", tmp_path)


def test_debug_shows_the_traceback(tmp_path):
    src = tmp_path / "in.png"
    src.write_bytes(b"not an image")
    r = run("encode", src, "--debug")
    assert r.returncode != 0 and b"Traceback" in r.stderr


def test_bin_shims_work(png, tmp_path):
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    r = subprocess.run([sys.executable, root / "bin" / "wavecodec-encode", png, "-o", tmp_path / "s.wlc"],
                       capture_output=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([sys.executable, root / "bin" / "wavecodec-decode", tmp_path / "s.wlc", "-o",
                        tmp_path / "s.png"], capture_output=True)
    assert r.returncode == 0 and (tmp_path / "s.png").exists()


def test_npy_channels_first_layout(tmp_path):
    a = np.random.default_rng(0).integers(0, 255, (6, 24, 20)).astype(np.uint8)
    np.save(tmp_path / "ms.npy", a)
    r = run("encode", tmp_path / "ms.npy", "--layout", "CHW", "-q", "95")
    assert r.returncode == 0, r.stderr
    assert run("decode", tmp_path / "ms.wlc", "-o", tmp_path / "back.npy").returncode == 0
    assert np.load(tmp_path / "back.npy").shape == a.shape


def test_max_error_option(tmp_path):
    a = np.cumsum(np.random.default_rng(1).normal(0, 1, (30, 40)), axis=0).astype(np.float32)
    np.save(tmp_path / "f.npy", a)
    r = run("encode", tmp_path / "f.npy", "--max-error", "0.01")
    assert r.returncode == 0, r.stderr
    assert run("decode", tmp_path / "f.wlc", "-o", tmp_path / "g.npy").returncode == 0
    assert np.abs(np.load(tmp_path / "g.npy").astype(np.float64) - a).max() <= 0.01
    np.save(tmp_path / "u.npy", (a * 0).astype(np.uint8))
    _assert_clean_failure(run("encode", tmp_path / "u.npy", "--max-error", "1"), 3, b"float32", tmp_path)


def test_demo_reports_both_modes_on_the_bundled_sample():
    from click.testing import CliRunner

    from codec.cli import cli

    r = CliRunner().invoke(cli, ["demo", "-q", "30"])
    assert r.exit_code == 0, r.output
    lines = dict(line.split(None, 1) for line in r.output.splitlines())
    assert lines["image"].startswith("kodim23.png (768x512, 3 channels)")
    linear_bytes = int(lines["bytes"].replace(",", ""))
    assert 0 < linear_bytes < 768 * 512 * 3
    learned_bytes = int(lines["learned"].split(" bytes")[0].replace(",", ""))
    assert learned_bytes < linear_bytes  # the context model saves bytes at this quality
    assert float(lines["PSNR"].split()[0]) > 28
