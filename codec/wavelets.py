"""Full wavelet packet transform (WPT), 2-D and 1-D, in numpy and in torch.

Every level splits EVERY band again (not only the lowpass one), with periodized
boundaries (pywt mode "periodization"), so the transform is critically sampled
and exactly invertible. Sizes must be multiples of 2**levels: pad with
`pad_to_multiple`, keep the original size, and crop after the inverse.

Channel layout (numpy and torch give the same coefficients, to rounding):

* 2-D: (C, H, W) -> (C * 4**J, H / 2**J, W / 2**J); torch adds a leading batch
  axis N. Output channel c * 4**J + b holds packet band b of input channel c.
  At each level band b splits into its children 4*b + k, with k = 0, 1, 2, 3 the
  (approximation, horizontal, vertical, diagonal) details in pywt.dwt2's order
  (cA, (cH, cV, cD)): k = 0 lowpass in both axes, 1 highpass along H only,
  2 highpass along W only, 3 highpass in both. Band 0 is the all-lowpass band.
* 1-D: (C, L) -> (C * 2**J, L / 2**J) (torch: (N, C, L)); band b splits into
  2*b + k, k = 0 lowpass, k = 1 highpass.

The default wavelet is CDF 9/7 (pywt "bior4.4"); any pywt orthogonal or
biorthogonal discrete wavelet name is accepted. The numpy 2-D transform applies
pywt's filters with batched BLAS products (equal to pywt.dwt2 per band, several
times faster); the forward one does up to three levels along an axis in one
product with the composite packet filters, so it reads the image twice instead
of twice per level. It keeps float32 as float32, so images up to 8000x8000x3 fit
in a few GB. torch is imported lazily, so `import codec.wavelets` stays light.
"""

import functools
import math
import numbers
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pywt
from numpy.lib.stride_tricks import as_strided

__all__ = [
    "DEFAULT_WAVELET",
    "MAX_LEVELS_1D",
    "MAX_LEVELS_2D",
    "pad_to_multiple",
    "wpt2",
    "iwpt2",
    "wpt1",
    "iwpt1",
    "use_threads",
    "wpt2_torch",
    "iwpt2_torch",
    "wpt1_torch",
    "iwpt1_torch",
    "synthesis_gains",
]

DEFAULT_WAVELET = "bior4.4"
MAX_LEVELS_2D = 5
MAX_LEVELS_1D = 10
_MODE = "periodization"
# Outputs per filter block: small blocks keep the banded products dense (best values measured
# on a Kodak image; an analysis block is divided among the bands of its pass).
_ANALYSIS_BLOCK = 16
_SYNTHESIS_BLOCK = 4


def _wavelet(name):
    """Return the pywt wavelet, or a ValueError that says what is accepted."""
    if not isinstance(name, str):
        raise ValueError(f"wavelet must be a pywt wavelet name (str), got {name!r}")
    accepted = (
        "use an orthogonal or biorthogonal discrete wavelet from "
        "pywt.wavelist(kind='discrete'), e.g. 'bior4.4', 'db2', 'haar'"
    )
    try:
        w = pywt.Wavelet(name)
    except ValueError as err:
        raise ValueError(f"unsupported wavelet {name!r}: {accepted}") from err
    if w.name == "dmey":
        # pywt's discrete Meyer is a truncated approximation: its round trip is not exact.
        raise ValueError(f"unsupported wavelet 'dmey' (not perfectly reconstructing): {accepted}")
    return w


def _check_levels(levels, max_levels):
    """Reject non-integers (bool included) and levels outside 1..max_levels."""
    if isinstance(levels, bool) or not isinstance(levels, numbers.Integral):
        raise ValueError(f"levels must be an integer from 1 to {max_levels}, got {levels!r}")
    if not 1 <= levels <= max_levels:
        raise ValueError(f"levels must be from 1 to {max_levels}, got {levels}")


def _check(shape, names, levels, max_levels, spatial, inverse):
    """Validate `levels` and the shape of a transform input (names like ("C", "H", "W"))."""
    _check_levels(levels, max_levels)
    shape = tuple(shape)
    if len(shape) != len(names):
        layout = "(" + ", ".join(names) + ")"
        raise ValueError(f"expected an array of shape {layout}, got shape {shape}")
    if 0 in shape:
        raise ValueError(f"cannot transform an empty array of shape {shape}")
    if inverse:
        bands = 2 ** (spatial * levels)
        if shape[-spatial - 1] % bands:
            raise ValueError(
                f"coefficient channel count {shape[-spatial - 1]} is not a multiple of "
                f"the {bands} packet bands of {levels} levels"
            )
    elif any(size % 2**levels for size in shape[-spatial:]):
        raise ValueError(
            f"size {shape[-spatial:]} is not a multiple of 2**levels = {2**levels}: "
            "pad with pad_to_multiple and crop after the inverse"
        )


def pad_to_multiple(x, multiple, ndim=2):
    """Pad the last `ndim` axes at the end (bottom/right) up to a multiple of `multiple`.

    Symmetric reflection keeps the padded edge smooth, so it costs few bits; it
    repeats as needed when the pad is larger than the size. Returns x itself when
    no padding is needed (no copy of a large image).
    """
    x = np.asarray(x)
    if ndim not in (1, 2) or x.ndim < ndim:
        raise ValueError(f"ndim must be 1 or 2 and at most x.ndim = {x.ndim}, got {ndim}")
    if isinstance(multiple, bool) or not isinstance(multiple, numbers.Integral) or multiple < 1:
        raise ValueError(f"multiple must be a positive integer, got {multiple!r}")
    if 0 in x.shape[-ndim:]:
        raise ValueError(f"cannot pad an empty axis: shape {x.shape}")
    pads = [(0, 0)] * (x.ndim - ndim) + [(0, -size % multiple) for size in x.shape[-ndim:]]
    if not any(after for _, after in pads):
        return x
    return np.pad(x, pads, mode="symmetric")


def _as_float(x):
    """float32 and float64 are kept (no full-size float64 copy of float32 images)."""
    x = np.asarray(x)
    return x if x.dtype in (np.float32, np.float64) else x.astype(np.float64)


@functools.lru_cache(maxsize=None)
def _synthesis_filters(name, q, dtype):
    """Banded matrix (2q, 2E) that maps a window of E (lowpass, highpass) coefficient pairs,
    interleaved, to 2q samples (x[m] = sum_o c[o] g[m - 2o + shift] mod n, pywt's
    periodization phase), and the window's left pad."""
    w = _wavelet(name)
    taps = w.dec_len
    shift = taps - 1 - taps // 2
    synthesis_pad = (taps - 1 - shift) // 2
    pairs = (2 * q - 1 + shift) // 2 + synthesis_pad + 1
    synthesis = np.zeros((2 * q, 2 * pairs), dtype)
    for i in range(2 * q):
        for j in range(pairs):
            f = i - 2 * j + 2 * synthesis_pad + shift
            if 0 <= f < taps:
                synthesis[i, 2 * j] = w.rec_lo[f]
                synthesis[i, 2 * j + 1] = w.rec_hi[f]
    return synthesis, synthesis_pad


@functools.lru_cache(maxsize=None)
def _packet_filters(name, levels, q, dtype):
    """Banded matrix (S, q, K) of a `levels`-level 1-D packet analysis (S = 2**levels bands):
    one product gives q outputs of every band from a window of K samples. Returns it and the
    window's left pad.

    Built by running `wpt1` (pywt, float64) on impulses, so it is that transform's composite
    filters exactly (to float rounding): one pass over memory instead of `levels` passes.
    """
    bands = 1 << levels
    support = (_wavelet(name).dec_len - 1) * (bands - 1) + 1
    middle = -(-support // bands) + 1                  # outputs from here on reach no wrapped input
    per_band = middle + q + middle
    responses = wpt1(np.eye(bands * per_band), levels, name).reshape(bands * per_band, bands, per_band)
    rows = responses[:, :, middle:middle + q].transpose(1, 2, 0)    # (band, output, input sample)
    used = np.flatnonzero(np.abs(rows).sum((0, 1)))
    lo, hi = used[0], used[-1] + 1
    return np.ascontiguousarray(rows[:, :, lo:hi], dtype), middle * bands - lo


_THREADS = min(4, os.cpu_count() or 1)
_POOL = None


def use_threads(n: int) -> None:
    """Threads for the transform's matrix products (1: none). A forked child starts with its
    own pool: the parent's threads do not exist there, and waiting on them would hang."""
    global _THREADS, _POOL
    _THREADS = max(1, n)
    _POOL = ThreadPoolExecutor(_THREADS) if _THREADS > 1 else None


use_threads(_THREADS)
os.register_at_fork(after_in_child=lambda: use_threads(_THREADS))


def _batched_matmul(a, b, axis=0):
    """np.matmul(a, b) split along a batch axis of b (one a broadcasts over) across cores
    (matmul releases the GIL)."""
    if _POOL is None or b.shape[axis] < _THREADS or b.size < 1 << 16:
        return np.matmul(a, b)
    out = np.empty(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1]), np.result_type(a, b))
    bounds = np.linspace(0, b.shape[axis], _THREADS + 1).astype(int)
    lead = (slice(None),) * axis
    jobs = [_POOL.submit(np.matmul, a, b[lead + (slice(lo, hi),)], out=out[lead + (slice(lo, hi),)])
            for lo, hi in zip(bounds[:-1], bounds[1:])]
    for job in jobs:
        job.result()
    return out


def _wrapped(y, axis, before, total):
    """``y.take((np.arange(total) - before) % n, axis)`` as a C-contiguous array (the strided
    windows below rely on that layout), copied slice by slice: several times faster than
    that gather, above all from the transposed views the transforms filter."""
    n = y.shape[axis]
    out = np.empty(y.shape[:axis] + (total,) + y.shape[axis + 1:], y.dtype)
    lead = (slice(None),) * axis
    start, have = -before % n, 0
    while have < total:
        size = min(n - start, total - have)
        out[lead + (slice(have, have + size),)] = y[lead + (slice(start, start + size),)]
        have, start = have + size, 0
    return out


def _analysis(y, wavelet, levels):
    """Split axis 1 of y (m, n, cols) into 2**levels packet bands: -> (m * 2**levels,
    n / 2**levels, cols), band b of row i at i * 2**levels + b (`wpt1`'s order).

    A strided view of overlapping windows feeds batched BLAS products, which is several
    times faster than pywt along a non-contiguous axis.
    """
    m, n, cols = y.shape
    bands = 1 << levels
    q = math.gcd(n // bands, max(1, _ANALYSIS_BLOCK // bands))
    matrix, before = _packet_filters(wavelet, levels, q, y.dtype)
    k = matrix.shape[-1]
    pad = _wrapped(y, 1, before, n - bands * q + k)
    s0, s1, s2 = pad.strides
    windows = as_strided(pad, (m, 1, n // (bands * q), k, cols), (s0, 0, bands * q * s1, s1, s2))
    # Split the work over the rows, or over the windows when there are few rows (an RGB image).
    split = 0 if m >= 2 * _THREADS else 2
    return _batched_matmul(matrix[:, None], windows, split).reshape(m * bands, n // bands, cols)


def _synthesis(c, wavelet, inner=1):
    """Merge pairs of rows of c (2m, n, cols) along axis 1: -> (m, 2n, cols). The pair of row i
    is rows (i // inner) * 2 * inner + k * inner + i % inner, k = 0 lowpass, 1 highpass
    (inner=1: rows 2i and 2i + 1; inner=2 takes the pair's bit above the last one)."""
    big, n, cols = c.shape
    m = big // 2
    q = math.gcd(n, _SYNTHESIS_BLOCK)
    synthesis, before = _synthesis_filters(wavelet, q, c.dtype)
    pairs = synthesis.shape[-1] // 2
    # Interleave each lowpass/highpass pair so a window is one strided block.
    pairs_view = c.reshape(m // inner, 2, inner, n, cols).transpose(0, 2, 3, 1, 4)
    pad = _wrapped(pairs_view, 2, before, n - q + pairs)
    s0, s1, s2, s3, s4 = pad.strides
    windows = as_strided(pad, (m // inner, inner, n // q, 2 * pairs, cols), (s0, s1, q * s2, s3, s4))
    return _batched_matmul(synthesis, windows).reshape(m, 2 * n, cols)


def wpt2(x, levels, wavelet=DEFAULT_WAVELET):
    """Forward 2-D packet transform: (C, H, W) -> (C * 4**levels, H / 2**levels, W / 2**levels).

    Every level along H, then every level along W (on the transposed view), in passes of up
    to three levels (longer composite filters would cost more multiply-adds than the passes
    they save); one last copy puts the bands (c, H band, W band) in the module's order and
    the planes back upright.
    """
    y = _as_float(x)
    _check(y.shape, ("C", "H", "W"), levels, MAX_LEVELS_2D, 2, inverse=False)
    _wavelet(wavelet)
    passes = -(-levels // 3)
    chunks = [levels // passes + (i < levels % passes) for i in range(passes)]
    for axis in range(2):
        for chunk in chunks:
            y = _analysis(y, wavelet, chunk)
        if axis == 0:
            y = y.swapaxes(1, 2)
    c, w, h = y.shape[0] >> 2 * levels, y.shape[1], y.shape[2]
    bands = y.reshape(c, 4**levels, w, h).swapaxes(2, 3)[:, _band_order(levels)]
    # Callers transform the result in place through reshaped views, so it must be contiguous
    # (numpy may lay out a gathered copy of a transposed view otherwise).
    return np.ascontiguousarray(bands).reshape(c * 4**levels, h, w)


@functools.lru_cache(maxsize=None)
def _band_order(levels):
    """For each band b of the module's order, its index H band * 2**levels + W band: b's
    child bits, coarsest level first, are 2 * (W highpass) + (H highpass) per level."""
    order = np.zeros(4**levels, np.int64)
    for b in range(4**levels):
        h_band = w_band = 0
        for level in range(levels):
            child = (b >> 2 * (levels - 1 - level)) & 3
            h_band, w_band = 2 * h_band + (child & 1), 2 * w_band + (child >> 1)
        order[b] = (h_band << levels) + w_band
    return order


def iwpt2(coeffs, levels, wavelet=DEFAULT_WAVELET):
    """Inverse of `wpt2`: (C * 4**levels, h, w) -> (C, h * 2**levels, w * 2**levels)."""
    y = _as_float(coeffs)
    _check(y.shape, ("C*4**levels", "h", "w"), levels, MAX_LEVELS_2D, 2, inverse=True)
    _wavelet(wavelet)
    if levels % 2:
        y = y.swapaxes(1, 2)
    for level in reversed(range(levels)):
        h_first = level % 2 == 0
        y = _synthesis(y, wavelet, inner=2 if h_first else 1)
        y = _synthesis(y.swapaxes(1, 2), wavelet)
    return y


def wpt1(x, levels, wavelet=DEFAULT_WAVELET):
    """Forward 1-D packet transform: (C, L) -> (C * 2**levels, L / 2**levels)."""
    x = _as_float(x)
    _check(x.shape, ("C", "L"), levels, MAX_LEVELS_1D, 1, inverse=False)
    w = _wavelet(wavelet)
    y = x
    for _ in range(levels):
        lo, hi = pywt.dwt(y, w, mode=_MODE, axis=-1)
        y = np.stack([lo, hi], axis=1).reshape(-1, lo.shape[-1])
    return y


def iwpt1(coeffs, levels, wavelet=DEFAULT_WAVELET):
    """Inverse of `wpt1`: (C * 2**levels, l) -> (C, l * 2**levels)."""
    y = _as_float(coeffs)
    _check(y.shape, ("C*2**levels", "l"), levels, MAX_LEVELS_1D, 1, inverse=True)
    w = _wavelet(wavelet)
    for _ in range(levels):
        g = y.reshape(-1, 2, y.shape[-1])
        y = pywt.idwt(g[:, 0], g[:, 1], w, mode=_MODE, axis=-1)
    return y


@functools.lru_cache(maxsize=None)
def _torch_filters(name, dtype, device):
    """(analysis, synthesis) lowpass/highpass filter pairs as (2, taps) tensors.

    Analysis filters are flipped because torch convolutions are cross-correlations.
    """
    import torch

    w = _wavelet(name)
    analysis = torch.tensor([w.dec_lo[::-1], w.dec_hi[::-1]], dtype=dtype, device=device)
    synthesis = torch.tensor([w.rec_lo, w.rec_hi], dtype=dtype, device=device)
    return analysis, synthesis


def _along(filters, x, dim):
    """The kernel and stride that apply (2, taps) filters along one dim of x."""
    shape, stride = [1] * (x.dim() - 2), [1] * (x.dim() - 2)
    shape[dim - 2], stride[dim - 2] = filters.shape[-1], 2
    return filters.view(2, 1, *shape), tuple(stride)


def _wrap(x, dim, before, after):
    """Circular padding along dim; the pads may exceed the size (small bands, long filters)."""
    import torch

    size = x.shape[dim]
    pieces = [x.narrow(dim, size - before % size, before % size)]
    pieces += [x] * (before // size + 1 + after // size)
    pieces.append(x.narrow(dim, 0, after % size))
    return torch.cat(pieces, dim)


def _torch_analysis(x, filters, dim):
    """Lowpass/highpass split of (M, 1, ...) along dim -> (M, 2, ...), that dim halved.

    The padding reproduces pywt's periodization phase: out[o] = sum_k h[k] x[2o + taps//2 - k].
    """
    import torch.nn.functional as F

    taps = filters.shape[-1]
    before = taps - 1 - taps // 2
    kernel, stride = _along(filters, x, dim)
    conv = F.conv2d if x.dim() == 4 else F.conv1d
    return conv(_wrap(x, dim, before, taps - 1 - before), kernel, stride=stride)


def _torch_synthesis(y, filters, dim):
    """Inverse of `_torch_analysis`: (M, 2, ...) -> (M, 1, ...), that dim doubled."""
    import torch.nn.functional as F

    taps, size = filters.shape[-1], y.shape[dim]
    shift = taps - 1 - taps // 2  # x[m] = sum_o c[o] g[m - 2o + shift], periodized
    before, after = -(-(taps // 2) // 2), -(-shift // 2)
    kernel, stride = _along(filters, y, dim)
    conv = F.conv_transpose2d if y.dim() == 4 else F.conv_transpose1d
    x = conv(_wrap(y, dim, before, after), kernel, stride=stride)
    return x.narrow(dim, shift + 2 * before, 2 * size)


def _check_tensor(x):
    """torch convolutions need floating point input."""
    if not x.is_floating_point():
        raise ValueError(f"expected a floating point tensor, got dtype {x.dtype}")


def wpt2_torch(x, levels, wavelet=DEFAULT_WAVELET):
    """Forward 2-D packet transform in torch: (N, C, H, W) -> (N, C * 4**levels, H / 2**levels, W / 2**levels).

    Differentiable; dtype and device follow x; coefficients equal `wpt2`'s.
    """
    _check(x.shape, ("N", "C", "H", "W"), levels, MAX_LEVELS_2D, 2, inverse=False)
    _check_tensor(x)
    analysis, _ = _torch_filters(wavelet, x.dtype, x.device)
    n, c, h, w = x.shape
    y = x.reshape(n * c, 1, h, w)
    for _ in range(levels):
        y = _torch_analysis(y, analysis, 3)  # (M, 2, h, w/2): W lowpass/highpass
        w //= 2
        y = _torch_analysis(y.reshape(-1, 1, h, w), analysis, 2)  # then H
        h //= 2
        y = y.reshape(-1, 1, h, w)  # child 4b + 2 * (W highpass) + (H highpass)
    return y.reshape(n, c * 4**levels, h, w)


def iwpt2_torch(coeffs, levels, wavelet=DEFAULT_WAVELET):
    """Inverse of `wpt2_torch`: (N, C * 4**levels, h, w) -> (N, C, h * 2**levels, w * 2**levels)."""
    _check(coeffs.shape, ("N", "C*4**levels", "h", "w"), levels, MAX_LEVELS_2D, 2, inverse=True)
    _check_tensor(coeffs)
    _, synthesis = _torch_filters(wavelet, coeffs.dtype, coeffs.device)
    n, bands, h, w = coeffs.shape
    y = coeffs
    for _ in range(levels):
        y = _torch_synthesis(y.reshape(-1, 2, h, w), synthesis, 2)  # H pairs
        h *= 2
        y = _torch_synthesis(y.reshape(-1, 2, h, w), synthesis, 3)  # then W pairs
        w *= 2
    return y.reshape(n, bands // 4**levels, h, w)


def wpt1_torch(x, levels, wavelet=DEFAULT_WAVELET):
    """Forward 1-D packet transform in torch: (N, C, L) -> (N, C * 2**levels, L / 2**levels)."""
    _check(x.shape, ("N", "C", "L"), levels, MAX_LEVELS_1D, 1, inverse=False)
    _check_tensor(x)
    analysis, _ = _torch_filters(wavelet, x.dtype, x.device)
    n, c, length = x.shape
    y = x.reshape(n * c, 1, length)
    for _ in range(levels):
        length //= 2
        y = _torch_analysis(y, analysis, 2).reshape(-1, 1, length)
    return y.reshape(n, c * 2**levels, length)


def iwpt1_torch(coeffs, levels, wavelet=DEFAULT_WAVELET):
    """Inverse of `wpt1_torch`: (N, C * 2**levels, l) -> (N, C, l * 2**levels)."""
    _check(coeffs.shape, ("N", "C*2**levels", "l"), levels, MAX_LEVELS_1D, 1, inverse=True)
    _check_tensor(coeffs)
    _, synthesis = _torch_filters(wavelet, coeffs.dtype, coeffs.device)
    n, bands, length = coeffs.shape
    y = coeffs
    for _ in range(levels):
        y = _torch_synthesis(y.reshape(-1, 2, length), synthesis, 2)
        length *= 2
    return y.reshape(n, bands // 2**levels, length)


@functools.lru_cache(maxsize=None)
def _gains1(levels, wavelet):
    """L2 norms of the 1-D packet synthesis functions, by inverting unit impulses.

    Each band gets `taps` coefficients, so the period taps * 2**levels exceeds the
    basis function's support (taps - 1) * (2**levels - 1) + 1 and nothing wraps.
    Bands are done in chunks to bound memory at 10 levels.
    """
    bands = 2**levels
    taps = _wavelet(wavelet).rec_len
    gains = np.empty(bands)
    chunk = max(1, 2**20 // (bands * taps))
    for start in range(0, bands, chunk):
        band = np.arange(start, min(start + chunk, bands))
        coeffs = np.zeros((band.size * bands, taps))
        coeffs[np.arange(band.size) * bands + band, taps // 2] = 1.0
        gains[band] = np.linalg.norm(iwpt1(coeffs, levels, wavelet), axis=1)
    return gains


@functools.lru_cache(maxsize=None)
def _synthesis_gains(levels, wavelet, ndim):
    g = _gains1(levels, wavelet)
    if ndim == 2:
        # The 2-D packet basis is the tensor product of the 1-D ones: split each
        # base-4 digit k = 2 * (W highpass) + (H highpass) into the two 1-D bands.
        b = np.arange(4**levels)
        band_h = np.zeros_like(b)
        band_w = np.zeros_like(b)
        for level in range(levels):
            k = (b >> 2 * (levels - 1 - level)) & 3
            band_h = 2 * band_h + (k & 1)
            band_w = 2 * band_w + (k >> 1)
        g = g[band_h] * g[band_w]
    g = g.copy()
    g.flags.writeable = False  # shared by the cache
    return g


def synthesis_gains(levels, wavelet=DEFAULT_WAVELET, ndim=2):
    """L2 norm of the synthesis basis function of each packet band, shape (2**(ndim * levels),).

    A quantization error e on a coefficient of band b costs gains[b] * e in the
    signal, so these weight per-band distortion; all are 1 for orthogonal wavelets.
    """
    if ndim not in (1, 2):
        raise ValueError(f"ndim must be 1 or 2, got {ndim!r}")
    _check_levels(levels, MAX_LEVELS_2D if ndim == 2 else MAX_LEVELS_1D)
    _wavelet(wavelet)
    return _synthesis_gains(int(levels), wavelet, ndim)
