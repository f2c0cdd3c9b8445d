"""Keep freed memory in the process, so the codec's large temporary arrays are not
page-faulted in anew on every call.

Why: glibc's malloc serves blocks of a few MB with fresh ``mmap`` pages and hands them back
to the kernel on ``free``, so every encode of a Kodak-size image page-faults its temporaries
(transform stages, context planes) in again: about 2 200 faults, against about 110 with this
setting (tests/test_allocator.py checks the drop; README Results gives the timings). Raising
the mmap threshold to 32 MiB and the trim threshold to 256 MiB lets later calls reuse that
memory. The price: a process keeps up to 256 MiB of freed heap instead of returning it, and
arrays under 32 MiB come from the heap.

Applied once, when ``codec`` is imported, on glibc only (elsewhere nothing happens). Set
``WAVECODEC_KEEP_MALLOC=1`` to leave the process's malloc settings alone.
"""

import ctypes
import os

__all__ = ["keep_freed_memory"]

_M_TRIM_THRESHOLD = -1     # glibc's mallopt parameter numbers (malloc.h)
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # glibc's largest allowed value on 64-bit systems
TRIM_THRESHOLD = 256 << 20


def keep_freed_memory() -> bool:
    """Set glibc's thresholds; True if they were set."""
    if os.environ.get("WAVECODEC_KEEP_MALLOC") == "1":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (macOS, Windows)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
