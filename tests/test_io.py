"""Image files: exact 16-bit colour PNG, Pillow's modes, and refusals before decoding."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

import codec
from codec.io.images import image_to_bytes, read_image
from codec.io.png16 import read_png16, write_png16


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png16_with_filter(a: np.ndarray, kind: int) -> bytes:
    """A 16-bit PNG whose every row uses filter ``kind`` (reference filters, plain Python)."""
    h, w, c = a.shape
    bpp = 2 * c
    raw = np.ascontiguousarray(a, dtype=">u2").view(np.uint8).reshape(h, -1).astype(int)
    rows = []
    for y in range(h):
        cur, prev = raw[y], raw[y - 1] if y else np.zeros_like(raw[0])
        out = []
        for x in range(len(cur)):
            left = cur[x - bpp] if x >= bpp else 0
            up = prev[x]
            ul = prev[x - bpp] if x >= bpp else 0
            if kind == 0:
                pred = 0
            elif kind == 1:
                pred = left
            elif kind == 2:
                pred = up
            elif kind == 3:
                pred = (left + up) // 2
            else:
                p = left + up - ul
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - ul)
                pred = left if pa <= pb and pa <= pc else (up if pb <= pc else ul)
            out.append((cur[x] - pred) & 255)
        rows.append(bytes([kind]) + bytes(out))
    header = struct.pack(">IIBBBBB", w, h, 16, {3: 2, 4: 6}[c], 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(b"".join(rows))) \
        + _chunk(b"IEND", b"")


@pytest.mark.parametrize("kind", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("channels", [3, 4])
def test_16_bit_colour_png_is_read_exactly_with_every_row_filter(kind, channels):
    a = np.random.default_rng(kind).integers(0, 65536, (5, 7, channels), dtype=np.uint16)
    assert np.array_equal(read_image(_png16_with_filter(a, kind)), a)


def test_16_bit_colour_png_writer_round_trips_and_is_a_valid_png():
    a = np.random.default_rng(0).integers(0, 65536, (9, 11, 3), dtype=np.uint16)
    data = write_png16(a)
    assert np.array_equal(read_png16(data, "x", 1 << 20), a)
    assert Image.open(io.BytesIO(data)).size == (11, 9)


def test_16_bit_gray_goes_through_pillow_exactly():
    a = np.random.default_rng(1).integers(0, 65536, (6, 5), dtype=np.uint16)
    back = read_image(image_to_bytes(a))
    assert back.dtype == np.uint16 and np.array_equal(back, a)


def test_pillow_modes_become_gray_rgb_or_rgba(sample_rgb):
    im = Image.fromarray(sample_rgb)
    cases = {"P": (96, 128, 3), "1": (96, 128), "CMYK": (96, 128, 3), "LA": (96, 128, 2), "RGBA": (96, 128, 4)}
    for mode, shape in cases.items():
        buf = io.BytesIO()
        im.convert(mode).save(buf, "TIFF" if mode == "CMYK" else "PNG")
        assert read_image(buf.getvalue()).shape == shape, mode


def test_16_bit_rgb_survives_the_codec_at_high_quality():
    a = (np.linspace(0, 65535, 40 * 24 * 3) % 65536).astype(np.uint16).reshape(40, 24, 3)
    out = codec.decode(codec.encode(read_image(write_png16(a)), quality=100))
    assert out.dtype == np.uint16 and np.abs(out.astype(int) - a).max() < 2000


def test_a_declared_giant_image_is_refused_before_decoding():
    header = struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0)
    bomb = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(b"")) + _chunk(b"IEND", b"")
    with pytest.raises(codec.InputError, match="too large|larger than"):
        read_image(bomb)
    header16 = struct.pack(">IIBBBBB", 30000, 30000, 16, 2, 0, 0, 0)
    bomb16 = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header16) + _chunk(b"IEND", b"")
    with pytest.raises(codec.InputError, match="outside the supported size"):
        read_image(bomb16)


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d[:d.find(b"IDAT") + 8], "truncated"),
    (lambda d: d[:33] + b"\x00\x00\x00\x10IDAT" + b"\xff" * 20 + d[-12:], "corrupt|truncated"),
])
def test_broken_16_bit_pngs_are_input_errors(mutate, message):
    data = write_png16(np.zeros((8, 8, 3), np.uint16) + 1234)
    with pytest.raises(codec.InputError, match=message):
        read_image(mutate(data))


def test_interlaced_16_bit_png_is_refused_with_a_reason():
    header = struct.pack(">IIBBBBB", 4, 4, 16, 2, 0, 0, 1)
    data = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IEND", b"")
    with pytest.raises(codec.InputError, match="interlaced"):
        read_image(data)


def test_multiband_tiff_is_read_with_every_band(tmp_path):
    import tifffile

    a = np.random.default_rng(0).integers(0, 255, (20, 30, 6)).astype(np.uint8)
    buf = io.BytesIO()
    tifffile.imwrite(buf, a, photometric="minisblack", planarconfig="contig")
    assert np.array_equal(read_image(buf.getvalue()), a)
    planar = io.BytesIO()
    tifffile.imwrite(planar, np.moveaxis(a, -1, 0), photometric="minisblack", planarconfig="separate")
    assert np.array_equal(read_image(planar.getvalue()), a)


def test_broken_tiff_is_an_input_error():
    with pytest.raises(codec.InputError, match="TIFF"):
        read_image(b"II*\x00" + b"\x00" * 20)
