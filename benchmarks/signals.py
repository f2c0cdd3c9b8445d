"""Signal kinds: how to find, load and measure the signals a benchmark codes, and how to report them.

A kind finds its signals, loads them and measures a reconstruction, and names its rate unit, its
metrics (the first is the one BD-rates use), its anchors and its speed unit, so the runner and the
report stay the same for images, audio (``benchmarks.audio``) and N-band arrays
(``benchmarks.arrays``). Every kind's rate is ``bytes * 8 / sample.size``: ``size`` is pixels for
images (bpp), milliseconds for audio (kb/s), samples for arrays (bits per sample).
"""

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from . import metrics

__all__ = ["Sample", "SampleError", "Metric", "FileKind", "ImageKind", "digest", "REPO", "SHARED"]

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"  # the data sets, beside the repository


class SampleError(Exception):
    """A file in the data folder cannot be used; it is skipped with this message."""


@dataclass(frozen=True)
class Sample:
    name: str
    data: object  # what adapters of the kind encode: an array, or an ``audio.Audio``
    digest: str  # of the decoded samples: cached results are reused only for the same content
    size: int  # the count the rate is divided by
    shape: str = ""  # how the report describes it, e.g. "768x512"


@dataclass(frozen=True)
class Metric:
    key: str  # the column in rows, CSV and JSON
    short: str  # in table headers ("PSNR @0.5 bpp") and summary keys ("psnr_at")
    label: str  # the plot's y axis
    plot: str  # the plot's file name


def digest(array: np.ndarray, extra: str = "") -> str:
    return hashlib.sha256(array.tobytes() + str(array.shape).encode() + extra.encode()).hexdigest()[:16]


class FileKind:
    """Signals that are files, one signal per file, found in a folder (or given as one file)."""

    name = ""
    noun = "files"  # "24 images"
    suffixes: tuple = ()
    rate_key, rate_unit, rate_label = "", "", ""
    metrics: tuple = ()
    table_metrics = 1  # how many of ``metrics`` get "value at rate" columns
    bd_range: tuple | None = None  # None: the whole range both curves cover
    rates_at: tuple = ()
    anchors: tuple = ()  # the default anchor, then a second BD-rate column
    speed_key, speed_unit, speed_scale = "mps", "MP/s", 1e6  # throughput = size / speed_scale / seconds
    plot_max_rate: float | None = None
    method = ""  # what the summary says about the signals and the measures, beyond the generic text

    def default_data(self, say) -> Path:
        raise NotImplementedError

    def results_name(self, data: Path) -> str:
        """The results folder's name under benchmarks/results when --out is not given."""
        return f"{self.name}-{data.stem.lower()}"

    def samples(self, data: Path, say) -> list[Sample]:
        """Every readable signal; unreadable files are skipped with a message, none at all is an error."""
        from .errors import BenchError

        if not data.exists():
            raise BenchError(f"data {data} does not exist")
        if data.is_file():
            files = [data]
        else:
            files = sorted(p for p in data.iterdir() if p.is_file() and p.suffix.lower() in self.suffixes)
        if not files:
            raise BenchError(f"no {self.name} files in {data} (looked for {', '.join(self.suffixes)})")
        samples = []
        for path in files:
            try:
                samples.append(self.load(path))
            except SampleError as exc:
                say(f"skipping {path.name}: {exc}")
        if not samples:
            raise BenchError(f"none of the {len(files)} files in {data} could be read")
        return samples

    def load(self, path: Path) -> Sample:
        raise NotImplementedError

    def measure_version(self) -> str:
        """Names how ``measure`` computes its numbers; part of the cache key like a codec's version."""
        raise NotImplementedError

    def measure(self, sample: Sample, decoded, nbytes: int) -> dict:
        """The rate and every metric of one reconstruction."""
        raise NotImplementedError

    def _check(self, sample: Sample, decoded) -> None:
        if decoded.shape != sample.data.shape or decoded.dtype != sample.data.dtype:
            raise ValueError(f"decoded {decoded.dtype}{decoded.shape}, expected {sample.data.dtype}{sample.data.shape}")


class ImageKind(FileKind):
    """Lossless image files in a folder, measured in bpp, RGB PSNR and MS-SSIM."""

    name, noun = "image", "images"
    suffixes = (".png", ".ppm", ".pnm", ".bmp", ".tif", ".tiff")
    rate_key, rate_unit, rate_label = "bpp", "bpp", "bits per pixel"
    metrics = (Metric("psnr-rgb", "PSNR", "RGB PSNR (dB)", "rd_psnr.png"),
               Metric("ms-ssim-rgb", "MS-SSIM", "MS-SSIM (dB)", "rd_msssim.png"))
    bd_range = (0.25, 1.5)  # the rate interval the project's targets are stated over
    rates_at = (0.25, 0.5, 1.0)
    anchors = ("jpeg", "heic")  # HEIC: the BPG stand-in learned codecs are usually measured against
    plot_max_rate = 2.0  # the range people compare codecs over; every sweep reaches past it

    kodak = SHARED / "data" / "images" / "kodak"
    bundled = REPO / "codec" / "data" / "samples"

    def default_data(self, say) -> Path:
        if self.kodak.is_dir():
            say(f"data: Kodak at {self.kodak}")
            return self.kodak
        say(f"data: {self.kodak} not found, using the bundled samples at {self.bundled}")
        return self.bundled

    def results_name(self, data: Path) -> str:
        return data.name.lower()

    def load(self, path: Path) -> Sample:
        """An 8-bit RGB image (alpha dropped, grey expanded), as every codec here is fed."""
        try:
            with Image.open(path) as im:
                data = np.asarray(im.convert("RGB"))
        except Exception as exc:  # Pillow raises many types for broken files
            raise SampleError(f"cannot read image ({type(exc).__name__}: {exc})") from None
        if data.size == 0:
            raise SampleError("image is empty")
        h, w = data.shape[:2]
        return Sample(path.name, data, digest(data), h * w, f"{w}x{h}")

    def measure_version(self) -> str:
        return f"psnr-rgb; ms-ssim-rgb pytorch-msssim {metrics.ms_ssim_version()} float32"

    def measure(self, sample: Sample, decoded: np.ndarray, nbytes: int) -> dict:
        self._check(sample, decoded)
        return {
            "bpp": nbytes * 8 / sample.size,
            "psnr-rgb": metrics.psnr(sample.data, decoded),
            "ms-ssim-rgb": metrics.ms_ssim(sample.data, decoded),
        }
