"""The signal kinds and codecs the harness knows, by name, and the choice of which to run.

``KINDS`` maps a kind's name to how its signals are found, loaded and measured; ``REGISTRY`` maps a
codec's name to its adapter: for images WaveCodec's modes first, then the classical codecs; then
the audio and the N-band array codecs.
"""

from . import arrays, audio, pillow_codecs, wavecodec_codecs
from .adapter import Adapter
from .errors import BenchError
from .signals import ImageKind

__all__ = ["KINDS", "REGISTRY", "register", "select"]

KINDS = {kind.name: kind for kind in (ImageKind(), audio.AudioKind(), arrays.ArrayKind())}
REGISTRY: dict[str, Adapter] = {}


def register(adapter: Adapter) -> Adapter:
    """Add an adapter (a test's fake, a plugin's codec); its name must be new."""
    if adapter.name in REGISTRY:
        raise ValueError(f"codec {adapter.name!r} is already registered")
    REGISTRY[adapter.name] = adapter
    return adapter


for _adapter in (*wavecodec_codecs.adapters(), *pillow_codecs.ADAPTERS, *audio.ADAPTERS, *arrays.ADAPTERS):
    register(_adapter)


def select(names: list[str] | None, kind: str) -> tuple[list[Adapter], list[str]]:
    """The adapters to run and the skip messages for those that cannot run here.

    ``names`` None means every registered codec of ``kind`` except the opt-in ones (too slow to
    run unasked). An unknown name, or one of another kind, is an error: a typo must not silently
    shrink a benchmark.
    """
    if names is None:
        names = [name for name, adapter in REGISTRY.items() if adapter.kind == kind and not adapter.opt_in]
    unknown = [name for name in names if name not in REGISTRY]
    if unknown:
        raise BenchError(f"unknown codec {', '.join(unknown)} (known: {', '.join(REGISTRY)})", exit_code=2)
    wrong_kind = [name for name in names if REGISTRY[name].kind != kind]
    if wrong_kind:
        raise BenchError(f"codec {', '.join(wrong_kind)} does not code {kind} signals", exit_code=2)
    chosen, skipped = [], []
    for name in dict.fromkeys(names):
        reason = REGISTRY[name].available()
        if reason:
            skipped.append(f"skipping {name}: {reason}")
        else:
            chosen.append(REGISTRY[name])
    return chosen, skipped
