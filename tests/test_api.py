"""The Python API: what goes in comes back with its shape and dtype, and errors are ours."""

import struct
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import codec
from codec import bitstream
from tests.conftest import psnr


def test_roundtrip_keeps_shape_and_dtype_for_every_supported_layout(sample_rgb):
    rng = np.random.default_rng(0)
    cases = [
        sample_rgb,
        sample_rgb[:, :, 0],
        np.dstack([sample_rgb, sample_rgb[:, :, :1]]),             # RGBA
        np.dstack([sample_rgb[:, :, 0], sample_rgb[:, :, 1]]),     # gray + alpha
        (sample_rgb.astype(np.uint16) * 257),                       # 16-bit RGB
        rng.random((33, 17), dtype=np.float32),                     # float plane
        np.repeat(sample_rgb[:40, :40, :1], 7, axis=2),             # 7 channels
    ]
    for a in cases:
        out = codec.decode(codec.encode(a, quality=90))
        assert out.shape == a.shape and out.dtype == a.dtype


@pytest.mark.parametrize("shape", [(1, 1), (1, 1, 3), (2, 3, 3), (7, 13, 3), (65, 1, 3), (45, 77, 3)])
def test_any_size_roundtrips_including_tiny_and_odd(shape):
    a = (np.arange(np.prod(shape)) * 37 % 251).astype(np.uint8).reshape(shape)
    out = codec.decode(codec.encode(a, quality=95))
    assert out.shape == a.shape
    assert np.abs(out.astype(int) - a).max() <= 40


def test_quality_trades_rate_for_fidelity(sample_rgb):
    sizes, psnrs = [], []
    for q in (10, 40, 70, 95):
        data = codec.encode(sample_rgb, quality=q)
        sizes.append(len(data))
        psnrs.append(psnr(codec.decode(data), sample_rgb))
    assert sizes == sorted(sizes) and psnrs == sorted(psnrs)
    assert psnrs[-1] > 45 and psnrs[0] > 20


def test_high_quality_is_near_lossless_for_16_bit(sample_rgb):
    a = sample_rgb.astype(np.uint16) * 257 + 100
    out = codec.decode(codec.encode(a, quality=100))
    assert psnr(out, a, peak=65535.0) > 50


def test_float32_images_keep_their_value_range():
    rng = np.random.default_rng(1)
    a = (rng.random((64, 48, 3), dtype=np.float32) * 10 - 3).cumsum(axis=1).astype(np.float32)
    out = codec.decode(codec.encode(a, quality=95))
    assert out.dtype == np.float32
    span = a.max() - a.min()
    assert np.abs(out - a).max() < 0.05 * span


def test_pil_images_are_accepted(sample_rgb):
    im = Image.fromarray(sample_rgb)
    assert codec.decode(codec.encode(im, quality=50)).shape == sample_rgb.shape
    pal = im.convert("P")
    assert codec.decode(codec.encode(pal, quality=50)).shape == sample_rgb.shape


def test_bpp_target_lands_at_or_just_under(sample_odd):
    pixels = sample_odd.shape[0] * sample_odd.shape[1]
    for target in (1.0, 2.5):
        bpp = len(codec.encode(sample_odd, bpp=target)) * 8 / pixels
        assert target * 0.95 <= bpp <= target


def test_bpp_target_below_the_minimum_is_an_input_error(sample_rgb):
    with pytest.raises(codec.InputError, match="smallest rate"):
        codec.encode(sample_rgb, bpp=0.001)


def test_info_reports_the_header(sample_rgb):
    data = codec.encode(sample_rgb, quality=30)
    info = codec.info(data)
    assert info.header.mode == "linear" and info.header.shape == sample_rgb.shape
    assert info.header.quality == 30 and info.header.model == "linear-v1"
    assert "shape" in str(info)


@pytest.mark.parametrize("bad, message", [
    (np.zeros((4, 4), dtype=object), "dtype"),
    (np.zeros((4, 4), dtype=np.complex64), "dtype"),
    (np.zeros((4, 4), dtype=np.int64), "dtype"),
    (np.zeros((2, 4, 4, 3), dtype=np.uint8), "HxW"),
    (np.zeros((0, 4), dtype=np.uint8), "empty"),
    (np.full((4, 4), np.nan, dtype=np.float32), "NaN"),
    (np.array([[0, np.inf], [1, 2]], dtype=np.float32), "infinite"),
    (np.zeros((4, 4, 0), dtype=np.uint8), "empty"),
    (np.zeros((4, 4, 2000), dtype=np.uint8), "channels"),
])
def test_unsupported_arrays_are_input_errors(bad, message):
    with pytest.raises(codec.InputError, match=message):
        codec.encode(bad)


@pytest.mark.parametrize("kwargs", [{"quality": 0}, {"quality": 101}, {"quality": 5.5}, {"mode": "nope"}])
def test_bad_options_are_input_errors(sample_rgb, kwargs):
    with pytest.raises(codec.InputError):
        codec.encode(sample_rgb, **kwargs)


def _reheader(data: bytes, **changes) -> bytes:
    header, chunks = bitstream.unpack(data)
    fields = {f: getattr(header, f) for f in header.__dataclass_fields__}
    fields.update(changes, chunk_lengths=())
    return bitstream.pack(bitstream.Header(**fields), chunks)


def test_files_for_other_models_or_weights_are_refused(sample_rgb):
    data = codec.encode(sample_rgb, quality=30)
    with pytest.raises(codec.FormatError, match="unknown model"):
        codec.decode(_reheader(data, model="linear-v9"))
    with pytest.raises(codec.FormatError, match="other weights"):
        codec.decode(_reheader(data, model_hash=b"\x01" * 8))


def test_modes_this_version_cannot_decode_are_refused(sample_rgb):
    data = codec.encode(sample_rgb, quality=30)
    with pytest.raises(codec.FormatError, match="cannot be decoded"):
        codec.decode(_reheader(data, mode="inr", modality="array"))
    with pytest.raises(codec.FormatError, match="INR parameters have the wrong size"):
        codec.decode(_reheader(data, mode="inr"))  # a linear stream relabelled


def test_inconsistent_parameters_are_refused(sample_rgb):
    data = codec.encode(sample_rgb, quality=30)
    with pytest.raises(codec.FormatError, match="padded size"):
        codec.decode(_reheader(data, padded=(64, 64)))
    with pytest.raises(codec.FormatError, match="not supported"):
        codec.decode(_reheader(data, params=struct.pack("<BBfff", 4, 3, 0.2, 0, 255)))
    with pytest.raises(codec.FormatError, match="chunks"):
        header, chunks = bitstream.unpack(data)
        codec.decode(_reheader(data, channels=4, shape=(96, 128, 4)))


def test_every_truncation_and_bit_flip_is_a_format_error(sample_odd):
    data = codec.encode(sample_odd, quality=20)
    for cut in range(0, len(data), max(1, len(data) // 60)):
        with pytest.raises(codec.FormatError):
            codec.decode(data[:cut])
    rng = np.random.default_rng(0)
    for pos in rng.integers(0, len(data), 60):
        flipped = bytearray(data)
        flipped[pos] ^= 1 << int(rng.integers(8))
        with pytest.raises(codec.FormatError):
            codec.decode(bytes(flipped))


def test_linear_mode_never_imports_torch(sample_rgb):
    code = (
        "import sys, numpy as np, codec\n"
        "a = (np.arange(64 * 80 * 3) % 255).astype(np.uint8).reshape(64, 80, 3)\n"
        "codec.decode(codec.encode(a, quality=50))\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_decoding_is_identical_across_thread_counts(sample_rgb, tmp_path):
    src = tmp_path / "a.wlc"
    src.write_bytes(codec.encode(sample_rgb, quality=40))
    outs = []
    for threads in ("1", "2"):
        out = tmp_path / f"out{threads}.npy"
        code = f"import numpy as np, codec; np.save({str(out)!r}, codec.decode(open({str(src)!r}, 'rb').read()))"
        env = {"OMP_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
        subprocess.run([sys.executable, "-c", code], check=True, env={**__import__("os").environ, **env})
        outs.append(np.load(out))
    assert np.array_equal(outs[0], outs[1])


@pytest.mark.parametrize("channels", [2, 5, 6, 13, 100])
def test_many_channel_arrays_roundtrip(channels):
    rng = np.random.default_rng(channels)
    base = rng.integers(0, 200, (40, 36, 1)).astype(np.float64)
    a = np.clip(base + rng.normal(0, 8, (40, 36, channels)), 0, 255).astype(np.uint8)
    out = codec.decode(codec.encode(a, quality=90))
    assert out.shape == a.shape and out.dtype == np.uint8
    assert psnr(out, a) > 35


def test_the_channel_klt_is_stored_and_pays_for_itself():
    rng = np.random.default_rng(3)
    scene = np.cumsum(np.cumsum(rng.normal(0, 1, (64, 64)), 0), 1)
    bands = np.stack([scene * (1 + 0.1 * k) + 5 * k for k in range(8)], axis=2)
    a = np.clip((bands - bands.min()) / np.ptp(bands) * 255, 0, 255).astype(np.uint8)
    joint = codec.encode(a, quality=60)
    assert "channel KLT" in dict(codec.info(joint).fields)["params"]
    separate = sum(len(codec.encode(a[:, :, k], quality=60)) for k in range(8))
    assert len(joint) < 0.6 * separate
    assert psnr(codec.decode(joint), a) > 35


def test_chw_layout_comes_back_as_chw():
    a = np.random.default_rng(0).integers(0, 255, (6, 20, 30)).astype(np.uint8)
    data = codec.encode(a, quality=95, layout="CHW")
    assert codec.info(data).header.layout == "CHW"
    out = codec.decode(data)
    assert out.shape == a.shape and np.abs(out.astype(int) - a).max() < 60


def test_bad_layout_is_an_input_error(sample_rgb):
    with pytest.raises(codec.InputError, match="layout"):
        codec.encode(sample_rgb, layout="WHC")


def test_wrong_sized_channel_transform_is_refused():
    a = np.random.default_rng(0).integers(0, 255, (16, 16, 6)).astype(np.uint8)
    data = codec.encode(a, quality=50)
    with pytest.raises(codec.FormatError, match="wrong size"):
        codec.decode(_reheader(data, params=bitstream.unpack(data)[0].params[:-4]))


def test_corrupt_payloads_with_valid_checksums_are_format_errors(sample_odd):
    """A damaged stream that still passes the CRCs must be caught by the decoders themselves."""
    rng = np.random.default_rng(0)
    samples = [
        codec.encode(sample_odd, quality=40),
        codec.encode(np.repeat(sample_odd[:, :, :1], 6, axis=2), quality=40),
        codec.encode(sample_odd[:, :, 0].astype(np.float32), quality=40, max_error=0.5),
        codec.encode_audio((np.sin(np.arange(20000) / 10) * 8000).astype(np.int16), 8000, quality=40),
    ]
    for data in samples:
        header, chunks = bitstream.unpack(data)
        for _ in range(25):
            damaged = [bytearray(c) for c in chunks]
            k = int(rng.integers(len(damaged)))
            damaged[k][int(rng.integers(len(damaged[k])))] ^= 1 << int(rng.integers(8))
            fields = {f: getattr(header, f) for f in header.__dataclass_fields__}
            repacked = bitstream.pack(bitstream.Header(**{**fields, "chunk_lengths": ()}), [bytes(c) for c in damaged])
            with pytest.raises(codec.FormatError):
                codec.decode(repacked)
