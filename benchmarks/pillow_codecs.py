"""The classical image codecs a user would pick instead of WaveCodec, all driven through Pillow.

Settings follow the issue: JPEG with optimised Huffman tables, WebP method 6, AVIF 4:4:4 at
speed 6, JPEG XL effort 7, HEIC (x265, 4:4:4, our stand-in for BPG) and irreversible JPEG 2000.
Each sweep was chosen so the Kodak set spans about 0.1-2 bpp.
"""

import io
from importlib import metadata

import numpy as np
import PIL
from PIL import Image, features

from .adapter import Adapter

__all__ = ["ADAPTERS"]


class PillowCodec(Adapter):
    """A codec that Pillow (or a Pillow plugin) saves as ``format`` with fixed options."""

    format: str = ""
    feature: str = ""  # PIL.features name of the library behind the format
    options: dict = {}

    def available(self):
        if not features.check(self.feature):
            return f"Pillow {PIL.__version__} was built without {self.feature}"
        return None

    def version(self):
        return f"Pillow {PIL.__version__} {self.feature} {features.version(self.feature)} {self.options}"

    def save_options(self, quality) -> dict:
        return {"quality": quality, **self.options}

    def encode(self, signal, quality):
        buf = io.BytesIO()
        Image.fromarray(signal).save(buf, format=self.format, **self.save_options(quality))
        return buf.getvalue()

    def decode(self, data):
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im.convert("RGB"))


class Jpeg(PillowCodec):
    name, format, feature = "jpeg", "JPEG", "jpg"
    description = "JPEG (libjpeg-turbo via Pillow), optimize=True, 4:2:0"
    options = {"optimize": True}
    qualities = (3, 5, 10, 15, 20, 30, 40, 50, 60, 70, 80, 90)


class WebP(PillowCodec):
    name, format, feature = "webp", "WEBP", "webp"
    description = "WebP (libwebp via Pillow), lossy, method 6"
    options = {"method": 6}
    qualities = (0, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90)


class Avif(PillowCodec):
    name, format, feature = "avif", "AVIF", "avif"
    description = "AVIF (libavif via Pillow), 4:4:4, speed 6"
    options = {"subsampling": "4:4:4", "speed": 6}
    qualities = (10, 20, 30, 40, 50, 60, 70, 80, 90)


class Jpeg2000(PillowCodec):
    """JPEG 2000 has no quality knob in Pillow: its sweep is the target compression ratio.

    ``mct=1`` turns on the colour transform (ICT with the irreversible 9/7 wavelet); Pillow's
    default codes R, G and B independently, which costs about 4 dB at 1 bpp on Kodak.
    """

    name, format, feature = "jpeg2000", "JPEG2000", "jpg_2000"
    description = "JPEG 2000 (OpenJPEG via Pillow), irreversible 9/7 with colour transform, rate-targeted"
    options = {"irreversible": True, "mct": 1, "quality_mode": "rates"}
    qualities = (240, 160, 120, 96, 64, 48, 32, 24, 16, 12)

    def save_options(self, quality):
        return {"quality_layers": [quality], **self.options}


class JpegXL(PillowCodec):
    name, format = "jxl", "JXL"
    description = "JPEG XL (libjxl via pillow-jxl-plugin), effort 7"
    options = {"effort": 7}
    qualities = (0, 5, 10, 15, 20, 25, 30, 40, 50, 60, 70, 80, 90)  # steep below 30: sampled closer

    def available(self):
        try:
            import pillow_jxl  # noqa: F401  (registers the JXL format with Pillow)
        except ImportError:
            return "pillow-jxl-plugin not installed (pip install pillow-jxl-plugin)"
        return None

    def version(self):
        return f"Pillow {PIL.__version__} pillow-jxl-plugin {metadata.version('pillow-jxl-plugin')} {self.options}"

    def encode(self, signal, quality):
        import pillow_jxl  # noqa: F401  (a fresh worker process needs the format registered too)

        return super().encode(signal, quality)

    def decode(self, data):
        import pillow_jxl  # noqa: F401

        return super().decode(data)


class Heic(PillowCodec):
    """HEVC intra in a HEIF file: the nearest installable thing to BPG."""

    name = "heic"
    description = "HEIC (libheif + x265 via pillow-heif), 4:4:4"
    options = {"chroma": 444}
    qualities = (10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60)

    def available(self):
        try:
            import pillow_heif
        except ImportError:
            return "pillow-heif not installed (pip install pillow-heif)"
        if "x265" not in pillow_heif.libheif_info().get("encoders", {}):
            return "pillow-heif was built without the x265 encoder"
        return None

    def version(self):
        import pillow_heif

        info = pillow_heif.libheif_info()
        return f"pillow-heif {pillow_heif.__version__} libheif {info['libheif']} {info['HEIF']} {self.options}"

    def encode(self, signal, quality):
        import pillow_heif

        buf = io.BytesIO()
        pillow_heif.from_pillow(Image.fromarray(signal)).save(buf, quality=quality, **self.options)
        return buf.getvalue()

    def decode(self, data):
        import pillow_heif

        return np.asarray(pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True).to_pillow().convert("RGB"))


ADAPTERS = (Jpeg(), WebP(), Avif(), JpegXL(), Heic(), Jpeg2000())
