"""Audio for ``wavecodec bench --kind audio``: the held-out clips, SNR and SI-SDR, and the codecs.

``python -m benchmarks.audio [OPTIONS]`` is the same as ``wavecodec bench --kind audio [OPTIONS]``.

Held-out clips (a fixed rule, applied to the file names sorted by name in each folder of ``--data``;
the files are read in place, never copied):

* ``music/``: the last file by name, cut into 30 s excerpts starting at 30 s, 90 s and 150 s
  (an excerpt that does not fit in the file is dropped);
* ``samples/``: the last 3 files by name among those at least 1.0 s long;
* ``speech/``: the last 3 files by name among those at least 1.0 s long.

THESE CLIPS ARE RESERVED FOR EVALUATION: a learned audio model (or any tuning of the audio mode)
must not train or be tuned on these files, or its numbers here stop meaning anything. (For
``music/`` the whole file is reserved, not only the excerpts.)

Codecs: ``wavecodec-audio`` and ``wavecodec-audio-learned`` (``codec.encode_audio`` in the linear and
learned modes, a quality sweep), ``opus`` and ``mp3``
(libsndfile through soundfile: Opus in Ogg, bitrate set through ``compression_level``, which
libsndfile maps linearly onto 6..256 kb/s per channel; MP3 by LAME at constant bitrate,
``bitrate_mode="CONSTANT"``, whose ``compression_level`` picks a rate from LAME's table), and
``flac`` (lossless: one rate point per clip, its size is the lossless reference). libsndfile's Opus
encoder takes 8/12/16/24/48 kHz input only: clips at other rates (44.1 kHz) are resampled to
48 kHz with ``scipy.signal.resample_poly`` before encoding (in Opus's encode time) and the decoded
signal is resampled back to the clip's rate before it is measured against the untouched original;
the resampling round trip is part of Opus's error. Rate = compressed file bytes * 8 / clip
duration (container headers included); all clips are mono, so this is also the rate per channel.
Metrics: SNR and SI-SDR (zero-mean, scale-invariant) in dB of the decoded signal against the
original, over the whole clip (an exact reconstruction scores ``LOSSLESS_PSNR``, 100 dB). Codec
delay: every decoded signal is aligned to the original by the lag that maximises their
cross-correlation within +-100 ms (libsndfile already removes Opus's pre-skip and MP3's encoder
delay, and WaveCodec has none, so the lags found should be 0; each row records its lag), then cut
or zero-padded to the original's length.
"""

import io
import sys
from dataclasses import dataclass
from math import gcd
from pathlib import Path

import numpy as np

from .adapter import Adapter
from .errors import BenchError
from .metrics import LOSSLESS_PSNR
from .signals import SHARED, FileKind, Metric, Sample, digest
from .wavecodec_codecs import WaveCodecMode

__all__ = ["Audio", "AudioKind", "ADAPTERS", "select_clips", "align", "snr_db", "si_sdr_db", "main"]

EXCERPT_S = 30
EXCERPT_STARTS_S = (30, 90, 150)
N_SHORT = 3
MIN_SHORT_S = 1.0
MAX_LAG_S = 0.1
OPUS_RATES = (48000, 24000, 16000, 12000, 8000)


@dataclass(frozen=True)
class Audio:
    """What audio adapters encode, and what a decoder returns when its rate is not the clip's."""

    samples: np.ndarray  # (N, C) as read: int16, int32 or float
    rate: int


# ---------------------------------------------------------------- clips


def select_clips(root: Path) -> list[Sample]:
    """The held-out clips, by the rule in the module docstring, as mono ``Audio`` samples."""
    from codec.io.audio import read_audio

    def clip(name, samples, rate):
        return Sample(name, Audio(samples, rate), digest(samples, str(rate)), len(samples) * 1000 / rate,
                      f"{len(samples) / rate:.1f} s, {rate} Hz")

    clips = []
    music = sorted((root / "music").glob("*.flac")) if (root / "music").is_dir() else []
    if music:
        path = music[-1]
        samples, rate, _ = read_audio(path.read_bytes(), path.name)
        for start in EXCERPT_STARTS_S:
            lo, hi = start * rate, (start + EXCERPT_S) * rate
            if hi <= len(samples):
                clips.append(clip(f"music/{path.stem}@{start}s", samples[lo:hi, :1].copy(), rate))
    for folder in ("samples", "speech"):
        files = sorted((root / folder).glob("*.flac")) if (root / folder).is_dir() else []
        chosen = []
        for path in reversed(files):
            samples, rate, _ = read_audio(path.read_bytes(), path.name)
            if len(samples) >= MIN_SHORT_S * rate:
                chosen.append(clip(f"{folder}/{path.stem}", samples[:, :1].copy(), rate))
            if len(chosen) == N_SHORT:
                break
        clips.extend(reversed(chosen))
    return clips


def _to_float(samples: np.ndarray) -> np.ndarray:
    """(N, C) int16/int32/float -> (N,) float64 in [-1, 1), first channel."""
    x = np.asarray(samples).reshape(len(samples), -1)[:, 0]
    if x.dtype == np.int16:
        return x.astype(np.float64) / 32768.0
    if x.dtype == np.int32:
        return x.astype(np.float64) / 2.0**31
    return x.astype(np.float64)


# ---------------------------------------------------------------- metrics


def align(original: np.ndarray, decoded: np.ndarray, rate: int) -> tuple[np.ndarray, int]:
    """``decoded`` shifted by the cross-correlation lag (within +-MAX_LAG_S) and cut to length.

    Returns (aligned, lag): aligned[n] = decoded[n + lag], zero outside the decoded signal.
    """
    from scipy.signal import correlate

    n = len(original)
    max_lag = int(MAX_LAG_S * rate)
    corr = correlate(decoded, original, mode="full", method="fft")  # index k <-> lag k - (n - 1)
    lags = np.arange(len(corr)) - (n - 1)
    window = np.abs(lags) <= max_lag
    lag = int(lags[window][np.argmax(corr[window])]) if np.any(corr[window] != 0) else 0
    out = np.zeros(n)
    lo, hi = max(0, -lag), min(n, len(decoded) - lag)
    if hi > lo:
        out[lo:hi] = decoded[lo + lag:hi + lag]
    return out, lag


def snr_db(x: np.ndarray, y: np.ndarray) -> float:
    noise = np.sum((y - x) ** 2)
    return float(10 * np.log10(np.sum(x**2) / noise)) if noise > 0 else float("inf")


def si_sdr_db(x: np.ndarray, y: np.ndarray) -> float:
    x = x - x.mean()
    y = y - y.mean()
    target = (np.dot(y, x) / np.dot(x, x)) * x
    noise = np.sum((y - target) ** 2)
    return float(10 * np.log10(np.sum(target**2) / noise)) if noise > 0 else float("inf")


class AudioKind(FileKind):
    """Held-out clips from a folder with music/, samples/ and speech/, in kb/s, SNR and SI-SDR."""

    name, noun = "audio", "clips"
    rate_key, rate_unit, rate_label = "kbps", "kb/s", "kb/s (mono: per channel)"
    metrics = (Metric("snr", "SNR", "SNR (dB)", "rd_snr.png"), Metric("si-sdr", "SI-SDR", "SI-SDR (dB)", "rd_si-sdr.png"))
    table_metrics = 2
    bd_range = (16, 128)  # kb/s: the range
    rates_at = (32, 64, 128)
    anchors = ("opus", "mp3")
    speed_key, speed_unit, speed_scale = "x_realtime", "x real time", 1000  # size is in milliseconds
    default = SHARED / "data" / "audio" / "train"
    method = ("Held-out clips, **reserved for evaluation: never train or tune on them** (the rule is in "
              "`benchmarks/audio.py`). Mono, so kb/s (file bytes, headers included) is per channel. Every decoded "
              "signal is aligned to the original by cross-correlation within +-100 ms; Opus codes 44.1 kHz clips "
              "resampled to 48 kHz and back, counted in its error. Opus optimises perceived quality, not SNR.")

    def default_data(self, say) -> Path:
        say(f"data: held-out clips of {self.default}")
        return self.default

    def samples(self, data: Path, say) -> list[Sample]:
        if not data.is_dir():
            raise BenchError(f"audio data folder {data} not found (pass --data)")
        clips = select_clips(data)
        if not clips:
            raise BenchError(f"no held-out clips in {data} (expected music/, samples/ or speech/ with .flac files)")
        return clips

    def measure_version(self) -> str:
        return f"snr; si-sdr; mono; aligned within {MAX_LAG_S} s; resample_poly to the clip rate"

    def measure(self, sample: Sample, decoded, nbytes: int) -> dict:
        """``decoded``: samples at the clip's rate, or an ``Audio`` at another rate (resampled back)."""
        clip = sample.data
        x = _to_float(clip.samples)
        if isinstance(decoded, Audio):
            y = _to_float(decoded.samples)
            if decoded.rate != clip.rate:
                from scipy.signal import resample_poly

                g = gcd(clip.rate, decoded.rate)
                y = resample_poly(y, clip.rate // g, decoded.rate // g)
        else:
            y = _to_float(decoded)
        y, lag = align(x, y, clip.rate)
        return {
            "kbps": nbytes * 8 / sample.size,
            "snr": min(snr_db(x, y), LOSSLESS_PSNR),
            "si-sdr": min(si_sdr_db(x, y), LOSSLESS_PSNR),
            "lag": lag,
        }


# ---------------------------------------------------------------- codecs


class WaveCodecAudio(WaveCodecMode):
    kind = "audio"
    qualities = (3, 6, 10, 15, 20, 25, 30, 40, 50, 60, 70)

    def __init__(self):
        super().__init__("linear")
        self.name, self.description = "wavecodec-audio", "WaveCodec linear audio (codec.encode_audio)"

    def available(self):
        reason = super().available()
        if reason is None:
            import codec

            if not hasattr(codec, "encode_audio"):
                return "codec.encode_audio is missing"
        return reason

    def encode(self, signal, quality):
        import codec

        return codec.encode_audio(signal.samples, signal.rate, quality=quality)

    def complexity(self):
        return None


class WaveCodecAudioLearned(WaveCodecAudio):
    """The learned audio mode: the linear stream, decoded through the trained network."""

    def __init__(self):
        super().__init__()
        self.mode = "learned"
        self.name, self.description = "wavecodec-audio-learned", "WaveCodec learned audio (codec.encode_audio, mode learned)"

    def encode(self, signal, quality):
        import codec

        return codec.encode_audio(signal.samples, signal.rate, quality=quality, mode="learned")


class Soundfile(Adapter):
    """A codec libsndfile writes, through soundfile."""

    kind = "audio"
    format, subtype, options = "", "", {}

    def available(self):
        try:
            import soundfile as sf
        except ImportError:
            return "soundfile not installed (pip install soundfile)"
        if self.subtype not in sf.available_subtypes(self.format):
            return f"this libsndfile cannot write {self.format}/{self.subtype}"
        return None

    def version(self):
        import soundfile as sf

        return f"soundfile {sf.__version__} {sf.__libsndfile_version__} {self.format}/{self.subtype} {self.options}"

    def _write(self, x: np.ndarray, rate: int, **options) -> bytes:
        import soundfile as sf

        buf = io.BytesIO()
        sf.write(buf, x, rate, format=self.format, subtype=self.subtype, **self.options, **options)
        return buf.getvalue()

    def decode(self, data):
        import soundfile as sf

        y, rate = sf.read(io.BytesIO(data), dtype="float64", always_2d=True)
        return Audio(y, rate)


class Opus(Soundfile):
    name, format, subtype = "opus", "OGG", "OPUS"
    description = "Opus in Ogg (libsndfile), compression_level = (256 - kb/s) / 250; 44.1 kHz via 48 kHz"
    qualities = (8, 12, 16, 24, 32, 48, 64, 96, 128, 160, 200)  # target kb/s

    def encode(self, signal, quality):
        from scipy.signal import resample_poly

        x, rate = _to_float(signal.samples), signal.rate
        if rate not in OPUS_RATES:
            g = gcd(48000, rate)
            x, rate = resample_poly(x, 48000 // g, rate // g), 48000
        level = float(np.clip((256.0 - quality) / 250.0, 0.0, 1.0))  # libsndfile: 256 - level * 250 kb/s
        return self._write(np.clip(x, -1, 1).astype(np.float32), rate, compression_level=level)


class Mp3(Soundfile):
    name, format, subtype = "mp3", "MP3", "MPEG_LAYER_III"
    description = "MP3 (LAME via libsndfile), constant bitrate, sweep = compression_level"
    options = {"bitrate_mode": "CONSTANT"}
    qualities = (0.99, 0.96, 0.93, 0.9, 0.87, 0.81, 0.75, 0.63, 0.51, 0.39, 0.12)

    def available(self):
        reason = super().available()
        if reason is None:
            try:
                self._write(np.zeros(4410, np.float32), 44100)
            except Exception as exc:  # noqa: BLE001 - any libsndfile failure means "not available"
                return f"MP3 writing fails ({exc})"
        return reason

    def encode(self, signal, quality):
        x = np.clip(_to_float(signal.samples), -1, 1).astype(np.float32)
        return self._write(x, signal.rate, compression_level=quality)


class Flac(Soundfile):
    """Lossless: one rate point per clip, the size lossy codecs are compared with."""

    name, format, subtype = "flac", "FLAC", "PCM_16"
    description = "FLAC (libsndfile's default level), lossless: 16-bit clips as PCM_16, others as PCM_24"
    qualities = ("lossless",)

    def encode(self, signal, quality):
        import soundfile as sf

        subtype = "PCM_16" if signal.samples.dtype == np.int16 else "PCM_24"
        buf = io.BytesIO()
        sf.write(buf, signal.samples, signal.rate, format="FLAC", subtype=subtype)
        return buf.getvalue()

    def decode(self, data):
        import soundfile as sf

        dtype = "int16" if sf.info(io.BytesIO(data)).subtype == "PCM_16" else "int32"
        y, rate = sf.read(io.BytesIO(data), dtype=dtype, always_2d=True)
        return Audio(y, rate)


ADAPTERS = (WaveCodecAudio(), WaveCodecAudioLearned(), Opus(), Mp3(), Flac())


def main(argv=None):
    """``wavecodec bench --kind audio`` under its old name."""
    from .cli import bench

    args = sys.argv[1:] if argv is None else list(argv)
    bench.main(args, prog_name="python -m benchmarks.audio", default_map={"kind": "audio"})


if __name__ == "__main__":
    main()
