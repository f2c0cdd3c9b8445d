"""A hard bound on every decoded value: the scientific-compression guarantee (SZ, ZFP).

After the lossy layers, the encoder decodes its own stream, takes the residual
``x - x_hat`` and codes it on a grid of spacing ``2 * bound``: ``k = round(r / (2 * bound))``.
The decoder adds ``k * 2 * bound`` back, so every value ends within ``bound`` of the
original. ``bound`` is the user's limit less a margin of ``MARGIN`` times the data range,
which absorbs float differences between the encoding and the decoding machine (matrix
products may round differently on other CPUs); each value is checked at encode time.
"""

import numpy as np

from codec.entropy import Decoder, Encoder
from codec.errors import FormatError, InputError

__all__ = ["effective_bound", "encode_residual", "apply_residual", "MARGIN"]

MARGIN = 2.0**-18
_TABLE_BITS = 7


def effective_bound(max_error: float, value_range: float) -> float:
    """The bound the residual grid is built for: max_error less the cross-machine margin."""
    bound = max_error - MARGIN * value_range
    if not bound > 0.5 * max_error:
        raise InputError(f"--max-error {max_error:g} is too small for data spanning {value_range:g}: "
                         f"use at least {2 * MARGIN * value_range:.3g}")
    return bound


def _corrected(x_hat: np.ndarray, k: np.ndarray, bound: float) -> np.ndarray:
    return (x_hat.astype(np.float64) + k * (2.0 * bound)).astype(np.float32)


def encode_residual(x: np.ndarray, x_hat: np.ndarray, bound: float, max_error: float, model) -> bytes:
    """The residual chunk that brings x_hat within bound of x (checked value by value)."""
    from codec.modes.linear import best_table

    k = np.rint((x.astype(np.float64) - x_hat) / (2.0 * bound))
    if np.abs(k).max(initial=0) >= 2**31 - 1:
        raise InputError(f"--max-error {max_error:g} is too small for this data")
    k = k.astype(np.int32)
    error = np.abs(_corrected(x_hat, k, bound).astype(np.float64) - x)
    if error.max(initial=0) > max_error:
        raise InputError(f"--max-error {max_error:g} is below the float32 resolution of this data")
    choice = best_table(k, model)
    enc = Encoder()
    enc.encode_uniform(np.array([choice]), _TABLE_BITS)
    if choice:
        enc.encode(k.ravel(), model.tables[choice - 1])
    return enc.finish()


def apply_residual(x_hat: np.ndarray, chunk: bytes, bound: float, model) -> np.ndarray:
    dec = Decoder(chunk)
    choice = int(dec.decode_uniform(1, _TABLE_BITS)[0])
    if choice > len(model.tables):
        raise FormatError("corrupt stream: residual table choice out of range")
    k = dec.decode(x_hat.size, model.tables[choice - 1]).reshape(x_hat.shape) if choice else 0
    dec.finish()
    return _corrected(x_hat, k, bound)
