"""Audio in the linear mode: file I/O, round trips, rate control, chunk seams, CLI, bad input."""

import io
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import codec
from codec.api import encode_audio
from codec.errors import InputError
from codec.io.audio import looks_like_audio, read_audio, write_audio

WAVECODEC = [sys.executable, "-c", "from codec.cli import main; main()"]
MUSIC = Path("/work/shared/data/audio/train/music")


def run(*args, stdin=b""):
    return subprocess.run([*WAVECODEC, *map(str, args)], input=stdin, capture_output=True)


def music_like(frames: int, channels: int, rate: int, seed: int = 0) -> np.ndarray:
    """Float64 in about -0.5..0.5: decaying tones with vibrato plus a little noise, per channel mixed."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / rate
    base = np.zeros((frames, channels))
    for k in range(6):
        f = rng.uniform(80, min(4000, rate / 3))
        tone = np.sin(2 * np.pi * f * t + 3 * np.sin(2 * np.pi * rng.uniform(1, 6) * t))
        envelope = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.2, 2) * t) ** 2
        base += (tone * envelope)[:, None] * rng.uniform(0.3, 1.0, channels)[None]
    base += 0.02 * rng.standard_normal((frames, channels))
    return 0.5 * base / np.abs(base).max()


def as_dtype(x: np.ndarray, dtype: str) -> np.ndarray:
    if dtype == "int16":
        return np.round(x * 32767).astype(np.int16)
    if dtype == "int32":  # 24-bit audio as soundfile reads it: multiples of 256
        return (np.round(x * (2**23 - 1)).astype(np.int32) * 256).astype(np.int32)
    return x.astype(np.float32)


def snr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float64), b.astype(np.float64)
    return float(10 * np.log10(np.sum(a**2) / max(np.sum((a - b) ** 2), 1e-30)))


def wav_bytes(samples: np.ndarray, rate: int, subtype: str = "PCM_16", fmt: str = "WAV") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, samples, rate, format=fmt, subtype=subtype)
    return buf.getvalue()


# --- file I/O -----------------------------------------------------------------------------


def test_audio_magic_is_recognised_and_images_are_not():
    assert looks_like_audio(wav_bytes(np.zeros((8, 1), np.int16), 8000))
    assert looks_like_audio(wav_bytes(np.zeros((8, 1), np.int16), 8000, fmt="FLAC"))
    assert looks_like_audio(b"OggS\x00\x02" + bytes(6))
    assert not looks_like_audio(b"\x89PNG\r\n\x1a\n....")
    assert not looks_like_audio(b"RIFF\x00\x00\x00\x00WEBPVP8 ")


@pytest.mark.parametrize("subtype, dtype", [("PCM_16", "int16"), ("PCM_24", "int32"), ("FLOAT", "float32")])
def test_read_audio_keeps_the_files_sample_type(subtype, dtype):
    x = as_dtype(music_like(1000, 2, 8000), dtype)
    samples, rate, info = read_audio(wav_bytes(x, 8000, subtype), "x.wav")
    assert samples.dtype == dtype and samples.shape == (1000, 2) and rate == 8000
    np.testing.assert_array_equal(samples, x)
    assert info["subtype"] == subtype


def test_write_audio_wav_and_flac_read_back_exactly():
    x16 = as_dtype(music_like(500, 2, 8000), "int16")
    x24 = as_dtype(music_like(500, 1, 8000), "int32")
    for x in (x16, x24):
        for fmt in ("WAV", "FLAC"):
            back, rate, _ = read_audio(write_audio(x, 8000, fmt), "back")
            np.testing.assert_array_equal(back, x)
    with pytest.raises(codec.OutputError, match="FLAC"):
        write_audio(np.zeros((10, 1), np.float32), 8000, "FLAC")


def lying_wav() -> bytes:
    data = bytearray(wav_bytes(np.zeros((1000, 2), np.int16), 8000))
    pos = data.find(b"data")
    data[pos + 4:pos + 8] = struct.pack("<I", 10**6)
    return bytes(data)


@pytest.mark.parametrize("make, message", [
    (lying_wav, "declares 1000000 bytes"),
    (lambda: wav_bytes(np.zeros((0, 2), np.int16), 8000), "zero length"),
    (lambda: wav_bytes(np.array([[np.nan], [0.5]], np.float32), 8000, "FLOAT"), "NaN"),
    (lambda: b"RIFF\x10\x00\x00\x00WAVEgarbage-garbage", "WAV"),
    (lambda: b"fLaC" + b"\x07" * 50, "not a readable audio file"),
])
def test_bad_audio_files_raise_one_line_input_errors(make, message):
    with pytest.raises(InputError, match=message) as err:
        read_audio(make(), "bad.wav")
    assert "\n" not in str(err.value)


# --- codec round trips --------------------------------------------------------------------


@pytest.mark.parametrize("channels, rate, dtype", [
    (1, 8000, "int16"), (2, 22050, "int16"), (2, 44100, "int32"), (4, 48000, "float32"),
    (1, 48000, "float32"), (2, 8000, "int32"),
])
def test_round_trip_keeps_shape_dtype_rate_and_quality(channels, rate, dtype):
    x = as_dtype(music_like(rate // 2 + 77, channels, rate), dtype)
    data = encode_audio(x, rate, quality=70)
    y = codec.decode(data)
    assert y.shape == x.shape and y.dtype == x.dtype
    header = codec.info(data).header
    assert (header.modality, header.sample_rate, header.channels) == ("audio", rate, channels)
    assert snr(x, y) > 40
    if dtype == "int32":
        assert not np.any(y & 0xFF)   # 24-bit data stays 24-bit


def test_mono_given_as_1d_comes_back_1d():
    x = as_dtype(music_like(3000, 1, 8000), "int16")[:, 0]
    y = codec.decode(encode_audio(x, 8000, quality=60))
    assert y.shape == (3000,) and y.dtype == np.int16 and codec.info(encode_audio(x, 8000)).header.layout == "N"


def test_tiny_and_silent_signals_round_trip():
    for x in (np.array([[5]], np.int16), np.zeros((10, 3), np.int16), np.full((700, 2), 0.25, np.float32)):
        y = codec.decode(encode_audio(x, 16000, quality=90))
        assert y.shape == x.shape
        np.testing.assert_allclose(y.astype(float), x.astype(float), atol=2e-3 if x.dtype == np.float32 else 2)


def test_snr_rises_with_quality_and_rate_with_it():
    x = as_dtype(music_like(22050, 2, 22050), "int16")
    results = [(len(d), snr(x, codec.decode(d))) for d in (encode_audio(x, 22050, quality=q) for q in (10, 40, 70, 95))]
    sizes, snrs = zip(*results)
    assert list(sizes) == sorted(sizes) and list(snrs) == sorted(snrs)
    assert snrs[-1] > 70 and snrs[0] < snrs[-1] - 30


def test_stereo_channel_klt_pays_for_itself_on_correlated_channels():
    mono = as_dtype(music_like(22050, 1, 22050), "int16")
    stereo = np.concatenate([mono, (mono.astype(np.int32) * 9 // 10).astype(np.int16)], axis=1)
    one, two = encode_audio(mono, 22050, quality=50), encode_audio(stereo, 22050, quality=50)
    assert len(two) < 1.4 * len(one)


def test_kbps_lands_at_or_under_the_target():
    rate = 16000
    x = as_dtype(music_like(rate * 2, 2, rate), "int16")
    for target in (24.0, 64.0):
        data = encode_audio(x, rate, kbps=target)
        achieved = len(data) * 8 / 2.0 / 1000
        assert achieved <= target and achieved > 0.85 * target
    with pytest.raises(InputError, match="below the smallest rate"):
        encode_audio(x, rate, kbps=0.01)


def test_chunk_borders_error_matches_interior():
    """Windows of 2**18 frames are coded independently; the error at their seams is not larger."""
    from codec.modes.audio import CHUNK_FRAMES

    rate = 44100
    x = as_dtype(music_like(2 * CHUNK_FRAMES + 30000, 1, rate, seed=3), "int16")
    data = encode_audio(x, rate, quality=35)
    assert len(codec.info(data).header.chunk_lengths) == 3
    err = (x.astype(np.float64) - codec.decode(data)) ** 2
    near = np.concatenate([err[b - 256:b + 256] for b in (CHUNK_FRAMES, 2 * CHUNK_FRAMES)])
    interior = err[10000:CHUNK_FRAMES - 10000]
    assert near.mean() < 1.25 * interior.mean()
    assert np.sqrt(near.max()) < 1.15 * np.sqrt(interior.max())   # 1.33 without the overlap margin


def test_decode_is_independent_of_thread_count():
    code = ("import sys, numpy as np, codec; from codec.api import encode_audio;"
            "x = (np.sin(np.arange(20000) * 0.05)[:, None] * [9000, 7000]).astype(np.int16);"
            "sys.stdout.buffer.write(codec.decode(encode_audio(x, 8000, quality=40)).tobytes())")
    outs = [subprocess.run([sys.executable, "-c", code], capture_output=True, check=True,
                           env={**__import__("os").environ, "OMP_NUM_THREADS": n, "OPENBLAS_NUM_THREADS": n}).stdout
            for n in ("1", "2")]
    assert outs[0] == outs[1] and len(outs[0]) == 80000


def test_corrupt_audio_stream_is_a_format_error():
    x = as_dtype(music_like(4000, 2, 8000), "int16")
    data = bytearray(encode_audio(x, 8000))
    data[-10] ^= 0xFF
    with pytest.raises(codec.FormatError):
        codec.decode(bytes(data))


@pytest.mark.parametrize("mode", ["linear", "learned"])  # the learned mode's network runs in numpy
def test_audio_encoder_does_not_import_torch(mode):
    code = ("import sys, numpy as np; from codec.api import encode_audio; import codec;"
            f"d = encode_audio(np.zeros((5000, 2), np.int16) + 3, 8000, quality=20, mode={mode!r}); codec.decode(d);"
            "from codec.io.audio import read_audio;"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.skipif(not MUSIC.is_dir() or not any(MUSIC.glob("*.flac")), reason="no shared music data")
def test_real_music_excerpt_codes_at_useful_snr():
    path = sorted(MUSIC.glob("*.flac"))[0]
    x, rate, _ = read_audio(path, path.name)
    x = x[rate * 20:rate * 23]
    data = encode_audio(x, rate, quality=50)
    assert snr(x, codec.decode(data)) > 35
    assert len(data) * 8 / 3 / 1000 < 400


# --- command line -------------------------------------------------------------------------


@pytest.fixture
def wav(tmp_path):
    x = as_dtype(music_like(11025, 2, 22050), "int16")
    path = tmp_path / "song.wav"
    path.write_bytes(wav_bytes(x, 22050))
    return path, x


def test_cli_wav_to_wlc_to_wav_and_flac(wav):
    path, x = wav
    r = run("encode", path, "-q", "70")
    assert r.returncode == 0, r.stderr
    assert b"kb/s" in r.stderr and b"bpp" not in r.stderr
    wlc = path.with_suffix(".wlc")
    path.unlink()
    r = run("decode", wlc)
    assert r.returncode == 0, r.stderr
    y, rate, _ = read_audio(path, "out")
    assert rate == 22050 and y.shape == x.shape and y.dtype == np.int16 and snr(x, y) > 40
    r = run("decode", wlc, "-o", path.with_suffix(".flac"))
    assert r.returncode == 0, r.stderr
    z, _, info = read_audio(path.with_suffix(".flac"), "out")
    assert info["format"] == "FLAC"
    np.testing.assert_array_equal(z, y)
    r = run("info", wlc)
    assert r.returncode == 0 and b"22050 Hz" in r.stdout and b"kb/s" in r.stdout


def test_cli_kbps_for_audio(wav):
    path, x = wav
    out = path.with_suffix(".wlc")
    r = run("encode", path, "--kbps", "48", "-o", out)
    assert r.returncode == 0, r.stderr
    assert out.stat().st_size * 8 / 0.5 / 1000 <= 48
    assert run("encode", path, "--bpp", "1", "-f").returncode == 3


def test_cli_audio_through_stdin_and_stdout(wav):
    path, x = wav
    r = run("encode", "-", "-q", "60", stdin=path.read_bytes())
    assert r.returncode == 0, r.stderr
    r = run("decode", "-", stdin=r.stdout)
    assert r.returncode == 0 and r.stdout[:4] == b"RIFF"


@pytest.mark.parametrize("content", [
    lying_wav(),
    wav_bytes(np.zeros((0, 1), np.int16), 8000),
    wav_bytes(np.array([[np.inf], [0.1]], np.float32), 8000, "FLOAT"),
    b"RIFF\x20\x00\x00\x00WAVEfmt garbage garbage garbage",
])
def test_cli_bad_audio_exits_3_with_one_line(tmp_path, content):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    r = run("encode", path)
    assert r.returncode == 3, r.stderr
    lines = r.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wavecodec: error:")
    assert not path.with_suffix(".wlc").exists()


def test_audio_params_layout_is_pinned():
    from codec.modes.audio import PARAMS, AudioParams

    x = as_dtype(music_like(3000, 2, 8000), "int32")
    header = codec.info(encode_audio(x, 8000, quality=50)).header
    assert PARAMS.size == 32 and len(header.params) == 32 + 4 * 2 * 3
    p = AudioParams.unpack(header.params)
    assert (p.levels, p.chunk_log2, p.shift, p.margin, p.segment) == (8, 18, 8, 512, 64)
    assert header.params[3] == 0 and p.scale == 2.0**-16 and (p.lo, p.hi) == (x.min(), x.max())


@pytest.mark.parametrize("bad, message", [
    (np.zeros((10, 2), np.uint8), "dtype"), (np.zeros((4, 4, 4), np.int16), "shape"),
    (np.zeros((0, 2), np.int16), "zero length"), (np.array([np.nan, 1], np.float32), "NaN"),
])
def test_encode_audio_rejects_bad_arrays(bad, message):
    with pytest.raises(InputError, match=message):
        encode_audio(bad, 8000)
    with pytest.raises(InputError, match="sample rate"):
        encode_audio(np.zeros(10, np.int16), 0)


def test_mp3_input_is_detected_and_encoded(tmp_path):
    import soundfile as sf

    from codec.io.audio import looks_like_audio

    if "MP3" not in sf.available_formats():
        pytest.skip("this libsndfile has no MP3")
    t = np.arange(44100) / 44100
    path = tmp_path / "tone.mp3"
    sf.write(path, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 44100, format="MP3")
    assert looks_like_audio(path.read_bytes()[:12])
    samples = codec.decode(codec.encode_audio(*_read(path), quality=60))
    assert samples.dtype == np.float32 and samples.shape[0] > 40000


def _read(path):
    from codec.io.audio import read_audio

    samples, rate, _ = read_audio(path.read_bytes(), path.name)
    return samples, rate
