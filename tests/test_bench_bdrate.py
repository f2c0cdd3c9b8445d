"""BD-rate and rate interpolation on synthetic curves whose answers are known exactly."""

import math

import numpy as np
import pytest

from benchmarks.bdrate import bd_rate, clip_curve, value_at

RATES = [0.1, 0.2, 0.4, 0.8, 1.6, 3.2]


def log_linear(rates, a=30.0, b=4.0):
    """PSNR linear in log-rate: PCHIP reproduces it exactly, so clipped BD-rates are exact too."""
    return [a + b * math.log(r) for r in rates]


def concave(rates):
    return [20 + 10 * r**0.3 for r in rates]


@pytest.mark.parametrize("curve", [log_linear, concave])
def test_rates_scaled_by_0_9_give_minus_ten_percent(curve):
    anchor = (RATES, curve(RATES))
    test = ([0.9 * r for r in RATES], curve(RATES))
    assert bd_rate(anchor, test) == pytest.approx(-10.0, abs=1e-9)


def test_doubled_rates_give_plus_hundred_percent_and_identical_curves_zero():
    anchor = (RATES, concave(RATES))
    assert bd_rate(anchor, ([2 * r for r in RATES], concave(RATES))) == pytest.approx(100.0, abs=1e-9)
    assert bd_rate(anchor, anchor) == pytest.approx(0.0, abs=1e-12)


def test_bpp_range_clips_both_curves_before_integrating():
    anchor = (RATES, log_linear(RATES))
    test = ([0.9 * r for r in RATES], log_linear(RATES))
    assert bd_rate(anchor, test, bpp_range=(0.25, 1.5)) == pytest.approx(-10.0, abs=1e-9)
    # Better than the anchor only at 3.2 bpp: invisible once clipped, visible without clipping.
    # (PCHIP is local: the curve below 0.8 bpp does not depend on the point at 3.2.)
    better_high = (RATES, [p + (3.0 if r > 2 else 0.0) for r, p in zip(RATES, log_linear(RATES))])
    assert bd_rate(anchor, better_high, bpp_range=(0.25, 0.7)) == pytest.approx(0.0, abs=1e-9)
    assert bd_rate(anchor, better_high) < -1.0


def test_curves_without_common_quality_have_no_bd_rate():
    low = (RATES, [20, 21, 22, 23, 24, 25])
    high = (RATES, [30, 31, 32, 33, 34, 35])
    assert bd_rate(low, high) is None
    assert bd_rate(low, (RATES, log_linear(RATES)), bpp_range=(10.0, 20.0)) is None


def test_value_at_interpolates_inside_and_refuses_to_extrapolate():
    psnr = concave(RATES)
    assert value_at(RATES, psnr, 0.4) == pytest.approx(psnr[2])
    assert psnr[2] < value_at(RATES, psnr, 0.5) < psnr[3]
    assert value_at(RATES, log_linear(RATES), 0.5) == pytest.approx(30 + 4 * math.log(0.5))
    assert value_at(RATES, psnr, 0.05) is None
    assert value_at(RATES, psnr, 4.0) is None


def test_clip_curve_adds_interpolated_end_points():
    r, q = clip_curve(RATES, log_linear(RATES), (0.25, 1.5))
    assert r[0] == 0.25 and r[-1] == 1.5
    assert np.all(np.diff(r) > 0)
    np.testing.assert_allclose(q, log_linear(r))


def test_points_that_cost_more_for_no_gain_are_ignored():
    psnr = concave(RATES)
    noisy = (RATES + [0.5], psnr + [psnr[2] - 0.1])  # more bits than 0.4 bpp, lower PSNR
    assert bd_rate((RATES, psnr), noisy) == pytest.approx(0.0, abs=1e-9)
