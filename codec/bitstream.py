"""The WaveCodec container (file format v1): one self-describing file for every mode.

    magic | version | flags | header byte count S | header fields ... | header CRC32
    | chunk 0 | chunk 1 | ... | payload CRC32

Everything is little-endian. The byte table, id tables, limits and the versioning
policy are in docs/FORMAT.md; keep the two in step. Reading never trusts a declared
size: limits are checked from the header alone, before anything is allocated, and
any malformed input raises `FormatError` (never struct.error, IndexError, ...).
An invalid `Header` cannot be constructed (ValueError), so nothing invalid is written.
"""

from __future__ import annotations

import math
import operator
import struct
import zlib
from dataclasses import dataclass, replace

from codec.errors import FormatError

__all__ = [
    "MAGIC",
    "FORMAT_VERSION",
    "MAX_SAMPLES",
    "MAX_DIM",
    "MAX_PADDED_SAMPLES",
    "MODE_IDS",
    "MODALITY_IDS",
    "DTYPE_IDS",
    "Header",
    "pack",
    "unpack",
    "read_header",
    "looks_like_wlc",
]

MAGIC = b"\x89WLC"
FORMAT_VERSION = 1

# Limits against decompression bombs (checked on read before any allocation, and on write).
MAX_SAMPLES = 2**30  # product of shape
MAX_DIM = 2**30  # each entry of shape (one hour of 48 kHz audio is 1.7e8 frames)
MAX_PADDED_SAMPLES = 2**31  # product(padded) * channels: padding may at most double the work
MAX_PADDED_DIM = 2**25
MAX_NDIM = 8
MAX_MODEL_NAME = 64
MAX_CHUNKS = 0xFFFF
MAX_HEADER_BYTES = 2**20  # S; a full v1 header is at most ~330 KB

# Fixed id tables: part of the format, never derived from dict order. 0 is never valid,
# so a zeroed header is rejected. Append new ids; never renumber or reuse one.
MODE_IDS = {"linear": 1, "learned": 2, "inr": 3, "features": 4}
MODALITY_IDS = {"image": 1, "audio": 2, "array": 3, "features": 4}
DTYPE_IDS = {
    "uint8": 1,
    "uint16": 2,
    "int16": 3,
    "int32": 4,
    "float16": 5,
    "float32": 6,
    "float64": 7,
    "bfloat16": 8,
}
_MODES = {v: k for k, v in MODE_IDS.items()}
_MODALITIES = {v: k for k, v in MODALITY_IDS.items()}
_DTYPES = {v: k for k, v in DTYPE_IDS.items()}

_PREAMBLE = struct.Struct("<4sBBI")  # magic, version, flags, header byte count S
_PREAMBLE_SIZE = _PREAMBLE.size  # 10
_CRC_SIZE = 4
_NO_HASH = bytes(8)


@dataclass(frozen=True)
class Header:
    """Everything a decoder needs besides the payload; the single typed source of truth.

    Construction validates every field (ValueError), so a Header that exists can be
    written, and one read from a file is known to be within the limits.
    """

    mode: str
    modality: str
    dtype: str
    shape: tuple[int, ...]
    channels: int
    layout: str
    padded: tuple[int, ...] = ()
    model: str = ""
    model_hash: bytes = _NO_HASH
    sample_rate: int = 0
    quality: int = 0
    step: float = 0.0
    params: bytes = b""
    chunk_lengths: tuple[int, ...] = ()

    def __post_init__(self):
        # Normalise so equal content compares equal (lists -> tuples, numpy ints -> int,
        # step -> the float32 value the decoder will see).
        set_ = object.__setattr__
        set_(self, "shape", _int_tuple("shape", self.shape))
        set_(self, "padded", _int_tuple("padded", self.padded))
        set_(self, "chunk_lengths", _int_tuple("chunk_lengths", self.chunk_lengths))
        set_(self, "channels", _int("channels", self.channels))
        set_(self, "sample_rate", _int("sample_rate", self.sample_rate))
        set_(self, "quality", _int("quality", self.quality))
        set_(self, "model_hash", _bytes("model_hash", self.model_hash))
        set_(self, "params", _bytes("params", self.params))
        set_(self, "step", _float32("step", self.step))
        _validate(self)

    def describe(self, data: bytes | None = None) -> list[tuple[str, str]]:
        """Every field as (name, printable value), for `wavecodec info`.

        Pass the file's bytes as `data` to report its real header byte count and size
        (a newer writer may have added fields this reader skips); otherwise they are
        what this version would write.
        """
        header_bytes = len(_encode_fields(self)) + _CRC_SIZE
        payload = sum(self.chunk_lengths)
        total = _PREAMBLE_SIZE + header_bytes + payload + _CRC_SIZE
        if data is not None and len(data) >= _PREAMBLE_SIZE:
            header_bytes = _PREAMBLE.unpack_from(data)[3]
            total = len(data)
        lengths = ", ".join(str(n) for n in self.chunk_lengths[:16])
        if len(self.chunk_lengths) > 16:
            lengths += f", ... ({len(self.chunk_lengths) - 16} more)"
        params = f"{len(self.params)} bytes"
        if self.params:
            params += ": " + self.params[:32].hex() + ("..." if len(self.params) > 32 else "")
        return [
            ("format version", str(FORMAT_VERSION)),
            ("header bytes", str(header_bytes)),
            ("mode", self.mode),
            ("modality", self.modality),
            ("model", self.model or "(none)"),
            ("model hash", self.model_hash.hex() if self.model else "(none)"),
            ("dtype", self.dtype),
            ("shape", " x ".join(str(d) for d in self.shape)),
            ("channels", str(self.channels)),
            ("layout", self.layout),
            ("padded", " x ".join(str(d) for d in self.padded) or "(none)"),
            ("sample rate", f"{self.sample_rate} Hz" if self.sample_rate else "(none)"),
            ("quality", str(self.quality) if self.quality else "(n/a)"),
            ("step", f"{self.step:.9g}"),
            ("params", params),
            ("chunks", str(len(self.chunk_lengths))),
            ("chunk lengths", lengths or "(none)"),
            ("payload bytes", str(payload)),
            ("total size", f"{total} bytes"),
        ]


# --- validation -----------------------------------------------------------------------


def _int(name, value):
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None


def _int_tuple(name, values):
    if isinstance(values, (str, bytes)):
        raise ValueError(f"{name} must be a sequence of integers, got {values!r}")
    try:
        return tuple(_int(name, v) for v in values)
    except TypeError:
        raise ValueError(f"{name} must be a sequence of integers, got {values!r}") from None


def _bytes(name, value):
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise ValueError(f"{name} must be bytes, got {type(value).__name__}")
    return bytes(value)


def _float32(name, value):
    if isinstance(value, (str, bytes, bool)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    try:
        f = struct.unpack("<f", struct.pack("<f", float(value)))[0]
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{name} {value!r} is not representable as a float32") from None
    if not math.isfinite(f) or f < 0:
        raise ValueError(f"{name} must be a finite float32 >= 0, got {value!r}")
    return f


def _ascii_name(name, value, limit):
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a str, got {type(value).__name__}")
    if len(value) > limit or not all("!" <= ch <= "~" for ch in value):
        raise ValueError(f"{name} {value!r} must be at most {limit} visible ASCII characters")


def _validate(h: Header) -> None:
    """Raise ValueError (one line) unless every field is in range and consistent."""
    for name, value, table in (
        ("mode", h.mode, MODE_IDS),
        ("modality", h.modality, MODALITY_IDS),
        ("dtype", h.dtype, DTYPE_IDS),
    ):
        if not isinstance(value, str) or value not in table:
            raise ValueError(f"unknown {name} {value!r}; expected one of {', '.join(table)}")

    if not 1 <= len(h.shape) <= MAX_NDIM:
        raise ValueError(f"shape must have 1 to {MAX_NDIM} dimensions, got {h.shape}")
    for d in h.shape:
        if not 1 <= d <= MAX_DIM:
            raise ValueError(f"declared shape {h.shape} has a dimension outside 1..2**30")
    if math.prod(h.shape) > MAX_SAMPLES:
        raise ValueError(f"declared shape {h.shape} exceeds the limit of 2**30 samples")

    if not 1 <= h.channels <= 0xFFFF:
        raise ValueError(f"channels must be in 1..65535, got {h.channels}")
    if not isinstance(h.layout, str):
        raise ValueError(f"layout must be a str, got {type(h.layout).__name__}")
    if (
        len(h.layout) != len(h.shape)
        or not all("A" <= ch <= "Z" for ch in h.layout)
        or len(set(h.layout)) != len(h.layout)
    ):
        raise ValueError(
            f"layout {h.layout!r} must be one distinct letter A-Z per dimension of {h.shape}"
        )
    expected = h.shape[h.layout.index("C")] if "C" in h.layout else 1
    if h.channels != expected:
        raise ValueError(
            f"channels {h.channels} disagrees with layout {h.layout!r} and shape {h.shape}"
        )

    if len(h.padded) > MAX_NDIM:
        raise ValueError(f"padded must have at most {MAX_NDIM} entries, got {len(h.padded)}")
    for d in h.padded:
        if not 1 <= d <= MAX_PADDED_DIM:
            raise ValueError(f"padded size {h.padded} has an entry outside 1..2**25")
    if math.prod(h.padded) * h.channels > MAX_PADDED_SAMPLES:
        raise ValueError(
            f"padded size {h.padded} x {h.channels} channels exceeds the limit of 2**31 samples"
        )

    _ascii_name("model", h.model, MAX_MODEL_NAME)
    if len(h.model_hash) != 8:
        raise ValueError(f"model_hash must be 8 bytes, got {len(h.model_hash)}")
    if not h.model and h.model_hash != _NO_HASH:
        raise ValueError("model_hash must be zero when no model is named")

    if h.modality == "audio":
        if not 1 <= h.sample_rate <= 0xFFFFFFFF:
            raise ValueError(f"audio needs a sample_rate in 1..2**32-1, got {h.sample_rate}")
    elif h.sample_rate != 0:
        raise ValueError(f"sample_rate must be 0 for {h.modality}, got {h.sample_rate}")
    if not 0 <= h.quality <= 100:
        raise ValueError(f"quality must be in 0..100, got {h.quality}")
    if len(h.params) > 0xFFFF:
        raise ValueError(f"params must be at most 65535 bytes, got {len(h.params)}")

    if len(h.chunk_lengths) > MAX_CHUNKS:
        raise ValueError(f"at most {MAX_CHUNKS} chunks, got {len(h.chunk_lengths)}")
    for n in h.chunk_lengths:
        if not 0 <= n <= 0xFFFFFFFF:
            raise ValueError(f"chunk length {n} is outside 0..2**32-1")


# --- writing --------------------------------------------------------------------------


def _encode_fields(h: Header) -> bytes:
    """The v1 header fields, in file order (between the preamble and the header CRC)."""
    model = h.model.encode("ascii")
    layout = h.layout.encode("ascii")
    n, p, c = len(h.shape), len(h.padded), len(h.chunk_lengths)
    return b"".join(
        [
            struct.pack(
                "<BBBB", MODE_IDS[h.mode], MODALITY_IDS[h.modality], DTYPE_IDS[h.dtype], len(model)
            ),
            model,
            h.model_hash,
            struct.pack(f"<B{n}I", n, *h.shape),
            struct.pack("<HB", h.channels, len(layout)),
            layout,
            struct.pack(f"<B{p}I", p, *h.padded),
            struct.pack("<IBfH", h.sample_rate, h.quality, h.step, len(h.params)),
            h.params,
            struct.pack(f"<H{c}I", c, *h.chunk_lengths),
        ]
    )


def pack(header: Header, chunks: list[bytes]) -> bytes:
    """Serialise a header and its payload chunks into one file.

    `header.chunk_lengths` may be empty (it is filled from `chunks`); if given it
    must match them.
    """
    chunks = [_bytes("chunk", c) for c in chunks]
    lengths = tuple(len(c) for c in chunks)
    if header.chunk_lengths and header.chunk_lengths != lengths:
        raise ValueError(
            f"header chunk_lengths {header.chunk_lengths} do not match the chunks {lengths}"
        )
    header = replace(header, chunk_lengths=lengths)  # validates the count and sizes
    fields = _encode_fields(header)
    head = _PREAMBLE.pack(MAGIC, FORMAT_VERSION, 0, len(fields) + _CRC_SIZE) + fields
    payload = b"".join(chunks)
    return b"".join(
        [
            head,
            struct.pack("<I", zlib.crc32(head)),
            payload,
            struct.pack("<I", zlib.crc32(payload)),
        ]
    )


# --- reading --------------------------------------------------------------------------


class _Reader:
    """Bounded little-endian cursor: running past `end` is a FormatError, not an IndexError."""

    def __init__(self, data, pos, end):
        self.data, self.pos, self.end = data, pos, end

    def take(self, n: int) -> bytes:
        if self.pos + n > self.end:
            raise FormatError("header fields overrun the declared header byte count")
        out = bytes(self.data[self.pos : self.pos + n])
        self.pos += n
        return out

    def unpack(self, fmt: str):
        s = struct.Struct("<" + fmt)
        return s.unpack(self.take(s.size))


def _check_bytes_like(data):
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"expected bytes, got {type(data).__name__}")
    return memoryview(data).cast("B")


def _read_header(data) -> tuple[Header, int]:
    """Parse and verify the header; return it and the offset where the payload starts."""
    size = len(data)
    if size == 0:
        raise FormatError("empty input")
    if size < len(MAGIC) and bytes(data) == MAGIC[:size]:
        raise FormatError(f"truncated: file is only {size} bytes")
    if bytes(data[:4]) != MAGIC:
        raise FormatError("not a WaveCodec file (bad magic)")
    if size < _PREAMBLE_SIZE:
        raise FormatError(f"truncated: file is only {size} bytes")
    _, version, flags, header_bytes = _PREAMBLE.unpack_from(data)
    if version > FORMAT_VERSION:
        raise FormatError(
            f"format version {version} is newer than this reader supports "
            f"({FORMAT_VERSION}); upgrade wavecodec"
        )
    if version != FORMAT_VERSION:
        raise FormatError(f"format version {version} is not valid")
    if flags:
        raise FormatError(f"reserved flag bits set (0x{flags:02x})")
    if header_bytes < _CRC_SIZE:
        raise FormatError(f"header byte count {header_bytes} is too small")
    if header_bytes > MAX_HEADER_BYTES:
        raise FormatError(f"header byte count {header_bytes} exceeds the limit of 2**20")
    payload_start = _PREAMBLE_SIZE + header_bytes
    if size < payload_start:
        raise FormatError(
            f"truncated: header declares {header_bytes} bytes, found {size - _PREAMBLE_SIZE}"
        )
    crc_pos = payload_start - _CRC_SIZE
    (stored_crc,) = struct.unpack_from("<I", data, crc_pos)
    if zlib.crc32(data[:crc_pos]) != stored_crc:
        raise FormatError("header checksum mismatch (corrupt file)")

    r = _Reader(data, _PREAMBLE_SIZE, crc_pos)
    mode_id, modality_id, dtype_id, model_len = r.unpack("BBBB")
    mode = _lookup(_MODES, mode_id, "mode")
    modality = _lookup(_MODALITIES, modality_id, "modality")
    dtype = _lookup(_DTYPES, dtype_id, "dtype")
    model = _ascii(r.take(model_len), "model name")
    model_hash = r.take(8)
    (ndim,) = r.unpack("B")
    shape = r.unpack(f"{ndim}I")
    channels, layout_len = r.unpack("HB")
    layout = _ascii(r.take(layout_len), "layout")
    (npad,) = r.unpack("B")
    padded = r.unpack(f"{npad}I")
    sample_rate, quality, step, params_len = r.unpack("IBfH")
    params = r.take(params_len)
    (nchunks,) = r.unpack("H")
    chunk_lengths = r.unpack(f"{nchunks}I")
    # Bytes between here and crc_pos are fields from a newer minor revision: skipped.
    try:
        header = Header(
            mode=mode, modality=modality, dtype=dtype, shape=shape, channels=channels,
            layout=layout, padded=padded, model=model, model_hash=model_hash,
            sample_rate=sample_rate, quality=quality, step=step, params=params,
            chunk_lengths=chunk_lengths,
        )
    except ValueError as e:
        raise FormatError(str(e)) from None
    return header, payload_start


def _lookup(table, ident, name):
    try:
        return table[ident]
    except KeyError:
        raise FormatError(f"unknown {name} id {ident}") from None


def _ascii(raw: bytes, name: str) -> str:
    if not raw.isascii():
        raise FormatError(f"{name} is not ASCII")
    return raw.decode("ascii")


def read_header(data: bytes) -> Header:
    """The verified header alone (for `wavecodec info`); `data` may stop after the header."""
    return _read_header(_check_bytes_like(data))[0]


def unpack(data: bytes) -> tuple[Header, list[bytes]]:
    """Verify a whole file and split it into its header and payload chunks."""
    data = _check_bytes_like(data)
    header, start = _read_header(data)
    expected = sum(header.chunk_lengths) + _CRC_SIZE
    found = len(data) - start
    if found < expected:
        raise FormatError(
            f"truncated: expected {expected} payload bytes (chunks and checksum), found {found}"
        )
    if found > expected:
        raise FormatError(f"trailing garbage: {found - expected} bytes after the payload checksum")
    end = len(data) - _CRC_SIZE
    (stored_crc,) = struct.unpack_from("<I", data, end)
    if zlib.crc32(data[start:end]) != stored_crc:
        raise FormatError("payload checksum mismatch (corrupt file)")
    chunks, pos = [], start
    for n in header.chunk_lengths:
        chunks.append(bytes(data[pos : pos + n]))
        pos += n
    return header, chunks


def looks_like_wlc(prefix: bytes) -> bool:
    """True if `prefix` starts with the WaveCodec magic (cheap sniffing, no validation)."""
    return bytes(prefix[:4]) == MAGIC
