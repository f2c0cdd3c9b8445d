"""Reading and writing audio files (WAV, RF64, FLAC, Ogg) as (frames, channels) arrays.

soundfile (libsndfile) does the decoding. Samples keep the file's own sample type:
int16 for PCM up to 16 bits (and u-law/A-law), int32 for 24- and 32-bit PCM (soundfile
left-justifies 24-bit samples, so they are multiples of 256), float32 for float files
and lossy formats (Vorbis, Opus, MP3). Every failure is an ``InputError`` with one line.
"""

import io
import os
import struct

import numpy as np

from codec.errors import InputError, OutputError

__all__ = ["looks_like_audio", "read_audio", "write_audio", "AUDIO_OUTPUTS"]

AUDIO_OUTPUTS = {".wav": "WAV", ".flac": "FLAC"}
MAX_FRAMES = 2**30
_INT16_SUBTYPES = {"PCM_S8", "PCM_U8", "PCM_16", "ULAW", "ALAW", "DPCM_8", "DPCM_16"}
_INT32_SUBTYPES = {"PCM_24", "PCM_32"}


def looks_like_audio(prefix: bytes) -> bool:
    """True for the magic of a WAV (RIFF....WAVE), RF64, FLAC, Ogg or MP3 file (no validation).

    MP3: an ID3v2 tag, or an MPEG audio frame sync (11 set bits) with layer III.
    """
    prefix = bytes(prefix[:12])
    mp3 = prefix[:3] == b"ID3" or (len(prefix) > 1 and prefix[0] == 0xFF and prefix[1] & 0xE6 == 0xE2)
    return ((prefix[:4] in (b"RIFF", b"RF64") and prefix[8:12] == b"WAVE")
            or prefix[:4] in (b"fLaC", b"OggS") or mp3)


def _check_wav_sizes(data: bytes, name: str, total: int | None = None) -> None:
    """Refuse a RIFF WAVE whose data chunk claims more bytes than the file holds.

    libsndfile silently reads what is there; a header that lies means a truncated or
    corrupt file, which should not be encoded as if it were whole. 0 and 0xFFFFFFFF are
    the placeholders streaming writers leave, and are accepted.
    """
    total = len(data) if total is None else total  # data may be only the head of the file
    pos = 12
    while pos + 8 <= len(data):
        tag, size = struct.unpack_from("<4sI", data, pos)
        if tag == b"data":
            available = total - pos - 8
            if size not in (0, 0xFFFFFFFF) and size > available:
                raise InputError(f"{name}: WAV header declares {size} bytes of audio but only "
                                 f"{available} are present (truncated or corrupt file)")
            return
        pos += 8 + size + (size & 1)
    if len(data) < total:
        return  # the data chunk lies beyond the head we read; libsndfile checks the rest
    raise InputError(f"{name}: WAV file has no data chunk (truncated or corrupt file)")


def _dtype_for(subtype: str) -> str:
    if subtype in _INT16_SUBTYPES:
        return "int16"
    if subtype in _INT32_SUBTYPES:
        return "int32"
    return "float32"


def read_audio(source, name: str = "input"):
    """File bytes or a path -> (samples (N, C) int16/int32/float32, sample rate, info dict).

    A path is read by libsndfile directly, so a long file is held once (as samples), not twice.
    """
    import soundfile as sf

    if isinstance(source, (bytes, bytearray, memoryview)):
        head = data = bytes(source)
        total, opened = len(data), (lambda: io.BytesIO(data))
    else:
        try:
            with open(source, "rb") as f:
                head = f.read(1 << 20)
            total = os.path.getsize(source)
        except OSError as exc:
            raise InputError(f"{name}: cannot read ({exc.strerror})") from exc
        opened = lambda: source  # noqa: E731
    if not head:
        raise InputError(f"{name}: empty input")
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        _check_wav_sizes(head, name, total)
    try:
        meta = sf.info(opened())
        if meta.frames > MAX_FRAMES:
            raise InputError(f"{name}: {meta.frames} frames exceed the limit of 2**30")
        dtype = _dtype_for(meta.subtype)
        samples, rate = sf.read(opened(), dtype=dtype, always_2d=True)
    except InputError:
        raise
    except Exception as exc:  # libsndfile errors, RuntimeError, ValueError, ...
        detail = str(exc).split(":")[-1].strip() or type(exc).__name__
        raise InputError(f"{name}: not a readable audio file ({detail})") from exc
    if samples.shape[1] == 0:
        raise InputError(f"{name}: audio has no channels")
    if samples.shape[0] == 0:
        raise InputError(f"{name}: audio has no samples (zero length)")
    if not 1 <= rate <= 0xFFFFFFFF:
        raise InputError(f"{name}: sample rate {rate} is out of range")
    if samples.dtype == np.float32 and not np.isfinite(samples).all():
        raise InputError(f"{name}: audio contains NaN or infinite values")
    info = {"format": meta.format, "subtype": meta.subtype, "frames": samples.shape[0],
            "channels": samples.shape[1], "duration": samples.shape[0] / rate}
    return np.ascontiguousarray(samples), int(rate), info


def write_audio(samples: np.ndarray, rate: int, fmt: str = "WAV", target=None) -> bytes | None:
    """(N, C) or (N,) int16/int32/float32 samples -> WAV or FLAC file bytes (or into ``target``, a path).

    int32 samples that are all multiples of 256 (24-bit data) are written as 24-bit PCM,
    other int32 as 32-bit PCM (WAV only: FLAC holds at most 24 bits), float32 as float WAV.
    """
    import soundfile as sf

    fmt = fmt.upper()
    if fmt not in ("WAV", "FLAC"):
        raise OutputError(f"unknown audio format {fmt!r}; use WAV or FLAC")
    a = np.asarray(samples)
    if a.dtype == np.int16:
        subtype = "PCM_16"
    elif a.dtype == np.int32:
        subtype = "PCM_24" if not np.any(a & 0xFF) else "PCM_32"
    elif a.dtype == np.float32:
        subtype = "FLOAT"
    else:
        raise OutputError(f"cannot write {a.dtype} audio; use int16, int32 or float32")
    if fmt == "FLAC" and subtype not in ("PCM_16", "PCM_24"):
        raise OutputError(f"FLAC holds integer PCM up to 24 bits; this {subtype} audio needs a .wav output")
    if target is not None:
        sf.write(target, a, int(rate), format=fmt, subtype=subtype)
        return None
    buf = io.BytesIO()
    sf.write(buf, a, int(rate), format=fmt, subtype=subtype)
    return buf.getvalue()
