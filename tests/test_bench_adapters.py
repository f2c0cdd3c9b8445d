"""Codec adapters: each classical and array codec round-trips, and WaveCodec is skipped with a reason when absent."""

import os
import sys
import types

import numpy as np
import pytest

import benchmarks.wavecodec_codecs as wavecodec_codecs
from benchmarks import arrays
from benchmarks.cache import atomic_write
from benchmarks.pillow_codecs import ADAPTERS


@pytest.mark.parametrize("adapter", ADAPTERS + arrays.ADAPTERS, ids=lambda a: a.name)
def test_codec_round_trips_at_its_lowest_and_highest_quality(adapter):
    if adapter.available():
        pytest.skip(adapter.available())
    rng = np.random.default_rng(1)
    shape = (40, 56, 3) if adapter.kind == "image" else (24, 40, 5)  # arrays: 5 bands, so WaveCodec's KLT runs
    signal = np.clip(rng.normal(128, 40, shape), 0, 255).astype(np.uint8)
    sizes = []
    for quality in (adapter.qualities[0], adapter.qualities[-1]):
        data = adapter.encode(signal, quality)
        decoded = adapter.decode(data)
        assert decoded.shape == signal.shape
        assert decoded.dtype == np.uint8 or adapter.name == "zfp"  # zfp is scored on its float output
        sizes.append(len(data))
    assert sizes[0] < sizes[1], "the sweep must run from low to high rate"


def test_wavecodec_without_its_api_is_skipped_with_a_reason(monkeypatch):
    monkeypatch.setitem(sys.modules, "codec", types.ModuleType("codec"))  # a library with no API yet
    (adapter,) = wavecodec_codecs.adapters()
    assert adapter.name == "wavecodec"
    assert "missing codec.encode, codec.decode, codec.MODES" in adapter.available()


def test_wavecodec_mode_missing_from_the_library_is_skipped(monkeypatch):
    fake = types.ModuleType("codec")
    fake.encode, fake.decode, fake.MODES = None, None, ("linear",)
    monkeypatch.setitem(sys.modules, "codec", fake)
    assert [a.name for a in wavecodec_codecs.adapters()] == ["wavecodec-linear"]
    assert wavecodec_codecs.WaveCodecMode("learned").available() == "mode 'learned' not in codec.MODES ('linear',)"


def test_atomic_write_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "sub" / "result.json"
    atomic_write(target, "{}")
    atomic_write(target, "{\"a\": 1}")
    assert target.read_text() == "{\"a\": 1}"
    assert [p.name for p in target.parent.iterdir()] == ["result.json"]
    umask = os.umask(0o022)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask, "readable like any other file, not private"
