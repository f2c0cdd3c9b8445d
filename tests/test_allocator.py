"""codec.allocator: freed memory is kept, so repeated encodes stop page-faulting their temporaries."""

import ctypes
import os
import subprocess
import sys

import pytest

from codec.allocator import keep_freed_memory

_GLIBC = sys.platform.startswith("linux") and hasattr(ctypes.CDLL(None), "gnu_get_libc_version")

# Page faults of three encodes of the bundled sample after a first one (which faults its
# memory in whatever the setting).
_FAULTS = """
import os, resource, numpy as np, codec
from PIL import Image
folder = os.path.join(os.path.dirname(codec.__file__), "data", "samples")
image = np.asarray(Image.open(os.path.join(folder, sorted(os.listdir(folder))[0])).convert("RGB"))
codec.encode(image, quality=35)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(3):
    codec.encode(image, quality=35)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(**env) -> int:
    out = subprocess.run([sys.executable, "-c", _FAULTS], check=True, capture_output=True, text=True,
                         env={**os.environ, **env})
    return int(out.stdout)


@pytest.mark.skipif(not _GLIBC, reason="the setting is glibc's")
def test_repeated_encodes_reuse_memory_instead_of_faulting_it_in():
    kept, default = _faults(), _faults(WAVECODEC_KEEP_MALLOC="1")
    assert kept * 4 < default, (kept, default)


def test_opt_out_leaves_malloc_alone(monkeypatch):
    monkeypatch.setenv("WAVECODEC_KEEP_MALLOC", "1")
    assert keep_freed_memory() is False


@pytest.mark.skipif(not _GLIBC, reason="the setting is glibc's")
def test_setting_is_accepted_by_glibc(monkeypatch):
    monkeypatch.delenv("WAVECODEC_KEEP_MALLOC", raising=False)
    assert keep_freed_memory() is True
