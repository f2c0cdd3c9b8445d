"""Feature mode: the pipeline stages, the container, float16 lossless and the max-error bound."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import codec
from codec import bitstream
from codec.errors import FormatError, InputError
from codec.features import coding
from codec.features.io import Tensor
from codec.features.pipeline import Pipeline
from codec.modes.features import decode_features, encode_features


def relu_features(shape, seed=0):
    rng = np.random.default_rng(seed)
    return np.maximum(rng.normal(size=shape), 0).astype(np.float32) * 3


def test_quality_trades_rate_for_error_monotonically():
    x = relu_features((4, 16, 8, 8))
    sizes, errors = [], []
    for q in (10, 40, 70, 95):
        data = codec.encode_features(x, quality=q)
        sizes.append(len(data))
        errors.append(float(np.mean((codec.decode_features(data)["tensor"] - x) ** 2)))
    assert sizes == sorted(sizes) and errors == sorted(errors, reverse=True)


@pytest.mark.parametrize("options", [
    {"norm": "none", "bits": 8}, {"norm": "channel", "transform": "klt"}, {"transform": "wpt", "levels": 2},
    {"clip": ("percentile", 1.0)}, {"clip": ("sigma", 3.0), "norm": "channel"}, {"clip": ("fixed", 0.0, 4.0)},
    {"channels_last": True, "transform": "wpt", "levels": 1},
])
def test_every_stage_round_trips_shape_and_dtype(options):
    x = relu_features((2, 6, 10, 12))
    out = codec.decode_features(codec.encode_features({"a": x, "b": x[:, :3].astype(np.float16)}, **options))
    assert list(out) == ["a", "b"]
    assert out["a"].shape == x.shape and out["a"].dtype == np.float32
    assert out["b"].shape == (2, 3, 10, 12) and out["b"].dtype == np.float16
    lo, hi = options.get("clip", ("x", 0.0, 4.0))[1:] if options.get("clip", ("",))[0] == "fixed" else (0, np.inf)
    assert np.sqrt(np.mean((np.clip(x, lo, hi) - out["a"]) ** 2)) < 0.2 * x.std()


def test_bits_quantiser_error_is_half_a_step():
    x = relu_features((3, 4, 16))
    out = codec.decode_features(codec.encode_features(x, bits=6, norm="none"))["tensor"]
    step = (x.max() - x.min()) / 63
    assert np.abs(out - x).max() <= step / 2 * (1 + 1e-5)


def test_token_tensor_wpt_along_tokens_and_one_dimensional_tensors():
    rng = np.random.default_rng(1)
    tokens = np.cumsum(rng.normal(size=(50, 24)), axis=0).astype(np.float32)  # smooth along tokens
    vec = rng.normal(size=37).astype(np.float32)
    data = codec.encode_features({"t": tokens}, transform="wpt", levels=3)
    out = codec.decode_features(data)
    assert out["t"].shape == tokens.shape and np.abs(out["t"] - tokens).max() < tokens.std()
    out = codec.decode_features(codec.encode_features({"v": vec, "s": np.float32(2.5)}))
    assert out["v"].shape == (37,) and out["s"].shape == () and abs(float(out["s"]) - 2.5) < 0.1


bits16 = hnp.arrays(np.uint16, hnp.array_shapes(min_dims=1, max_dims=4, max_side=9),
                    elements=st.integers(0, 0xFFFF))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bits=bits16, dtype=st.sampled_from(["float16", "bfloat16"]))
def test_lossless_16bit_is_bit_exact_on_any_bit_pattern(bits, dtype):
    t = Tensor.from_bits16("x", dtype, bits)
    (back,) = decode_features(encode_features([t], Pipeline(quant="lossless", norm="none")))
    assert back.dtype == dtype and back.shape == bits.shape
    assert np.array_equal(back.bits16(), bits)


def test_lossless_keeps_nan_payloads_infinities_subnormals_and_signed_zero():
    special = np.array([0x0000, 0x8000, 0x0001, 0x03FF, 0x8001, 0x7C00, 0xFC00, 0x7E00, 0x7C01, 0xFFFF,
                        0x3C00, 0x7BFF], np.uint16)
    rng = np.random.default_rng(0)
    bits = np.concatenate([special, rng.integers(0, 2**16, 5000).astype(np.uint16),
                           relu_features((4000,)).astype(np.float16).view(np.uint16)])
    for dtype in ("float16", "bfloat16"):
        (back,) = decode_features(encode_features([Tensor.from_bits16("x", dtype, bits)],
                                                  Pipeline(quant="lossless", norm="none")))
        assert np.array_equal(back.bits16(), bits)


def test_lossless_compresses_relu_features():
    h = relu_features((8, 32, 8, 8)).astype(np.float16)
    data = codec.encode_features(h, lossless=True)
    assert len(data) < 0.8 * h.nbytes
    assert np.array_equal(codec.decode_features(data)["tensor"].view(np.uint16), h.view(np.uint16))


def test_lossless_refuses_float32():
    with pytest.raises(InputError, match="float16/bfloat16"):
        codec.encode_features(np.zeros((4, 4), np.float32), lossless=True)


def test_lossy_refuses_nan_and_inf():
    x = relu_features((2, 3, 4))
    x[0, 0, 0] = np.nan
    with pytest.raises(InputError, match="NaN or infinite"):
        codec.encode_features(x)


finite32 = st.floats(-1e4, 1e4, allow_nan=False, width=32)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(x=hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=4, max_side=8), elements=finite32),
       half=st.booleans(), rel=st.floats(1e-4, 0.5), quality=st.integers(1, 100),
       stages=st.sampled_from([{}, {"norm": "channel"}, {"transform": "klt"}, {"clip": ("percentile", 10.0)},
                               {"bits": 3}, {"norm": "none"}]))
def test_max_error_is_never_violated(x, half, rel, quality, stages):
    if half:
        x = x.astype(np.float16)
    span = float(x.max()) - float(x.min())
    limit = max(rel * span, 1e-3)
    data = codec.encode_features(x, quality=quality, max_error=limit, **stages)
    out = codec.decode_features(data)["tensor"]
    assert out.dtype == x.dtype and out.shape == x.shape
    assert np.abs(out.astype(np.float64) - x.astype(np.float64)).max() <= limit


def test_max_error_with_wpt_on_real_looking_features():
    x = relu_features((2, 8, 12, 12))
    out = codec.decode_features(codec.encode_features(x, transform="wpt", max_error=0.05))["tensor"]
    assert np.abs(out - x).max() <= 0.05


def test_header_records_the_pipeline_and_info_prints_it():
    data = codec.encode_features({"f": relu_features((2, 4, 4, 4))}, quality=70, clip=("sigma", 3),
                                 norm="channel", transform="klt")
    header = bitstream.read_header(data)
    assert (header.mode, header.modality, header.quality, header.shape) == ("features", "features", 70, (128,))
    text = str(codec.info(data))
    assert "clip sigma (3)" in text and "norm channel" in text and "transform klt" in text


def test_params_layout_is_pinned():
    p = Pipeline(clip="fixed", clip_a=-1.0, clip_b=2.0, norm="channel", transform="wpt", levels=3, quant="bits",
                 bits=10, channels_last=True, max_error=0.5, bound=0.25)
    assert p.pack().hex() == ("01" "000080bf" "00000040" "02" "02" "03" "01" "0a" "01" "00"
                              "000000000000e03f" "000000000000d03f")
    assert Pipeline.unpack(p.pack(), 0) == p


def test_corrupt_or_inconsistent_files_are_format_errors():
    data = bytearray(codec.encode_features({"f": relu_features((2, 4, 4))}))
    header, chunks = bitstream.unpack(bytes(data))
    bad_params = header.params[:1] + b"\x09" + header.params[2:]  # clip kind byte 0 -> fine; stage id 9 below
    for params in (header.params[:-1], b"\x07" + header.params[1:], bad_params[:0] + b"\x00" * 32):
        broken = bitstream.pack(bitstream.Header(**{**header.__dict__, "params": params, "chunk_lengths": ()}),
                                chunks)
        with pytest.raises(FormatError):
            codec.decode_features(broken)
    for table in (chunks[0][:-3], chunks[0] + b"\x00", b"\x05\x00\x00\x00" + chunks[0][4:]):
        broken = bitstream.pack(bitstream.Header(**{**header.__dict__, "chunk_lengths": ()}), [table, chunks[1]])
        with pytest.raises(FormatError):
            codec.decode_features(broken)
    broken = bitstream.pack(bitstream.Header(**{**header.__dict__, "chunk_lengths": ()}),
                            [chunks[0], chunks[1][:-4] + b"\x01\x02\x03\x04"])
    with pytest.raises(FormatError):
        codec.decode_features(broken)


def test_group_coder_round_trips_extreme_groups():
    from codec.entropy import Decoder, Encoder

    rng = np.random.default_rng(3)
    groups = [np.zeros(5, np.int64), np.full(7, -300, np.int64), rng.integers(-2**20, 2**20, 50),
              rng.geometric(0.3, 100) - 1, np.array([2**29, -2**29])]
    enc = Encoder()
    coding.encode_groups(enc, groups)
    dec = Decoder(enc.finish())
    back = coding.decode_groups(dec, [len(g) for g in groups])
    dec.finish()
    assert all(np.array_equal(a, b) for a, b in zip(groups, back))


def test_profile_removes_side_information_and_must_match(tmp_path):
    from codec.features.calibrate import calibrate, load_profile

    calib = [[Tensor("f", "float32", relu_features((8, 16, 4, 4), seed=s))] for s in range(3)]
    p = Pipeline(norm="channel", transform="klt", clip="sigma", clip_a=4.0)
    profile = load_profile(calibrate(calib, p))
    x = relu_features((1, 16, 4, 4), seed=9)
    settings_ = {"norm": "channel", "transform": "klt", "clip": ("sigma", 4.0)}
    with_profile = codec.encode_features({"f": x}, profile=profile, **settings_)
    alone = codec.encode_features({"f": x}, **settings_)
    assert len(with_profile) < len(alone) - 16 * 17 * 4  # the KLT alone is 1088 bytes
    out = codec.decode_features(with_profile, profile=profile)["f"]
    assert np.sqrt(np.mean((out - x) ** 2)) < 0.2 * x.std()
    with pytest.raises(InputError, match="pass it with --profile"):
        codec.decode_features(with_profile)
    other = load_profile(calibrate(calib[:1], p))
    with pytest.raises(InputError, match="not the one"):
        codec.decode_features(with_profile, profile=other)
    with pytest.raises(InputError, match="fitted for"):
        codec.encode_features({"f": x}, profile=profile, norm="global")
    with pytest.raises(InputError, match="no tensor"):
        codec.encode_features({"g": x}, profile=profile, **settings_)


def test_learned_bottleneck_round_trip_and_model_check():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    from codec.features.bottleneck import (
        BottleneckConfig,
        load_bottleneck,
        train_bottleneck,
    )

    x = relu_features((64, 8, 4, 4))
    b = train_bottleneck(x, BottleneckConfig(8, 2, 16), beta=0.1, steps=60)
    b = load_bottleneck(b.save())
    data = codec.encode_features({"f": x}, transform="learned", model=b)
    out = codec.decode_features(data, model=b)["f"]
    assert out.shape == x.shape and np.isfinite(out).all()
    assert bitstream.read_header(data).model == "bottleneck"
    with pytest.raises(InputError, match="--model"):
        codec.decode_features(data)
    with pytest.raises(InputError, match="takes"):
        codec.encode_features({"f": x[:, :4]}, transform="learned", model=b)
    with pytest.raises(InputError, match="max-error"):
        codec.encode_features({"f": x}, transform="learned", model=b, max_error=0.1)
    with pytest.raises(InputError, match="no clip"):
        codec.encode_features({"f": x}, transform="learned", model=b, clip=("sigma", 3))


def test_info_lists_the_tensors():
    x = relu_features((2, 4, 3, 3))
    for options in ({}, {"norm": "channel", "transform": "klt"}, {"lossless": True}):
        tensors = {"a": x, "b.weight": x[0, 0]} if not options.get("lossless") else {"a": x.astype(np.float16)}
        fields = dict(codec.info(codec.encode_features(tensors, **options)).fields)
        assert fields["tensor 1"] == "a " + ("float16" if options.get("lossless") else "float32") + " 2 x 4 x 3 x 3"
        if not options.get("lossless"):
            assert fields["tensor 2"] == "b.weight float32 3 x 3"
