"""WaveCodec: wavelet-packet compression for images and other signals.

    >>> import codec
    >>> data = codec.encode(image, quality=50)      # PIL image or numpy array -> bytes
    >>> restored = codec.decode(data)               # numpy array, original shape and dtype
    >>> codec.info(data)                            # every header field
    >>> data = codec.encode_audio(samples, 44100)    # (N,) or (N, C) int16/int32/float32

Errors are ``codec.InputError`` (bad signal or option), ``codec.FormatError`` (corrupt or
unsupported file) and ``codec.OutputError``, all subclasses of ``codec.WaveCodecError``.
"""

from codec.api import DEFAULT_QUALITY, MODES, Info, complexity, decode, encode, encode_audio, info
from codec.errors import FormatError, InputError, OutputError, WaveCodecError

__all__ = [
    "encode", "encode_audio", "decode", "info", "complexity", "Info", "MODES", "DEFAULT_QUALITY",
    "encode_features", "decode_features",
    "WaveCodecError", "InputError", "FormatError", "OutputError",
]
__version__ = "0.1.0"


def __getattr__(name):  # feature coding loads only when used (keeps `import codec` light)
    if name in ("encode_features", "decode_features"):
        import codec.features

        return getattr(codec.features, name)
    raise AttributeError(f"module 'codec' has no attribute {name!r}")
