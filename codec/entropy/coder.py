"""Range coding of integer arrays with integer frequency tables (constriction 0.5.0).

Why a range coder: constriction's ``queue.RangeEncoder`` is first-in first-out, so the
codec can encode batches one after another and decode them in the same order, choosing
each batch's table from what it already decoded. ANS (a stack) would need the whole
message buffered and encoded in reverse, for no gain in rate here.

How integer tables reach constriction exactly. ``Categorical(p, perfect=False,
lazy=False)`` builds its 24-bit CDF with ``from_floating_point_probabilities_fast``:
``cdf[i] = floor(C[i] * (2**24 - n) / S) + i``, where ``C[i]`` is the float sum of
``p[:i]`` and ``S`` that of all of ``p``. We pass ``p[i] = freq[i] * 2**(24 - precision)
- 1``: integers below 2**24, so every sum is exact in float64, ``S == 2**24 - n``, the
scale factor is exactly 1.0, and ``cdf[i] = sum(freq[:i]) * 2**(24 - precision)``. The
model constriction codes with is thus exactly our table (rescaled by a power of two),
reached through exact float64 arithmetic only; ``tests/test_entropy.py`` reads the
model's CDF back through an ANS coder and checks it. Raw bits and escaped values use
``Uniform(size)`` models, which are integer arithmetic throughout.

Escape scheme. A value ``v`` outside a table's direct range ``lo..hi`` is coded as the
escape symbol and, after the whole batch, as the code number ``u = 2*(v - hi - 1)``
(above the range) or ``u = 2*(lo - v - 1) + 1`` (below it): an Exp-Golomb code of
``u + 1``, whose bit length minus one ``L`` (0..32) is coded with ``Uniform(33)`` and
whose ``L`` bits below the leading one are coded in (at most two) 16-bit chunks with
``Uniform(2**bits)``. A batch's escapes follow the batch: all lengths, then all low
chunks, then all high chunks, so both sides handle them with a few numpy calls.

Stream end. constriction's decoder reads zeros past the end of its data and cannot say
how much it consumed, and a range-coded stream can be the exact encoding of a message
and of that message plus a few likely symbols. So ``Encoder.finish()`` ends the stream
with the number of values coded (mod 2**32, as 32 raw bits, about 4 bytes), and the
``Decoder`` re-encodes what it decodes: ``finish()`` accepts the data only if the end
count matches and the data equals that re-encoding byte for byte (no trailing words,
no truncation, no non-canonical encoding, no values left over or made up).
"""

from functools import lru_cache

import constriction
import numpy as np

from codec.entropy.tables import MAX_PRECISION, Table
from codec.errors import FormatError

__all__ = ["Encoder", "Decoder"]

# constriction's submodules are attributes of its extension module, not importable names.
_Categorical = constriction.stream.model.Categorical
_Uniform = constriction.stream.model.Uniform
_RangeEncoder = constriction.stream.queue.RangeEncoder
_RangeDecoder = constriction.stream.queue.RangeDecoder

_INT32_MIN = -(2**31)
_INT32_MAX = 2**31 - 1
_CHUNK_BITS = 16
_ESCAPE_LENGTHS = 33  # bit lengths 1..33 of u + 1 < 2**33
_UNIFORM_FAMILY = _Uniform()


@lru_cache(maxsize=4096)
def _categorical(freq_bytes: bytes, precision: int) -> _Categorical:
    """The constriction model of a table; cached, as building it is the slow part."""
    freqs = np.frombuffer(freq_bytes, dtype=np.uint32)
    weights = freqs.astype(np.float64) * float(1 << (MAX_PRECISION - precision)) - 1.0
    return _Categorical(weights, lazy=False, perfect=False)


def _model(table: Table) -> _Categorical:
    """The table's constriction model, kept on the table (hashing its bytes per call is slow)."""
    model = table.__dict__.get("_constriction")
    if model is None:
        model = _categorical(table.freqs.tobytes(), table.precision)
        object.__setattr__(table, "_constriction", model)
    return model


@lru_cache(maxsize=64)
def _family(family: tuple):
    """Direct ranges, offsets and constriction models of a table family, for
    ``Encoder.encode_by_table``: a model's families are few and reused, so this is cached."""
    lo, hi, offset = np.array([(t.lo, t.hi, t.offset) for t in family], np.int64).reshape(-1, 3).T
    return lo, hi, offset, [_model(t) for t in family]


@lru_cache(maxsize=64)
def _uniform(size: int) -> _Uniform:
    return _Uniform(size)


def _bits_chunks(n_bits: int):
    """(shift, bits) of each 16-bit chunk of an n_bits-bit number, low chunk first."""
    return [(s, min(_CHUNK_BITS, n_bits - s)) for s in range(0, n_bits, _CHUNK_BITS)]


def _encode_bits(coder, values: np.ndarray, n_bits: int) -> None:
    """Code int64 values in 0..2**n_bits-1 as raw bits, all low chunks first."""
    for shift, bits in _bits_chunks(n_bits):
        chunk = (values >> shift) & ((1 << bits) - 1)
        coder.encode(chunk.astype(np.int32), _uniform(1 << bits))


def _decode_bits(coder, count: int, n_bits: int) -> np.ndarray:
    values = np.zeros(count, dtype=np.int64)
    for shift, bits in _bits_chunks(n_bits):
        values |= coder.decode(_uniform(1 << bits), count).astype(np.int64) << shift
    return values


class Encoder:
    """Appends integer arrays to one range-coded stream."""

    def __init__(self):
        self._coder = _RangeEncoder()
        self._count = 0  # values coded, for the end count

    def encode(self, values: np.ndarray, table: Table) -> None:
        """Code ``values`` (any integer array within int32, flattened in C order) i.i.d.
        with ``table``; values outside its direct range go through the escape.
        """
        values = np.asarray(values)
        if values.dtype.kind not in "ui":
            raise ValueError(f"values must be integers, got {values.dtype}")
        values = values.ravel()
        if values.size == 0:
            return
        vmin, vmax = int(values.min()), int(values.max())
        if vmin < _INT32_MIN or vmax > _INT32_MAX:
            raise ValueError("values must fit in int32")
        values = values.astype(np.int32, copy=False)
        if table.lo <= vmin and vmax <= table.hi:  # the common case: no escapes
            self._encode_indices(values - np.int32(table.offset), table)
            return
        if not table.escape:
            raise ValueError(f"values outside {table.lo}..{table.hi} and no escape symbol")
        wide = values.astype(np.int64)
        out = (wide < table.lo) | (wide > table.hi)
        indices = np.where(out, len(table.freqs) - 1, wide - table.offset).astype(np.int32)
        self._encode_indices(indices, table)
        self._encode_escapes(_escape_codes(wide[out], table.lo, table.hi))

    def encode_by_table(self, values: np.ndarray, table_ids: np.ndarray, family) -> None:
        """Code ``values[i]`` with ``family[table_ids[i]]``: all values of the lowest id first
        (in their order), then the next id's; one coder call per id used.

        The same stream as calling ``encode`` id by id, with less work per call: one range
        check per table, escapes only where a table needs them.
        """
        values = np.asarray(values).ravel()
        if values.dtype.kind not in "ui" or values.dtype.itemsize > 4:
            raise ValueError(f"values must be integers of at most 32 bits, got {values.dtype}")
        ids = np.asarray(table_ids).ravel()
        if values.size == 0:
            return
        counts = np.bincount(ids, minlength=len(family))
        values = values[np.argsort(ids, kind="stable")]
        used = np.flatnonzero(counts)
        ends = np.cumsum(counts[used])
        starts = ends - counts[used]
        # Range checks and offsets for all tables at once (per-table numpy calls dominated).
        lo, hi, offset, models = _family(tuple(family))
        fits = (lo[used] <= np.minimum.reduceat(values, starts)) & (np.maximum.reduceat(values, starts) <= hi[used])
        indices = (values - np.repeat(offset[used], counts[used])).astype(np.int32)  # used where it fits
        encode = self._coder.encode
        for t, start, end, ok in zip(used.tolist(), starts.tolist(), ends.tolist(), fits.tolist()):
            if ok:
                encode(indices[start:end], models[t])
                self._count += end - start
            else:
                self.encode(values[start:end], family[t])

    def encode_uniform(self, values: np.ndarray, n_bits: int) -> None:
        """Code unsigned ``n_bits``-bit integers (1 <= n_bits <= 32) at n_bits bits each."""
        if not 1 <= n_bits <= 32:
            raise ValueError("n_bits must be in 1..32")
        values = np.asarray(values)
        if values.dtype.kind not in "ui":
            raise ValueError(f"values must be integers, got {values.dtype}")
        values = values.ravel().astype(np.int64)
        if values.size == 0:
            return
        if values.min() < 0 or values.max() >= 1 << n_bits:
            raise ValueError(f"values must be in 0..2**{n_bits}-1")
        _encode_bits(self._coder, values, n_bits)
        self._count += values.size

    def finish(self) -> bytes:
        """The stream so far plus its end count, as little-endian 32-bit words.

        The encoder stays usable: a later ``finish()`` returns the longer stream.
        """
        coder = self._coder.clone()
        _encode_bits(coder, np.array([self._count % 2**32], dtype=np.int64), 32)
        return coder.get_compressed().astype("<u4").tobytes()

    def _encode_indices(self, indices: np.ndarray, table: Table) -> None:
        self._coder.encode(indices, _model(table))
        self._count += indices.size

    def _encode_escapes(self, codes: np.ndarray) -> None:
        if codes.size == 0:
            return
        lengths = np.frexp((codes + 1).astype(np.float64))[1] - 1  # exact below 2**53
        self._coder.encode(lengths.astype(np.int32), _uniform(_ESCAPE_LENGTHS))
        mantissas = (codes + 1) - (np.int64(1) << lengths)
        for shift, _ in _bits_chunks(_ESCAPE_LENGTHS - 1):
            has = lengths > shift
            if has.any():
                bits = np.minimum(lengths[has] - shift, _CHUNK_BITS)
                chunk = (mantissas[has] >> shift) & ((np.int64(1) << bits) - 1)
                sizes = (np.int64(1) << bits).astype(np.int32)
                self._coder.encode(chunk.astype(np.int32), _UNIFORM_FAMILY, sizes)


def _escape_codes(values: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Code numbers u >= 0 of out-of-range values: even above ``hi``, odd below ``lo``."""
    return np.where(values > hi, 2 * (values - hi - 1), 2 * (lo - values - 1) + 1)


def _escape_values(codes: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Inverse of ``_escape_codes``."""
    return np.where(codes % 2 == 0, hi + 1 + codes // 2, lo - 1 - codes // 2)


class Decoder:
    """Reads back, in the same order, what an ``Encoder`` wrote.

    Every failure caused by the data raises ``FormatError``; after one, the decoder
    refuses further use.
    """

    def __init__(self, data: bytes):
        if len(data) % 4:
            raise FormatError("entropy-coded data is not a whole number of 32-bit words")
        self._data = bytes(data)
        self._coder = _RangeDecoder(np.frombuffer(self._data, dtype="<u4").astype(np.uint32))
        self._shadow = Encoder()
        self._failed = False

    def decode(self, count: int, table: Table) -> np.ndarray:
        """Decode ``count`` values coded with ``table``, as an int32 array."""
        if count < 0:
            raise ValueError("count must be >= 0")
        self._check_usable()
        if count == 0:
            return np.zeros(0, dtype=np.int32)
        indices = self._call(self._coder.decode, _model(table), int(count))
        self._shadow._encode_indices(indices, table)
        values = indices + np.int32(table.offset)  # escape slots are overwritten below
        if table.escape:
            out = indices == len(table.freqs) - 1
            n_out = int(np.count_nonzero(out))
            if n_out:
                codes = self._decode_escape_codes(n_out)
                wide = _escape_values(codes, table.lo, table.hi)
                if wide.min() < _INT32_MIN or wide.max() > _INT32_MAX:
                    self._failed = True
                    raise FormatError("escaped value outside int32")
                values[out] = wide
        return values

    def decode_uniform(self, count: int, n_bits: int) -> np.ndarray:
        """Decode ``count`` raw ``n_bits``-bit unsigned integers, as an int64 array."""
        if count < 0 or not 1 <= n_bits <= 32:
            raise ValueError("count must be >= 0 and n_bits in 1..32")
        self._check_usable()
        if count == 0:
            return np.zeros(0, dtype=np.int64)
        values = self._call(_decode_bits, self._coder, count, n_bits)
        self._shadow.encode_uniform(values, n_bits)
        return values

    def finish(self) -> None:
        """Raise ``FormatError`` unless the data was exactly what was decoded."""
        self._check_usable()
        (end_count,) = self._call(_decode_bits, self._coder, 1, 32)
        self._failed = True  # a decoder is finished once
        if end_count != self._shadow._count % 2**32:
            raise FormatError(
                f"entropy-coded data holds {end_count} values (mod 2**32), "
                f"{self._shadow._count} were decoded"
            )
        if self._shadow.finish() != self._data:
            raise FormatError("entropy-coded data does not end where the decoded values do")

    def _decode_escape_codes(self, n: int) -> np.ndarray:
        lengths = self._call(self._coder.decode, _uniform(_ESCAPE_LENGTHS), n).astype(np.int64)
        mantissas = np.zeros(n, dtype=np.int64)
        for shift, _ in _bits_chunks(_ESCAPE_LENGTHS - 1):
            has = lengths > shift
            if has.any():
                bits = np.minimum(lengths[has] - shift, _CHUNK_BITS)
                sizes = (np.int64(1) << bits).astype(np.int32)
                chunk = self._call(self._coder.decode, _UNIFORM_FAMILY, sizes)
                mantissas[has] |= chunk.astype(np.int64) << shift
        codes = (np.int64(1) << lengths) + mantissas - 1
        self._shadow._encode_escapes(codes)
        return codes

    def _check_usable(self) -> None:
        if self._failed:
            raise FormatError("decoder already failed or finished")

    def _call(self, method, *args):
        """Run a constriction call, turning whatever it raises into ``FormatError``.

        constriction reports data that is invalid for a model as ``AssertionError``, and
        a Rust panic surfaces as pyo3's ``PanicException``, a ``BaseException``.
        """
        try:
            return method(*args)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:
            self._failed = True
            raise FormatError(f"corrupt entropy-coded data ({exc})") from exc
