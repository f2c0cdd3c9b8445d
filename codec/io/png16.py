"""16-bit RGB / RGBA PNG, read and written exactly (Pillow reduces them to 8 bits).

Only what the codec needs: non-interlaced 16-bit colour images, all five row filters
on read, filter 0 on write. Rows are unfiltered with numpy, one row at a time.
"""

import struct
import zlib

import numpy as np

from codec.errors import InputError

__all__ = ["read_png16", "write_png16"]


def _chunks(data: bytes, name: str):
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if len(body) != length:
            raise InputError(f"{name}: truncated PNG")
        yield kind, body
        pos += 12 + length


def _paeth_row(filt: np.ndarray, prev: np.ndarray, bpp: int) -> np.ndarray:
    out = np.zeros(len(filt), np.int32)
    for x in range(0, len(filt), bpp):
        a = out[x - bpp:x] if x else np.zeros(bpp, np.int32)
        b = prev[x:x + bpp]
        c = prev[x - bpp:x] if x else np.zeros(bpp, np.int32)
        p = a + b - c
        pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
        pred = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
        out[x:x + bpp] = (filt[x:x + bpp] + pred) & 255
    return out


def _average_row(filt: np.ndarray, prev: np.ndarray, bpp: int) -> np.ndarray:
    out = np.zeros(len(filt), np.int32)
    for x in range(0, len(filt), bpp):
        a = out[x - bpp:x] if x else np.zeros(bpp, np.int32)
        out[x:x + bpp] = (filt[x:x + bpp] + (a + prev[x:x + bpp]) // 2) & 255
    return out


def read_png16(data: bytes, name: str, max_pixels: int) -> np.ndarray:
    """Decode a 16-bit RGB/RGBA PNG into an HxWxC uint16 array."""
    chunks = list(_chunks(data, name))
    if not chunks or chunks[0][0] != b"IHDR" or len(chunks[0][1]) != 13:
        raise InputError(f"{name}: malformed PNG header")
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    if interlace:
        raise InputError(f"{name}: interlaced 16-bit PNG is not supported; re-save it without interlacing")
    if width * height > max_pixels or width == 0 or height == 0:
        raise InputError(f"{name}: {width}x{height} is outside the supported size (1..{max_pixels} pixels)")
    channels = {2: 3, 6: 4}[colour]
    bpp = 2 * channels
    stride = width * bpp
    try:
        raw = zlib.decompressobj().decompress(b"".join(b for k, b in chunks if k == b"IDAT"), height * (stride + 1))
    except zlib.error as exc:
        raise InputError(f"{name}: corrupt PNG data ({exc})") from exc
    if len(raw) != height * (stride + 1):
        raise InputError(f"{name}: truncated PNG image data")
    rows = np.frombuffer(raw, np.uint8).reshape(height, stride + 1)
    out = np.empty((height, stride), np.uint8)
    prev = np.zeros(stride, np.int32)
    for y in range(height):
        kind, filt = rows[y, 0], rows[y, 1:].astype(np.int32)
        if kind == 0:
            row = filt
        elif kind == 1:
            row = np.cumsum(filt.reshape(-1, bpp), axis=0).ravel() & 255
        elif kind == 2:
            row = (filt + prev) & 255
        elif kind == 3:
            row = _average_row(filt, prev, bpp)
        elif kind == 4:
            row = _paeth_row(filt, prev, bpp)
        else:
            raise InputError(f"{name}: bad PNG row filter {kind}")
        out[y] = row
        prev = row.astype(np.int32)
    return out.view(">u2").reshape(height, width, channels).astype(np.uint16)


def write_png16(array: np.ndarray) -> bytes:
    """Encode an HxWx3 / HxWx4 uint16 array as a 16-bit PNG (filter 0, zlib level 6)."""
    h, w, c = array.shape
    colour = {3: 2, 4: 6}[c]
    rows = np.zeros((h, w * c * 2 + 1), np.uint8)
    rows[:, 1:] = np.ascontiguousarray(array, dtype=">u2").view(np.uint8).reshape(h, -1)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", w, h, 16, colour, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)) + chunk(b"IEND", b""))
