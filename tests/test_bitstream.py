"""Specification tests for the container (file format v1, docs/FORMAT.md)."""

import math
import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codec import bitstream
from codec.bitstream import (
    DTYPE_IDS,
    FORMAT_VERSION,
    MAGIC,
    MODALITY_IDS,
    MODE_IDS,
    Header,
    looks_like_wlc,
    pack,
    read_header,
    unpack,
)
from codec.errors import FormatError

# A small audio file whose every byte is pinned by GOLDEN_HEX below.
GOLDEN_HEADER = Header(
    mode="linear",
    modality="audio",
    dtype="int16",
    shape=(2, 5),
    channels=2,
    layout="CL",
    padded=(8,),
    model="m1",
    model_hash=bytes(range(8)),
    sample_rate=8000,
    quality=50,
    step=0.5,
    params=b"db2",
)
GOLDEN_CHUNKS = [b"\x01\x02", b"\x03"]
GOLDEN_HEX = (
    "89574c43" "01" "00" "3d000000"  # magic, version 1, flags 0, header byte count 61
    "01" "02" "03"  # mode linear, modality audio, dtype int16
    "02" "6d31" "0001020304050607"  # model "m1", model hash
    "02" "02000000" "05000000"  # shape (2, 5)
    "0200" "02" "434c"  # channels 2, layout "CL"
    "01" "08000000"  # padded (8,)
    "401f0000" "32" "0000003f"  # sample rate 8000, quality 50, step 0.5
    "0300" "646232"  # params b"db2"
    "0200" "02000000" "01000000"  # chunk lengths (2, 1)
    "410a8d5a"  # header CRC32
    "010203"  # payload
    "1d80bc55"  # payload CRC32
)

# Offsets in an image file written with no model name (see docs/FORMAT.md).
MODE_AT, MODALITY_AT, DTYPE_AT, NDIM_AT = 10, 11, 12, 22


def _image_file(shape=(1, 1, 3), chunks=(b"abc", b"de")):
    header = Header(
        mode="linear", modality="image", dtype="uint8", shape=shape, channels=shape[-1],
        layout="HWC", padded=shape[:2], quality=90, step=1.0,
    )
    return pack(header, list(chunks))


def _resign(data: bytes) -> bytes:
    """Recompute the header CRC after a deliberate edit, so only the edit is tested."""
    header_bytes = struct.unpack_from("<I", data, 6)[0]
    crc_at = 10 + header_bytes - 4
    return data[:crc_at] + struct.pack("<I", zlib.crc32(data[:crc_at])) + data[crc_at + 4 :]


def _patch(data: bytes, offset: int, new: bytes) -> bytes:
    return data[:offset] + new + data[offset + len(new) :]


# --- strategies ------------------------------------------------------------------------


@st.composite
def headers(draw):
    ndim = draw(st.integers(1, 8))
    shape = draw(st.lists(st.integers(1, 4), min_size=ndim, max_size=ndim))
    if draw(st.booleans()):  # reach the large end of one dimension too
        shape[draw(st.integers(0, ndim - 1))] = draw(st.integers(1, 2**24))
    while math.prod(shape) > 2**30:
        shape[shape.index(max(shape))] //= 2
    layout = "".join(draw(st.permutations("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))[:ndim])
    if "C" in layout:
        shape[layout.index("C")] = min(shape[layout.index("C")], 0xFFFF)
    channels = shape[layout.index("C")] if "C" in layout else 1
    padded = draw(st.lists(st.integers(1, 2**12), max_size=8))
    while math.prod(padded) * channels > 2**31:
        padded.pop()
    modality = draw(st.sampled_from(sorted(MODALITY_IDS)))
    model = draw(st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=64))
    return Header(
        mode=draw(st.sampled_from(sorted(MODE_IDS))),
        modality=modality,
        dtype=draw(st.sampled_from(sorted(DTYPE_IDS))),
        shape=tuple(shape),
        channels=channels,
        layout=layout,
        padded=tuple(padded),
        model=model,
        model_hash=draw(st.binary(min_size=8, max_size=8)) if model else bytes(8),
        sample_rate=draw(st.integers(1, 2**32 - 1)) if modality == "audio" else 0,
        quality=draw(st.integers(0, 100)),
        step=draw(st.floats(0, 2.0**100, width=32)),
        params=draw(st.binary(max_size=300)),
    )


# --- round trip and layout -------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(header=headers(), chunks=st.lists(st.binary(max_size=40), max_size=20))
def test_round_trip_preserves_header_and_chunks(header, chunks):
    got_header, got_chunks = unpack(pack(header, chunks))
    assert got_header == Header(**{**vars(header), "chunk_lengths": tuple(map(len, chunks))})
    assert got_chunks == chunks


def test_golden_bytes_pin_the_v1_layout():
    data = pack(GOLDEN_HEADER, GOLDEN_CHUNKS)
    assert data.hex() == GOLDEN_HEX
    header, chunks = unpack(bytes.fromhex(GOLDEN_HEX))
    assert chunks == GOLDEN_CHUNKS
    assert header.chunk_lengths == (2, 1)


def test_id_tables_are_fixed_forever():
    assert MAGIC == b"\x89WLC" and FORMAT_VERSION == 1
    assert MODE_IDS == {"linear": 1, "learned": 2, "inr": 3, "features": 4}
    assert MODALITY_IDS == {"image": 1, "audio": 2, "array": 3, "features": 4}
    assert DTYPE_IDS == {
        "uint8": 1, "uint16": 2, "int16": 3, "int32": 4,
        "float16": 5, "float32": 6, "float64": 7, "bfloat16": 8,
    }


def test_step_is_the_exact_float32_the_decoder_uses():
    header = Header(
        mode="linear", modality="array", dtype="float32", shape=(4,), channels=1,
        layout="X", step=0.1,
    )
    assert header.step == struct.unpack("<f", struct.pack("<f", 0.1))[0]
    assert unpack(pack(header, []))[0].step == header.step


def test_pack_fills_chunk_lengths_and_rejects_wrong_ones():
    assert unpack(pack(GOLDEN_HEADER, [b"xyz"]))[0].chunk_lengths == (3,)
    with pytest.raises(ValueError, match="do not match"):
        pack(Header(**{**vars(GOLDEN_HEADER), "chunk_lengths": (5,)}), [b"xyz"])


def test_reader_skips_unknown_trailing_header_fields():
    data = pack(GOLDEN_HEADER, GOLDEN_CHUNKS)
    header_bytes = struct.unpack_from("<I", data, 6)[0]
    crc_at = 10 + header_bytes - 4
    future = b"\x07future-field\x00\x01"
    longer = (
        data[:6] + struct.pack("<I", header_bytes + len(future)) + data[10:crc_at] + future
        + b"\0\0\0\0" + data[crc_at + 4 :]
    )
    longer = _resign(longer)
    assert unpack(longer) == unpack(data)
    rows = dict(read_header(longer).describe(longer))
    assert rows["header bytes"] == str(header_bytes + len(future))


def test_read_header_needs_only_the_header_and_still_checks_it():
    data = pack(GOLDEN_HEADER, GOLDEN_CHUNKS)
    header_only = data[: -len(b"\x01\x02\x03") - 4]
    assert read_header(header_only) == unpack(data)[0]
    with pytest.raises(FormatError, match="header checksum mismatch"):
        read_header(_patch(header_only, 20, b"\xff"))


def test_accepts_bytearray_and_memoryview():
    data = pack(GOLDEN_HEADER, GOLDEN_CHUNKS)
    assert unpack(bytearray(data)) == unpack(memoryview(data)) == unpack(data)


def test_looks_like_wlc_sniffs_the_magic():
    assert looks_like_wlc(pack(GOLDEN_HEADER, GOLDEN_CHUNKS)[:4])
    assert not looks_like_wlc(b"\x89PNG\r\n")
    assert not looks_like_wlc(b"WLC")
    assert not looks_like_wlc(b"")


def test_describe_lists_every_field_printably():
    data = pack(GOLDEN_HEADER, GOLDEN_CHUNKS)
    rows = dict(read_header(data).describe(data))
    assert rows["format version"] == "1"
    assert rows["header bytes"] == "61"
    assert rows["total size"] == f"{len(data)} bytes"
    assert rows["shape"] == "2 x 5" and rows["layout"] == "CL"
    assert rows["chunk lengths"] == "2, 1"
    assert rows["model hash"] == "0001020304050607"
    assert dict(read_header(data).describe())["total size"] == rows["total size"]
    for field in ("mode", "modality", "model", "dtype", "channels", "padded", "sample rate",
                  "quality", "step", "params", "chunks", "payload bytes"):
        assert rows[field].isprintable()


# --- invalid headers cannot be built -----------------------------------------------------


@pytest.mark.parametrize(
    "change, message",
    [
        ({"mode": "jpeg"}, "unknown mode"),
        ({"dtype": "int8"}, "unknown dtype"),
        ({"shape": (65536, 65536)}, r"exceeds the limit of 2\*\*30 samples"),
        ({"shape": (2**30 + 1, 1)}, "outside 1..2"),
        ({"shape": ()}, "1 to 8 dimensions"),
        ({"layout": "CLX"}, "one distinct letter"),
        ({"channels": 3}, "disagrees with layout"),
        ({"model": "bad name"}, "visible ASCII"),
        ({"model": "x" * 65}, "at most 64"),
        ({"model": "", "model_hash": b"\x01" * 8}, "must be zero"),
        ({"sample_rate": 0}, "sample_rate"),
        ({"quality": 101}, "quality"),
        ({"step": float("nan")}, "finite"),
        ({"step": 1e300}, "float32"),
        ({"params": bytes(70000)}, "65535"),
        ({"padded": (2**25, 2**25)}, r"2\*\*31"),
    ],
)
def test_invalid_header_cannot_be_constructed(change, message):
    with pytest.raises(ValueError, match=message):
        Header(**{**vars(GOLDEN_HEADER), **change})


# --- every malformed input is a FormatError with a specific message ----------------------


def test_every_truncation_is_a_format_error():
    data = pack(GOLDEN_HEADER, GOLDEN_CHUNKS)
    for n in range(len(data)):
        with pytest.raises(FormatError):
            unpack(data[:n])


def test_every_single_bit_flip_is_a_format_error():
    data = pack(GOLDEN_HEADER, GOLDEN_CHUNKS)
    for i in range(len(data) * 8):
        flipped = bytearray(data)
        flipped[i // 8] ^= 1 << (i % 8)
        with pytest.raises(FormatError):
            unpack(bytes(flipped))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_raise_only_format_error(data):
    for candidate in (data, MAGIC + data, MAGIC + b"\x01\x00" + data):
        with pytest.raises(FormatError):
            unpack(candidate)


@settings(max_examples=500, deadline=None)
@given(fields=st.binary(max_size=120), payload=st.binary(max_size=8))
def test_garbage_fields_behind_a_valid_checksum_raise_only_format_error(fields, payload):
    head = MAGIC + struct.pack("<BBI", 1, 0, len(fields) + 4) + fields
    data = head + struct.pack("<I", zlib.crc32(head)) + payload
    try:
        unpack(data)
    except FormatError:
        pass


def test_empty_input():
    with pytest.raises(FormatError, match="^empty input$"):
        unpack(b"")


def test_wrong_magic():
    with pytest.raises(FormatError, match=r"not a WaveCodec file \(bad magic\)"):
        unpack(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(FormatError, match="bad magic"):
        read_header(b"hello world, this is text")


def test_newer_version_asks_for_an_upgrade():
    data = _patch(pack(GOLDEN_HEADER, GOLDEN_CHUNKS), 4, b"\x02")
    with pytest.raises(
        FormatError,
        match=r"format version 2 is newer than this reader supports \(1\); upgrade wavecodec",
    ):
        unpack(data)


def test_version_zero_is_invalid():
    with pytest.raises(FormatError, match="format version 0 is not valid"):
        unpack(_patch(pack(GOLDEN_HEADER, GOLDEN_CHUNKS), 4, b"\x00"))


@pytest.mark.parametrize("bit", range(8))
def test_reserved_flag_bit_is_rejected(bit):
    data = _resign(_patch(pack(GOLDEN_HEADER, GOLDEN_CHUNKS), 5, bytes([1 << bit])))
    with pytest.raises(FormatError, match="reserved flag bits set"):
        unpack(data)


@pytest.mark.parametrize(
    "offset, value, message",
    [
        (MODE_AT, 9, "unknown mode id 9"),
        (MODE_AT, 0, "unknown mode id 0"),
        (MODALITY_AT, 200, "unknown modality id 200"),
        (DTYPE_AT, 42, "unknown dtype id 42"),
    ],
)
def test_unknown_ids_are_rejected(offset, value, message):
    data = _resign(_patch(_image_file(), offset, bytes([value])))
    with pytest.raises(FormatError, match=message):
        unpack(data)


def test_absurd_shape_is_refused_from_the_header_alone():
    data = _image_file(shape=(1, 1, 3))
    assert data[NDIM_AT] == 3
    data = _resign(_patch(data, NDIM_AT + 1, struct.pack("<II", 65536, 65536)))
    header_only = data[: len(data) - 5 - 4]
    message = r"declared shape \(65536, 65536, 3\) exceeds the limit of 2\*\*30 samples"
    with pytest.raises(FormatError, match=message):
        read_header(header_only)
    with pytest.raises(FormatError, match=message):
        unpack(data)


def test_huge_header_byte_count_is_refused():
    data = _patch(pack(GOLDEN_HEADER, GOLDEN_CHUNKS), 6, struct.pack("<I", 2**32 - 1))
    with pytest.raises(FormatError, match="header byte count 4294967295 exceeds the limit"):
        unpack(data)


def test_header_byte_count_too_short_for_the_fields():
    data = pack(GOLDEN_HEADER, GOLDEN_CHUNKS)
    short = data[:6] + struct.pack("<I", 20) + data[10:26] + b"\0\0\0\0"
    with pytest.raises(FormatError, match="overrun the declared header byte count"):
        unpack(_resign(short))


def test_truncated_payload_names_expected_and_found_sizes():
    data = pack(GOLDEN_HEADER, GOLDEN_CHUNKS)
    with pytest.raises(FormatError, match=r"^truncated: expected 7 payload bytes .*found 5$"):
        unpack(data[:-2])


def test_chunk_lengths_longer_than_the_payload():
    data = pack(GOLDEN_HEADER, GOLDEN_CHUNKS)
    chunk_table = GOLDEN_HEX.index("0200" "02000000" "01000000") // 2 + 2
    data = _resign(_patch(data, chunk_table, struct.pack("<I", 1000)))
    with pytest.raises(FormatError, match="truncated: expected 1005 payload bytes"):
        unpack(data)


def test_chunk_lengths_shorter_than_the_payload():
    data = pack(GOLDEN_HEADER, GOLDEN_CHUNKS)
    chunk_table = GOLDEN_HEX.index("0200" "02000000" "01000000") // 2 + 2
    data = _resign(_patch(data, chunk_table, struct.pack("<I", 1)))
    with pytest.raises(FormatError, match="trailing garbage: 1 bytes"):
        unpack(data)


def test_trailing_bytes_are_rejected():
    with pytest.raises(FormatError, match="trailing garbage: 3 bytes after the payload checksum"):
        unpack(pack(GOLDEN_HEADER, GOLDEN_CHUNKS) + b"xyz")


def test_checksums_catch_corruption():
    data = pack(GOLDEN_HEADER, GOLDEN_CHUNKS)
    with pytest.raises(FormatError, match=r"^header checksum mismatch \(corrupt file\)$"):
        unpack(_patch(data, 40, b"\xee"))
    with pytest.raises(FormatError, match=r"^payload checksum mismatch \(corrupt file\)$"):
        unpack(_patch(data, len(data) - 6, b"\xee"))


def test_module_declares_its_public_api():
    for name in ("MAGIC", "FORMAT_VERSION", "Header", "pack", "unpack", "read_header",
                 "looks_like_wlc"):
        assert name in bitstream.__all__
