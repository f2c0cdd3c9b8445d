"""WaveCodec's own modes as benchmark adapters, one per name in ``codec.MODES`` (one per effort for ``inr``).

The ``inr`` mode fits a network to each image (about 1-2 minutes per Kodak image at effort "fast",
3-7 at "medium", 5-15 at "slow"), so it gets one opt-in adapter per effort: ``wavecodec-inr``
(fast), ``wavecodec-inr-medium`` and ``wavecodec-inr-slow``; they run only when named in
``--codecs`` (the slow one is meant for a subset, ``--limit``).

The library is imported lazily and checked for its public API (``encode``, ``decode``,
``MODES``) so the harness still runs, and says why WaveCodec was skipped, while that API is
missing or broken.
"""

import hashlib
from pathlib import Path

from .adapter import Adapter

__all__ = ["adapters"]

API = ("encode", "decode", "MODES")


def _codec():
    """The ``codec`` package, or a one-line reason it cannot be benchmarked."""
    try:
        import codec
    except Exception as exc:  # a half-written library can fail in any way on import
        return None, f"cannot import codec ({type(exc).__name__}: {exc})"
    missing = [f"codec.{name}" for name in API if not hasattr(codec, name)]
    if missing:
        return None, f"the WaveCodec API is not there yet (missing {', '.join(missing)})"
    return codec, None


class WaveCodecMode(Adapter):
    """Its quality runs 1..100; with the linear mode's mapping 15..60 spans about 0.1-2 bpp on Kodak."""

    kind = "image"
    qualities = (15, 20, 25, 30, 35, 40, 45, 50, 55, 60)

    def __init__(self, mode: str | None):
        self.mode = mode
        self.name = f"wavecodec-{mode}" if mode else "wavecodec"
        self.description = f"WaveCodec, {mode} mode" if mode else "WaveCodec"

    def available(self):
        codec, reason = _codec()
        if reason:
            return reason
        if self.mode not in codec.MODES:
            return f"mode {self.mode!r} not in codec.MODES {tuple(codec.MODES)}"
        return None

    def version(self):
        """The hash of the library's files: its version number does not move while it is written."""
        import codec

        root = Path(codec.__file__).parent
        digest = hashlib.sha256()
        for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(path.read_bytes())
        return f"wavecodec {getattr(codec, '__version__', '?')} files {digest.hexdigest()[:16]} mode={self.mode}"

    def encode(self, signal, quality):
        import codec

        return codec.encode(signal, quality=quality, mode=self.mode)

    def decode(self, data):
        import codec

        return codec.decode(data)

    def complexity(self):
        """From ``codec.complexity(mode)`` when the library offers it."""
        codec, reason = _codec()
        report = getattr(codec, "complexity", None)
        return None if reason or report is None else dict(report(self.mode))


class WaveCodecINR(WaveCodecMode):
    """The inr mode at one effort: effort changes the fit (and its minutes), so it is its own codec."""

    qualities = (20, 40, 60, 80)
    opt_in = True

    def __init__(self, effort: str):
        super().__init__("inr")
        self.effort = effort
        self.name = "wavecodec-inr" if effort == "fast" else f"wavecodec-inr-{effort}"
        self.description = f"WaveCodec, inr mode, effort {effort}"

    def version(self):
        return f"{super().version()} effort={self.effort}"

    def encode(self, signal, quality):
        import codec

        return codec.encode(signal, quality=quality, mode=self.mode, effort=self.effort)


INR_EFFORTS = ("fast", "medium", "slow")


def adapters() -> list[Adapter]:
    """One adapter per mode (one per effort for inr); a single unavailable "wavecodec" while the API is missing."""
    codec, reason = _codec()
    if reason:
        return [WaveCodecMode(None)]
    chosen = []
    for mode in codec.MODES:
        chosen += [WaveCodecINR(effort) for effort in INR_EFFORTS] if mode == "inr" else [WaveCodecMode(mode)]
    return chosen
