"""Specifications of the entropy coding layer (codec.entropy)."""

import constriction
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codec.entropy import (
    MAX_PRECISION,
    Decoder,
    Encoder,
    Table,
    gaussian_table_family,
    laplace_table_family,
    quantize_pmf,
)
from codec.entropy.coder import _model
from codec.errors import FormatError

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1

SMALL = Table(np.array([1, 3, 8, 4]), offset=-1, escape=False, precision=4)
PEAKED = Table(
    np.array([300, 1200, 3000, 7000, 3000, 1200, 300, 384]), offset=-3, escape=True, precision=14
)
GOLDEN_BATCHES = [
    (np.array([0, 1, 1, 2, -1, 1, 0, 1, 2, 1]), SMALL),
    (np.array([0, -3, 3, 2, 0, 7, -4, 0, 1000000, INT32_MIN, INT32_MAX, 0, -1]), PEAKED),
]
GOLDEN_UNIFORM = [(np.array([5, 0, 255, 170]), 8), (np.array([0xDEADBEEF]), 32)]
GOLDEN_BYTES = bytes.fromhex(
    "5388102b3e97d721a1280ac31a282a8c9fbdf641efb7ffffd18567c988ab6ede0000000a"
)


def fast(max_examples: int = 100) -> settings:
    """Hypothesis settings for numpy-heavy examples, without a database on disk."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )


def encode_golden() -> bytes:
    enc = Encoder()
    for values, table in GOLDEN_BATCHES:
        enc.encode(values, table)
    for values, n_bits in GOLDEN_UNIFORM:
        enc.encode_uniform(values, n_bits)
    return enc.finish()


def random_table(rng, precision=None, escape=None) -> Table:
    """A quantised random pmf over 2..199 symbols: flat, moderate or very peaked."""
    n = int(rng.integers(2, 200))
    precision = precision or int(rng.integers(int(np.ceil(np.log2(n))), MAX_PRECISION + 1))
    pmf = rng.dirichlet(np.full(n, rng.choice([0.05, 0.5, 5.0])))
    escape = bool(rng.integers(2)) if escape is None else escape
    return Table(quantize_pmf(pmf, precision), int(rng.integers(-300, 300)), escape, precision)


def sample(rng, table: Table, count: int, escape_rate: float = 0.0) -> np.ndarray:
    """I.i.d. values from the table's direct part, some replaced by far-away values."""
    direct = table.freqs[: len(table.freqs) - table.escape].astype(np.float64)
    values = table.offset + rng.choice(len(direct), size=count, p=direct / direct.sum())
    if table.escape:
        far = rng.random(count) < escape_rate
        values[far] = rng.integers(INT32_MIN, INT32_MAX, int(far.sum()), endpoint=True)
    return values.astype(np.int32)


def ans_probe(model, quantile: int) -> tuple[int, int]:
    """(symbol, probability + quantile - left_cumulative) of a model at a 24-bit quantile.

    One ANS decoding step from the state 2**24 + quantile finds the symbol whose interval
    holds the quantile and leaves the state probability + quantile - left_cumulative, so
    it reads constriction's internal integer table without relying on its float input.
    """
    ans = constriction.stream.stack.AnsCoder(np.array([(1 << 24) | quantile], np.uint32), False)
    symbol = int(ans.decode(model))
    (state,) = ans.get_compressed()
    return symbol, int(state)


# --- bitstream stability ---------------------------------------------------------------


def test_golden_stream_bytes_never_change_and_decode_back():
    assert encode_golden() == GOLDEN_BYTES
    dec = Decoder(GOLDEN_BYTES)
    for values, table in GOLDEN_BATCHES:
        decoded = dec.decode(len(values), table)
        assert decoded.dtype == np.int32
        np.testing.assert_array_equal(decoded, values)
    for values, n_bits in GOLDEN_UNIFORM:
        np.testing.assert_array_equal(dec.decode_uniform(len(values), n_bits), values)
    dec.finish()


@pytest.mark.parametrize(
    "table",
    [random_table(np.random.default_rng(p), precision=p) for p in (8, 12, 16, 20, 24)]
    + [
        Table(np.array([1, 1, (1 << 24) - 3, 1]), 0, True, 24),  # near-degenerate
        Table(np.ones(256, np.uint32), 0, False, 8),  # all at the minimum
    ],
)
def test_constriction_codes_with_exactly_our_integer_table(table):
    scaled = table.freqs.astype(np.int64) << (MAX_PRECISION - table.precision)
    left = np.concatenate([[0], np.cumsum(scaled)[:-1]])
    model = _model(table)
    # By induction on s: left[s] lies in symbol s's interval and its probability minus
    # (left[s] - its true left cumulative) equals ours, so each interval is ours.
    for s in range(len(scaled)):
        assert ans_probe(model, int(left[s])) == (s, int(scaled[s]))


def test_equal_tables_share_one_cached_model():
    a = Table(np.array([5, 3, 8]), 0, False, 4)
    b = Table(np.array([5, 3, 8], dtype=np.int64), 7, True, 4)
    assert _model(a) is _model(b)


# --- exact end of stream ---------------------------------------------------------------


def decode_all(data: bytes) -> None:
    dec = Decoder(data)
    for values, table in GOLDEN_BATCHES:
        dec.decode(len(values), table)
    for values, n_bits in GOLDEN_UNIFORM:
        dec.decode_uniform(len(values), n_bits)
    dec.finish()


@pytest.mark.parametrize(
    "mangle",
    [
        lambda d: d + b"\x00\x00\x00\x00",
        lambda d: d + b"\x01\x02\x03\x04",
        lambda d: d + b"\x00",
        lambda d: d[:-4],
        lambda d: d[:-1],
        lambda d: b"",
    ],
    ids=["zero-word", "word", "byte", "minus-word", "minus-byte", "empty"],
)
def test_decoder_rejects_data_longer_or_shorter_than_the_stream(mangle):
    decode_all(GOLDEN_BYTES)
    with pytest.raises(FormatError):
        decode_all(mangle(GOLDEN_BYTES))


def test_decoding_fewer_values_than_encoded_fails_at_finish():
    dec = Decoder(GOLDEN_BYTES)
    values, table = GOLDEN_BATCHES[0]
    dec.decode(len(values), table)
    with pytest.raises(FormatError):
        dec.finish()


def test_decoding_more_values_than_encoded_fails_at_finish():
    enc = Encoder()
    enc.encode(np.arange(-1, 3), SMALL)
    dec = Decoder(enc.finish())
    dec.decode(5, SMALL)
    with pytest.raises(FormatError):
        dec.finish()


def test_decoder_refuses_use_after_failure_or_finish():
    dec = Decoder(Encoder().finish())
    dec.finish()
    with pytest.raises(FormatError):
        dec.decode(1, SMALL)
    with pytest.raises(FormatError):
        dec.finish()


def test_empty_stream_round_trips_and_holds_just_the_end_count():
    enc = Encoder()
    enc.encode(np.zeros(0, np.int32), SMALL)
    data = enc.finish()
    assert 0 < len(data) <= 8
    dec = Decoder(data)
    assert dec.decode(0, SMALL).shape == (0,)
    dec.finish()


def test_finish_leaves_the_encoder_usable():
    enc = Encoder()
    enc.encode(np.array([0, 1]), SMALL)
    first = enc.finish()
    assert enc.finish() == first
    enc.encode(np.array([2]), SMALL)
    dec = Decoder(enc.finish())
    np.testing.assert_array_equal(dec.decode(3, SMALL), [0, 1, 2])
    dec.finish()


# --- escapes ---------------------------------------------------------------------------

EXTREMES = np.array(
    [0, 10**6, -(10**6), INT32_MAX, INT32_MIN, INT32_MAX - 1, INT32_MIN + 1, 5, -5, 2, -2, 4, -4]
)


@pytest.mark.parametrize(
    "table",
    [
        PEAKED,
        Table(np.array([1, 2, 1]), INT32_MIN, True, 2),  # direct range at the bottom of int32
        Table(np.array([1, 2, 1]), INT32_MAX - 1, True, 2),  # ... and at the top
        Table(np.array([3, 1]), 0, True, 2),  # one direct value
    ],
    ids=["peaked", "bottom", "top", "single"],
)
def test_values_far_outside_the_table_round_trip_through_the_escape(table):
    enc = Encoder()
    enc.encode(EXTREMES, table)
    enc.encode(EXTREMES[::-1], table)
    dec = Decoder(enc.finish())
    np.testing.assert_array_equal(dec.decode(len(EXTREMES), table), EXTREMES)
    np.testing.assert_array_equal(dec.decode(len(EXTREMES), table), EXTREMES[::-1])
    dec.finish()


def test_out_of_range_values_without_escape_symbol_are_refused():
    with pytest.raises(ValueError):
        Encoder().encode(np.array([3]), SMALL)
    with pytest.raises(ValueError):
        Encoder().encode(np.array([2**31]), PEAKED)


# --- round trips -----------------------------------------------------------------------


@fast(200)
@given(seed=st.integers(0, 2**32 - 1), n_batches=st.integers(1, 6), data=st.data())
def test_batches_with_different_tables_round_trip(seed, n_batches, data):
    rng = np.random.default_rng(seed)
    plan = []
    for _ in range(n_batches):
        if data.draw(st.booleans(), "uniform batch"):
            n_bits = data.draw(st.integers(1, 32), "n_bits")
            values = rng.integers(0, 1 << n_bits, int(rng.integers(0, 50)), dtype=np.int64)
            plan.append(("uniform", values, n_bits))
        else:
            table = random_table(rng)
            rate = data.draw(st.sampled_from([0.0, 0.01, 0.5]), "escape rate")
            plan.append(("table", sample(rng, table, int(rng.integers(0, 3000)), rate), table))
    enc = Encoder()
    for kind, values, arg in plan:
        (enc.encode_uniform if kind == "uniform" else enc.encode)(values, arg)
    dec = Decoder(enc.finish())
    for kind, values, arg in plan:
        got = (dec.decode_uniform if kind == "uniform" else dec.decode)(len(values), arg)
        np.testing.assert_array_equal(got, values)
    dec.finish()


@fast(100)
@given(seed=st.integers(0, 2**32 - 1), rate=st.sampled_from([0.0, 0.01, 0.5]))
def test_encode_by_table_writes_the_stream_of_per_table_encodes(seed, rate):
    """The fast grouped path, escapes included, equals coding table by table in id order."""
    rng = np.random.default_rng(seed)
    family = [random_table(rng) for _ in range(4)]
    ids = rng.integers(0, 4, 2000)
    values = np.zeros(len(ids), np.int32)
    for t, table in enumerate(family):
        values[ids == t] = sample(rng, table, int((ids == t).sum()), rate)
    fast_path, one_by_one = Encoder(), Encoder()
    fast_path.encode_by_table(values, ids, family)
    for t, table in enumerate(family):
        one_by_one.encode(values[ids == t], table)
    assert fast_path.finish() == one_by_one.finish()
    with pytest.raises(ValueError, match="integers"):
        Encoder().encode_by_table(values.astype(np.float32), ids, family)


# --- rate ------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_rate_is_within_one_percent_of_the_cross_entropy(seed):
    rng = np.random.default_rng(seed)
    table = random_table(rng, escape=False)
    values = sample(rng, table, 100_000)
    ideal_bits = -np.log2(table.freqs[values - table.offset] / 2.0**table.precision).sum()
    enc = Encoder()
    enc.encode(values, table)
    size = len(enc.finish())
    assert size <= ideal_bits / 8 * 1.01 + 8
    assert size >= ideal_bits / 8 * 0.99 - 8


# --- corrupt data ----------------------------------------------------------------------


def decode_with_random_schedule(data: bytes, rng) -> list:
    """Decode as a codec might, collecting results; only FormatError may escape."""
    dec = Decoder(data)
    out = []
    for _ in range(int(rng.integers(1, 5))):
        if rng.integers(3) == 0:
            out.append(dec.decode_uniform(int(rng.integers(0, 20)), int(rng.integers(1, 33))))
        else:
            out.append(dec.decode(int(rng.integers(0, 500)), random_table(rng)))
    dec.finish()
    return out


@fast(400)
@given(data=st.binary(max_size=256), seed=st.integers(0, 2**32 - 1))
def test_random_bytes_give_format_error_or_a_canonical_stream(data, seed):
    try:
        decode_with_random_schedule(data, np.random.default_rng(seed))
    except FormatError:
        pass


@fast(300)
@given(position=st.integers(0, len(GOLDEN_BYTES) - 1), flip=st.integers(1, 255))
def test_a_corrupted_byte_is_rejected_or_decodes_to_other_values(position, flip):
    data = bytearray(GOLDEN_BYTES)
    data[position] ^= flip
    dec = Decoder(bytes(data))
    try:
        got = [dec.decode(len(v), t) for v, t in GOLDEN_BATCHES]
        got += [dec.decode_uniform(len(v), n) for v, n in GOLDEN_UNIFORM]
        dec.finish()
    except FormatError:
        return
    expected = [v for v, _ in GOLDEN_BATCHES] + [v for v, _ in GOLDEN_UNIFORM]
    assert not all(np.array_equal(g, e) for g, e in zip(got, expected))


def test_data_that_is_not_whole_words_is_rejected():
    with pytest.raises(FormatError):
        Decoder(b"\x00\x01\x02")


# --- tables ----------------------------------------------------------------------------


@fast()
@given(
    pmf=st.lists(st.floats(0, 1e6), min_size=1, max_size=300).filter(lambda p: sum(p) > 0),
    precision=st.integers(1, MAX_PRECISION),
)
def test_quantize_pmf_sums_exactly_keeps_every_symbol_and_follows_the_pmf(pmf, precision):
    pmf = np.array(pmf)
    if len(pmf) > 1 << precision:
        with pytest.raises(ValueError):
            quantize_pmf(pmf, precision)
        return
    freqs = quantize_pmf(pmf, precision)
    assert freqs.dtype == np.uint32
    assert int(freqs.sum(dtype=np.int64)) == 1 << precision
    assert freqs.min() >= 1
    np.testing.assert_array_equal(quantize_pmf(pmf.copy(), precision), freqs)
    p = pmf / pmf.sum()
    assert np.all(np.abs(freqs - p * 2.0**precision) <= 2 + len(p) * p)


def test_quantize_pmf_breaks_ties_towards_the_lower_index():
    np.testing.assert_array_equal(quantize_pmf(np.ones(3), 2), [2, 1, 1])
    np.testing.assert_array_equal(quantize_pmf(np.array([1, 2, 2]), 3), [2, 3, 3])


@pytest.mark.parametrize("bad", [[1.0, -0.1], [0.0, 0.0], [np.nan, 1.0], []])
def test_quantize_pmf_refuses_invalid_pmfs(bad):
    with pytest.raises(ValueError):
        quantize_pmf(np.array(bad), 8)


@pytest.mark.parametrize(
    "freqs, offset, escape, precision",
    [
        ([1, 2], 0, False, 2),  # sum 3 != 4
        ([0, 4], 0, False, 2),  # a zero frequency
        ([4], 0, False, 2),  # degenerate
        ([2, 2], INT32_MAX, False, 2),  # range past int32
        ([1.0, 3.0], 0, False, 2),  # not integers
        ([1] * 4, 0, False, 25),  # precision beyond the coder's
    ],
)
def test_table_refuses_invalid_definitions(freqs, offset, escape, precision):
    with pytest.raises(ValueError):
        Table(np.array(freqs), offset, escape, precision)


@pytest.mark.parametrize("family", [laplace_table_family, gaussian_table_family])
def test_table_families_are_valid_tables_close_to_their_law(family):
    scales = np.array([0.1, 1.0, 4.0, 30.0])
    freqs = family(scales, 20, 16)
    assert freqs.shape == (4, 42) and freqs.dtype == np.uint32
    for row in freqs:
        table = Table(row, -20, True, 16)
        mid = row[: table.hi - table.lo + 1].astype(np.int64)
        assert np.argmax(mid) == 20 and np.all(np.abs(mid - mid[::-1]) <= 1)
    escape_mass = freqs[:, -1]
    assert escape_mass[0] == 1 and np.all(np.diff(escape_mass) >= 0)
    if family is laplace_table_family:  # P(|X| <= 1/2) = 1 - exp(-1/(2b)) for b = 1
        assert abs(freqs[1, 20] / 2**16 - (1 - np.exp(-0.5))) < 1e-3


def test_shifted_laplace_tables_follow_their_centre():
    scales = np.array([0.2, 1.0, 6.0])
    half = laplace_table_family(scales, 40, 16, 0.5)[:, :81].astype(np.int64)
    assert np.all(np.abs(half[:, 1:] - half[:, :0:-1]) <= 1)  # symmetric about 1/2: p(v) = p(1 - v)
    quarter = laplace_table_family(scales, 40, 16, 0.25)[:, :81].astype(np.int64)
    three = laplace_table_family(scales, 40, 16, 0.75)[:, :81].astype(np.int64)
    assert np.all(np.abs(quarter[:, 1:] - three[:, :0:-1]) <= 1)  # 1/4 mirrors 3/4 about 1/2
    for row, b in zip(quarter, scales):  # P(-1/2 < X < 1/2) and P(1/2 < X < 3/2) for X ~ 1/4 + Laplace(b)
        # (each of the 82 symbols gets at least one count: 0.0013 of the mass)
        assert abs(row[40] / 2**16 - (1 - 0.5 * np.exp(-0.25 / b) - 0.5 * np.exp(-0.75 / b))) < 2e-3
        assert abs(row[41] / 2**16 - 0.5 * (np.exp(-0.25 / b) - np.exp(-1.25 / b))) < 2e-3
    for bad, why in (({"centre": 1.0}, "centre"), ({"centre": -0.25}, "centre"),
                     ({"max_symbol": -1}, "max_symbol"), ({"scales": [1.0, 0.0]}, "scales")):
        args = {"scales": scales, "max_symbol": 40, "precision": 16, "centre": 0.25, **bad}
        with pytest.raises(ValueError, match=why):
            laplace_table_family(**args)
