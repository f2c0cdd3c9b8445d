"""--max-error: every decoded value within the bound, whatever the data; clear refusals."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import codec


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    height=st.integers(1, 40),
    width=st.integers(1, 40),
    channels=st.sampled_from([0, 1, 3, 6]),
    scale=st.sampled_from([1e-3, 1.0, 1e4]),
    relative_bound=st.sampled_from([1e-2, 0.1, 0.5]),
    quality=st.integers(1, 100),
    seed=st.integers(0, 2**16),
)
def test_max_error_is_never_violated(height, width, channels, scale, relative_bound, quality, seed):
    rng = np.random.default_rng(seed)
    shape = (height, width) if channels == 0 else (height, width, channels)
    a = (np.cumsum(rng.normal(0, 1, shape), axis=0) * scale).astype(np.float32)
    span = float(a.max() - a.min()) or scale
    bound = relative_bound * span
    out = codec.decode(codec.encode(a, quality=quality, max_error=bound))
    assert out.shape == a.shape and out.dtype == np.float32
    assert np.abs(out.astype(np.float64) - a).max() <= bound


def test_a_tighter_bound_costs_more_bytes():
    a = np.cumsum(np.random.default_rng(0).normal(0, 1, (64, 64)), axis=1).astype(np.float32)
    sizes = [len(codec.encode(a, quality=30, max_error=e)) for e in (1.0, 0.1, 0.01)]
    assert sizes == sorted(sizes)


@pytest.mark.parametrize("kwargs, message", [
    ({"max_error": 1e-12}, "too small"),
    ({"max_error": -1.0}, "positive"),
    ({"max_error": float("nan")}, "positive"),
    ({"max_error": 0.1, "bpp": 1.0}, "cannot be combined"),
])
def test_bad_bounds_are_refused(kwargs, message):
    a = np.linspace(0, 100, 400, dtype=np.float32).reshape(20, 20)
    with pytest.raises(codec.InputError, match=message):
        codec.encode(a, **kwargs)


def test_max_error_needs_float32_data(sample_rgb):
    with pytest.raises(codec.InputError, match="float32"):
        codec.encode(sample_rgb, max_error=1.0)
