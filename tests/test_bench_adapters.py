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


@pytest.fixture
def recording_codec(monkeypatch, tmp_path):
    """A fake ``codec`` with an inr mode whose encode records its kwargs instead of fitting for minutes."""
    fake = types.ModuleType("codec")
    (tmp_path / "api.py").write_text("# stands in for the library's files, which version() hashes\n")
    fake.__file__ = str(tmp_path / "__init__.py")
    fake.MODES, fake.calls = ("linear", "learned", "inr"), []
    fake.encode = lambda image, **kwargs: fake.calls.append(kwargs) or b"fit"
    fake.decode = lambda data: None
    monkeypatch.setitem(sys.modules, "codec", fake)
    return fake


def test_inr_gets_one_opt_in_adapter_per_effort(recording_codec):
    by_name = {a.name: a for a in wavecodec_codecs.adapters()}
    assert list(by_name) == ["wavecodec-linear", "wavecodec-learned", "wavecodec-inr", "wavecodec-inr-medium",
                            "wavecodec-inr-slow"]
    assert not by_name["wavecodec-linear"].opt_in and not by_name["wavecodec-learned"].opt_in
    for name, effort in (("wavecodec-inr", "fast"), ("wavecodec-inr-medium", "medium"), ("wavecodec-inr-slow", "slow")):
        adapter = by_name[name]
        assert adapter.opt_in and adapter.available() is None
        assert adapter.qualities == (20, 40, 60, 80) and effort in adapter.description
        assert adapter.version().endswith(f"mode=inr effort={effort}")
        assert adapter.encode(np.zeros((8, 8, 3), np.uint8), 40) == b"fit"
        assert recording_codec.calls[-1] == {"quality": 40, "mode": "inr", "effort": effort}
    versions = {by_name[name].version() for name in ("wavecodec-inr", "wavecodec-inr-medium", "wavecodec-inr-slow")}
    assert len(versions) == 3  # distinct cache keys
    by_name["wavecodec-linear"].encode(np.zeros((8, 8, 3), np.uint8), 30)
    assert recording_codec.calls[-1] == {"quality": 30, "mode": "linear"}  # other modes as before
