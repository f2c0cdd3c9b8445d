"""Bjøntegaard delta rate, and reading a curve's quality at a given rate.

A curve is a pair of sequences ``(rates, qualities)``, e.g. mean bpp and mean PSNR per quality
setting. Both functions interpolate with monotone piecewise-cubic (PCHIP) splines in log-rate,
the variant of the BD metric used by current codec comparisons (it does not overshoot the way the
original cubic polynomial fit does).
"""

import numpy as np
from scipy.interpolate import PchipInterpolator

__all__ = ["bd_rate", "clip_curve", "value_at"]


def _monotone(rates, qualities) -> tuple[np.ndarray, np.ndarray]:
    """Points sorted by rate, keeping only those that improve on every lower-rate point.

    BD-rate needs rate as a function of quality, which exists only where quality rises with
    rate; a point that costs more bits for no gain carries no information about that function.
    """
    order = np.argsort(np.asarray(rates, dtype=float))
    r = np.asarray(rates, dtype=float)[order]
    q = np.asarray(qualities, dtype=float)[order]
    if np.any(~np.isfinite(r)) or np.any(~np.isfinite(q)) or np.any(r <= 0):
        raise ValueError("rates must be positive and qualities finite")
    keep = q > np.maximum.accumulate(np.concatenate(([-np.inf], q[:-1])))
    return r[keep], q[keep]


def value_at(rates, qualities, rate: float) -> float | None:
    """The curve's quality at ``rate``, None outside the measured range (no extrapolation)."""
    r, q = _monotone(rates, qualities)
    if len(r) < 2 or not r[0] <= rate <= r[-1]:
        return None
    return float(PchipInterpolator(np.log(r), q)(np.log(rate)))


def clip_curve(rates, qualities, rate_range: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """The part of a curve inside ``rate_range``, with interpolated end points where it crosses."""
    r, q = _monotone(rates, qualities)
    lo, hi = rate_range
    inside = (r > lo) & (r < hi)
    ends = [x for x in (lo, hi) if len(r) >= 2 and r[0] <= x <= r[-1]]
    end_q = [value_at(r, q, x) for x in ends]
    r = np.concatenate((r[inside], ends))
    q = np.concatenate((q[inside], end_q))
    order = np.argsort(r)
    return r[order], q[order]


def bd_rate(anchor, test, bpp_range: tuple[float, float] | None = None) -> float | None:
    """Average rate difference of ``test`` against ``anchor`` at equal quality, in percent.

    Negative means ``test`` needs fewer bits. The log-rates are integrated over the quality
    interval both curves cover; with ``bpp_range`` both curves are first clipped to that rate
    interval (how targets such as "over 0.25-1.5 bpp" are stated). None when the curves do not
    overlap.
    """
    curves = [(anchor[0], anchor[1]), (test[0], test[1])]
    if bpp_range is not None:
        curves = [clip_curve(r, q, bpp_range) for r, q in curves]
    curves = [_monotone(r, q) for r, q in curves]
    if any(len(r) < 2 for r, _ in curves):
        return None
    lo = max(q[0] for _, q in curves)
    hi = min(q[-1] for _, q in curves)
    if hi <= lo:
        return None
    areas = [PchipInterpolator(q, np.log(r)).integrate(lo, hi) for r, q in curves]
    return float((np.exp((areas[1] - areas[0]) / (hi - lo)) - 1) * 100)
