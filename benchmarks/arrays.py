"""N-band 8-bit arrays for ``wavecodec bench --kind array`` (the Landsat-7 scene): kind and codecs.

``python -m benchmarks.arrays [OPTIONS]`` is the same as ``wavecodec bench --kind array [OPTIONS]``.

The issue's target is "Landsat linear mode beats per-band JPEG 2000 in BD-rate"; this measures it.
Rate is bits per sample: the whole file (headers, and WaveCodec's stored KLT) * 8 / (H*W*C).
Distortion is PSNR over all samples, peak 255. Codecs:

- ``wavecodec-array``: ``codec.encode`` on the whole HxWxC array (KLT across bands for C >= 5).
- ``jpeg2000-band``: each band an 8-bit grayscale JPEG 2000 codestream (OpenJPEG via Pillow,
  irreversible 9/7), every band at the same target PSNR (``quality_mode="dB"``). Equal distortion
  per band is the high-rate optimum for the total MSE, and it beats equal rates per band; this is
  the default anchor.
- ``jpeg2000-band-rates``: the same, every band at the same compression ratio (``"rates"``).
- ``wavecodec-band``: WaveCodec on each band alone, no KLT: what the transform across bands buys.
- ``wavecodec-inr-array``: the INR mode (effort fast, about a minute per quality on the scene) on
  the whole array; opt-in (name it in ``--codecs``).
- ``zfp``: zfpy fixed-accuracy mode on the float32 array, PSNR of its float output as is
  (skipped when zfpy is not installed).

Per-band files are stored one after another, each after its 4-byte length (counted in the rate).
"""

import io
import sys
from importlib import metadata
from pathlib import Path

import numpy as np

from .adapter import Adapter
from .metrics import psnr
from .pillow_codecs import Jpeg2000
from .signals import SHARED, FileKind, Metric, Sample, SampleError, digest
from .wavecodec_codecs import WaveCodecINR, WaveCodecMode

__all__ = ["ArrayKind", "ADAPTERS", "main"]

# Each sweep chosen (on the Landsat scene) to span about 0.1-4 bits per sample where the codec can.
WAVECODEC_QUALITIES = (31, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90, 92)


class ArrayKind(FileKind):
    """HxWxC uint8 .npy arrays (a file, or a folder of them), in bits per sample and PSNR."""

    name, noun = "array", "arrays"
    suffixes = (".npy",)
    rate_key, rate_unit, rate_label = "bits_per_sample", "bits/sample", "bits per sample"
    metrics = (Metric("psnr", "PSNR", "PSNR (dB), all samples, peak 255", "rd_psnr.png"),)
    rates_at = (0.5, 1.0, 2.0)
    anchors = ("jpeg2000-band", "jpeg2000-band-rates")
    speed_key, speed_unit = "msps", "MS/s"
    plot_max_rate = 4.5
    default = SHARED / "data" / "multispectral" / "L7_ETMs.npy"
    method = ("Rate: whole files (all headers; WaveCodec's KLT is stored in its file; per-band codecs store each "
              "band's file after its 4-byte length). PSNR over all samples, peak 255; zfp is scored on its float "
              "output without rounding back to 8 bits.")

    def default_data(self, say) -> Path:
        say(f"data: {self.default}")
        return self.default

    def load(self, path: Path) -> Sample:
        """Read in place; only HxWxC uint8 fits the per-band 8-bit JPEG 2000 anchor."""
        try:
            a = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise SampleError(f"not a readable .npy array ({exc})") from None
        if a.ndim != 3 or a.dtype != np.uint8 or a.size == 0:
            raise SampleError(f"need an HxWxC uint8 array, got {a.dtype} {a.shape}")
        return Sample(path.name, a, digest(a), a.size, "x".join(map(str, a.shape)))

    def measure_version(self) -> str:
        return "psnr all samples peak 255"

    def measure(self, sample: Sample, decoded: np.ndarray, nbytes: int) -> dict:
        if decoded.shape != sample.data.shape:
            raise ValueError(f"decoded shape {decoded.shape}, expected {sample.data.shape}")
        return {"bits_per_sample": nbytes * 8 / sample.size, "psnr": psnr(sample.data, decoded)}


def _join(files: list[bytes]) -> bytes:
    return b"".join(len(f).to_bytes(4, "little") + f for f in files)


def _split(data: bytes) -> list[bytes]:
    files, pos = [], 0
    while pos < len(data):
        n = int.from_bytes(data[pos:pos + 4], "little")
        files.append(data[pos + 4:pos + 4 + n])
        pos += 4 + n
    return files


class WaveCodecArray(WaveCodecMode):
    kind = "array"
    qualities = WAVECODEC_QUALITIES

    def __init__(self):
        super().__init__("linear")
        self.name, self.description = "wavecodec-array", "WaveCodec linear (KLT across bands)"

    def complexity(self):
        return None


class WaveCodecBand(WaveCodecArray):
    def __init__(self):
        super().__init__()
        self.name, self.description = "wavecodec-band", "WaveCodec linear, each band alone"

    def encode(self, signal, quality):
        bands = [np.ascontiguousarray(signal[:, :, c]) for c in range(signal.shape[2])]
        return _join([super(WaveCodecBand, self).encode(b, quality) for b in bands])

    def decode(self, data):
        return np.stack([super(WaveCodecBand, self).decode(f) for f in _split(data)], axis=-1)


class WaveCodecInrArray(WaveCodecINR):
    """The INR mode (effort fast) on the whole array: one network for all bands (up to 8)."""

    kind = "array"

    def __init__(self):
        super().__init__("fast")
        self.name, self.description = "wavecodec-inr-array", "WaveCodec INR mode, effort fast, all bands"

    def complexity(self):
        return None


class Jpeg2000Band(Adapter):
    """Raw J2K codestreams (no JP2 boxes), the least overhead JPEG 2000 can have, one per band."""

    kind = "array"

    def __init__(self, name, mode, qualities, description):
        self.name, self.mode, self.qualities, self.description = name, mode, qualities, description

    def available(self):
        return Jpeg2000().available()

    def version(self):
        return f"{Jpeg2000().version()} per band quality_mode={self.mode} no_jp2"

    def encode(self, signal, quality):
        from PIL import Image

        files = []
        for c in range(signal.shape[2]):
            buf = io.BytesIO()
            Image.fromarray(np.ascontiguousarray(signal[:, :, c])).save(
                buf, format="JPEG2000", irreversible=True, quality_mode=self.mode, quality_layers=[quality], no_jp2=True)
            files.append(buf.getvalue())
        return _join(files)

    def decode(self, data):
        from PIL import Image

        bands = []
        for f in _split(data):
            with Image.open(io.BytesIO(f)) as im:
                bands.append(np.asarray(im))
        return np.stack(bands, axis=-1)


class Zfp(Adapter):
    name, kind = "zfp", "array"
    description = "zfp fixed accuracy (zfpy), float32 HxWxC, scored on its float output"
    # zfp's absolute error tolerance; it cannot go below ~0.3 bits/sample on Landsat (fixed-rate
    # mode below 0.25 bits/value crashes zfpy 1.0.1), and is far behind at every rate it reaches.
    qualities = tuple(float(2.0 ** (k / 2)) for k in range(24, 11, -1))  # 4096 .. 64

    def available(self):
        try:
            import zfpy  # noqa: F401
        except ImportError:
            return "zfpy not installed (pip install zfpy)"
        return None

    def version(self):
        return f"zfpy {metadata.version('zfpy')} fixed accuracy float32"

    def encode(self, signal, quality):
        import zfpy

        return zfpy.compress_numpy(signal.astype(np.float32), tolerance=quality)

    def decode(self, data):
        import zfpy

        return zfpy.decompress_numpy(data)


ADAPTERS = (
    WaveCodecArray(),
    Jpeg2000Band("jpeg2000-band", "dB", (27, 28, 29, 30, 32, 34, 36, 38, 40, 42, 44, 46, 48, 50, 52, 54, 56),
                 "JPEG 2000 per band (OpenJPEG via Pillow, raw J2K), every band at the same PSNR (dB)"),
    Jpeg2000Band("jpeg2000-band-rates", "rates", (80, 64, 48, 40, 32, 24, 20, 16, 12, 10, 8, 6, 5, 4, 3, 2.5, 2),
                 "JPEG 2000 per band (OpenJPEG via Pillow, raw J2K), every band at the same compression ratio"),
    WaveCodecBand(),
    WaveCodecInrArray(),
    Zfp(),
)


def main(argv=None):
    """``wavecodec bench --kind array`` under its old name."""
    from .cli import bench

    args = sys.argv[1:] if argv is None else list(argv)
    bench.main(args, prog_name="python -m benchmarks.arrays", default_map={"kind": "array"})


if __name__ == "__main__":
    main()
