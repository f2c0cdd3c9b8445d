"""WaveCodec: wavelet-packet compression for images and other signals.

    >>> import codec
    >>> data = codec.encode(image, quality=50)      # PIL image or numpy array -> bytes
    >>> restored = codec.decode(data)               # numpy array, original shape and dtype
    >>> codec.info(data)                            # every header field
    >>> data = codec.encode_audio(samples, 44100)    # (N,) or (N, C) int16/int32/float32
    >>> data = codec.encode(image, mode="learned")  # the learned codec (RGB)
    >>> data = codec.encode(image, mode="inr", effort="fast")  # a network fitted to the image
    >>> codec.latents(data)                         # its latents, for learning on compressed data

Errors are ``codec.InputError`` (bad signal or option), ``codec.FormatError`` (corrupt or
unsupported file) and ``codec.OutputError``, all subclasses of ``codec.WaveCodecError``.
"""

from codec.allocator import keep_freed_memory
from codec.api import DEFAULT_QUALITY, MODES, Info, complexity, decode, encode, encode_audio, info
from codec.errors import FormatError, InputError, OutputError, WaveCodecError

keep_freed_memory()  # large temporaries are reused, not page-faulted anew (codec.allocator)


def latents(image_or_file, quality: int = DEFAULT_QUALITY):
    """Latents (192, H/8, W/8) of an RGB image file as a torch tensor, entropy decoding only.

    Takes a linear- or learned-mode file (bytes or path) or an RGB image (coded at
    ``quality`` first). See ``codec.latent_dataset``.
    """
    from codec.latent_dataset import latents as _latents

    return _latents(image_or_file, quality)


__all__ = [
    "encode", "encode_audio", "decode", "info", "latents", "complexity", "Info", "MODES", "DEFAULT_QUALITY",
    "encode_features", "decode_features",
    "WaveCodecError", "InputError", "FormatError", "OutputError",
]
__version__ = "0.1.0"


def __getattr__(name):  # feature coding loads only when used (keeps `import codec` light)
    if name in ("encode_features", "decode_features"):
        import codec.features

        return getattr(codec.features, name)
    raise AttributeError(f"module 'codec' has no attribute {name!r}")
