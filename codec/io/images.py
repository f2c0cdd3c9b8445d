"""Reading and writing image files as numpy arrays (HxW or HxWxC, uint8 or uint16).

Pillow does the work; the one thing it gets wrong for a codec is 16-bit colour PNG,
which it silently reads as 8 bits, so those files go through ``codec.io.png16``. TIFF
goes through tifffile, which reads any band count (multispectral) and float samples.
"""

import io
import warnings

import numpy as np

from codec.errors import InputError

__all__ = ["read_image", "image_to_bytes", "MAX_PIXELS"]

MAX_PIXELS = 2**28  # 16384 x 16384: beyond this we refuse before decoding the file

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def read_image(data: bytes, name: str = "input") -> np.ndarray:
    """Decode image file bytes into an array; palette, 1-bit and CMYK become RGB(A)/L."""
    from PIL import Image

    if not data:
        raise InputError(f"{name}: empty input")
    if data[:8] == _PNG_MAGIC and len(data) > 26 and data[24] == 16 and data[25] in (2, 6):
        from codec.io.png16 import read_png16

        return read_png16(data, name, MAX_PIXELS)
    if data[:4] in _TIFF_MAGICS:
        array = _read_tiff(data, name)
        if array is not None:
            return array
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


def _read_tiff(data: bytes, name: str) -> np.ndarray | None:
    """The first image series of a TIFF as HxW or HxWxC (bands first are moved last).

    None for 8-bit colour, palette and CMYK TIFFs, which Pillow converts to RGB(A).
    """
    import tifffile

    try:
        with tifffile.TiffFile(io.BytesIO(data)) as tif:
            page = tif.pages[0]
            if page.photometric in (2, 3, 5, 6) and page.samplesperpixel <= 4 and page.bitspersample == 8:
                return None
            series = tif.series[0]
            axes, shape = series.axes, series.shape
            if len(shape) == 2 and axes.endswith("YX") or len(shape) == 3 and axes[-1] in "SC" or \
                    len(shape) == 3 and axes.endswith("YX"):
                pixels = shape[-2] * shape[-1] if axes.endswith("YX") else shape[0] * shape[1]
                if pixels > MAX_PIXELS or np.prod(shape) > MAX_PIXELS * 4:
                    raise InputError(f"{name}: TIFF of shape {shape} is larger than the limit")
                a = series.asarray()
            else:
                raise InputError(f"{name}: TIFF with axes {axes!r} is not an image (expected YX, YXS or SYX)")
    except InputError:
        raise
    except Exception as exc:  # tifffile raises many types for broken files
        raise InputError(f"{name}: not a readable TIFF ({type(exc).__name__}: {exc})") from exc
    return np.moveaxis(a, 0, -1) if a.ndim == 3 and axes.endswith("YX") else a


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
