"""Reading and writing image files as numpy arrays (HxW or HxWxC, uint8 or uint16).

Pillow does the work; the one thing it gets wrong for a codec is 16-bit colour PNG,
which it silently reads as 8 bits, so those files go through ``codec.io.png16``.
"""

import io
import warnings

import numpy as np

from codec.errors import InputError

__all__ = ["read_image", "image_to_bytes", "MAX_PIXELS"]

MAX_PIXELS = 2**28  # 16384 x 16384: beyond this we refuse before decoding the file

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def read_image(data: bytes, name: str = "input") -> np.ndarray:
    """Decode image file bytes into an array; palette, 1-bit and CMYK become RGB(A)/L."""
    from PIL import Image

    if not data:
        raise InputError(f"{name}: empty input")
    if data[:8] == _PNG_MAGIC and len(data) > 26 and data[24] == 16 and data[25] in (2, 6):
        from codec.io.png16 import read_png16

        return read_png16(data, name, MAX_PIXELS)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            Image.MAX_IMAGE_PIXELS = MAX_PIXELS
            im = Image.open(io.BytesIO(data))
            if im.width * im.height > MAX_PIXELS:
                raise InputError(f"{name}: {im.width}x{im.height} is larger than the {MAX_PIXELS}-pixel limit")
            im.load()
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InputError(f"{name}: image too large ({exc})") from exc
    except Exception as exc:  # Pillow raises many types for undecodable data
        raise InputError(f"{name}: not a readable image ({type(exc).__name__}: {exc})") from exc
    return _to_array(im, name)


def _to_array(im, name: str) -> np.ndarray:
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L"):
        return np.asarray(im, dtype=np.uint16)
    if mode in ("I", "F"):
        a = np.asarray(im)
        if mode == "I" and a.size and 0 <= a.min() and a.max() <= 65535:
            return a.astype(np.uint16)
        raise InputError(f"{name}: {mode}-mode ({'32-bit' if mode == 'I' else 'float'}) images are not supported; "
                         "pass a float32 array through the Python API instead")
    if mode not in ("L", "LA", "RGB", "RGBA"):
        target = "RGBA" if ("A" in mode or "transparency" in im.info) else ("L" if mode == "1" else "RGB")
        im = im.convert(target)
    return np.asarray(im)


def image_to_bytes(array: np.ndarray, fmt: str = "PNG") -> bytes:
    """Encode an HxW / HxWxC uint8 or uint16 array (C in 1..4) as an image file."""
    from PIL import Image

    a = np.asarray(array)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.dtype == np.uint16 and a.ndim == 3:
        if fmt.upper() != "PNG":
            raise InputError("16-bit colour output is only written as PNG")
        from codec.io.png16 import write_png16

        return write_png16(a)
    if a.ndim == 3 and a.shape[2] not in (2, 3, 4):
        raise InputError(f"cannot write a {a.shape[2]}-channel image as {fmt}; use the Python API or .npy")
    if a.dtype == np.uint16:
        im = Image.fromarray(a, mode=None)
    else:
        im = Image.fromarray(a.astype(np.uint8, copy=False))
    out = io.BytesIO()
    im.save(out, fmt)
    return out.getvalue()
