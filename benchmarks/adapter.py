"""The interface every benchmarked codec implements, whatever library sits behind it.

The harness only ever talks to an ``Adapter``: it asks whether the codec can run here, sweeps its
quality settings, and measures what ``encode`` returns and what ``decode`` gives back. Adding a
codec (or a signal kind such as audio) means adding an adapter, not touching the runner.
"""

import numpy as np

__all__ = ["Adapter"]


class Adapter:
    """One codec configuration with a quality sweep.

    Subclasses set ``name`` (unique, used on the command line and in file names), ``kind`` (the
    signal kind it codes: "image" now, "audio"/"array" later), ``qualities`` (the sweep, in the
    codec's own quality units, ordered from lowest to highest rate) and ``description``.
    ``opt_in`` adapters (too slow for the default run, e.g. INR fitting minutes per image) are left
    out when no ``--codecs`` is given and run only when named.
    Adapters are plain picklable objects so a process pool can ship them to workers.
    """

    name: str = ""
    kind: str = "image"
    qualities: tuple = ()
    description: str = ""
    opt_in: bool = False  # True: too slow for the default run; runs only when named in --codecs

    def available(self) -> str | None:
        """None when the codec can run here, else a one-line reason to skip it."""
        return None

    def version(self) -> str:
        """Library versions and settings; part of the cache key so an upgrade re-measures."""
        return ""

    def encode(self, signal: np.ndarray, quality) -> bytes:
        """The complete encoded file (container header included) for one quality setting."""
        raise NotImplementedError

    def decode(self, data: bytes) -> np.ndarray:
        """The reconstruction, same shape and dtype as the signal that was encoded."""
        raise NotImplementedError

    def complexity(self) -> dict | None:
        """``{"macs_per_pixel": float, "parameters": int}`` for learned codecs, None otherwise."""
        return None
