"""INR mode: round trips for several signal kinds, determinism across thread counts, the
fixed-point entropy model's exactness, and one clear error per bad input or file."""

import hashlib
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

import codec
from codec import bitstream
from codec.entropy import Decoder, Encoder
from codec.errors import FormatError, InputError
from codec.inr import coding
from codec.inr import fit as inr_fit
from codec.inr.context import context_size
from codec.inr.model import ARM, LOG_SCALE_MIN, MEAN_STEPS, Architecture, INRModel
from codec.modes import inr
from tests.conftest import psnr

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
STEPS = 120


def encode(a, quality=50, steps=STEPS, layout="HWC", seed=0):
    return inr.encode_image(a, layout, quality, seed=seed, steps=steps)


@pytest.fixture(scope="module")
def rgb_file(sample_rgb):
    return encode(sample_rgb)


def test_round_trip_beats_the_mean_colour(sample_rgb, rgb_file):
    out = codec.decode(rgb_file)
    assert out.shape == sample_rgb.shape and out.dtype == np.uint8
    flat = np.broadcast_to(sample_rgb.mean((0, 1)), sample_rgb.shape)
    assert psnr(sample_rgb, out) > psnr(sample_rgb, flat) + 5
    header = codec.info(rgb_file).header
    assert (header.mode, header.modality, header.quality) == ("inr", "image", 50)


def test_quality_trades_rate_for_distortion(sample_rgb, rgb_file):
    low = encode(sample_rgb, quality=10)
    assert len(low) < len(rgb_file)
    assert psnr(sample_rgb, codec.decode(low)) < psnr(sample_rgb, codec.decode(rgb_file))


def test_same_seed_same_file_and_seed_is_recorded(sample_rgb, rgb_file):
    assert encode(sample_rgb) == rgb_file
    other = encode(sample_rgb, seed=7)
    assert other != rgb_file
    assert "seed 7" in str(codec.info(other))


def test_fit_keeps_its_best_rounded_step(sample_rgb, monkeypatch):
    """The straight-through phase can end worse than it began: the parameters handed on to
    quantisation are those of its step (or of the final update) with the lowest D + lambda R."""
    x = torch.from_numpy(sample_rgb.transpose(2, 0, 1).astype(np.float32) / 255)
    h, w = x.shape[1:]
    lam = inr.quality_to_lambda(50)
    seen, kept, recording = [], [], [True]
    real_decode, real_rate = INRModel.decode, INRModel.rate_bits

    def objective(model, grids):
        mse = torch.mean((real_decode(model, grids)[..., :h, :w] - x[None]) ** 2)
        return float(mse + lam * real_rate(model, grids) / (h * w))

    def decode(model, grids):
        if recording[0] and all(torch.equal(g, torch.round(g)) for g in grids):
            with torch.no_grad():
                seen.append(objective(model, grids))
        return real_decode(model, grids)

    def quantise(model, target, lam_, steps):
        recording[0] = False
        with torch.no_grad():
            kept.append(objective(model, [torch.round(g) for g in model.grids]))
        return steps

    monkeypatch.setattr(INRModel, "decode", decode)
    monkeypatch.setattr(inr_fit, "_quantise", quantise)
    assert inr_fit.fit(x.numpy(), lam, Architecture(), steps=STEPS) == STEPS
    rounded_steps = STEPS - math.ceil(inr_fit._SOFT_FRACTION * STEPS)
    assert len(seen) == rounded_steps + 1   # the rounded steps, then the final parameters
    assert kept[0] == pytest.approx(min(seen), rel=1e-6)


def test_info_names_architecture_and_cost(rgb_file):
    text = str(codec.info(rgb_file))
    assert "6 grids from 1/2" in text and f"fitted {STEPS} steps" in text and "MACs/pixel" in text
    cost = codec.complexity("inr")
    assert 200 < cost["macs_per_pixel"] < 3000 and cost["parameters"] > 100


def test_decoding_does_not_depend_on_thread_count(sample_rgb):
    before = torch.get_num_threads()
    header_chunks = None
    try:
        torch.set_num_threads(1)
        data = encode(sample_rgb, steps=40)
        header_chunks = bitstream.unpack(data)
        one = codec.decode(data)
        torch.set_num_threads(2)
        two = codec.decode(data)
    finally:
        torch.set_num_threads(before)
    assert np.abs(one.astype(int) - two.astype(int)).max() <= 1
    # The entropy-decoded latents themselves are identical in a fresh process on 2 threads.
    script = ("import sys, torch, numpy as np; torch.set_num_threads(2); from codec import bitstream; "
              "from codec.modes import inr; from codec.entropy import Decoder; "
              "h, c = bitstream.unpack(sys.stdin.buffer.read()); "
              "sys.stdout.buffer.write(np.concatenate([g.numpy().ravel() for g in inr.decode_latents(h, c)]).tobytes())")
    r = subprocess.run([sys.executable, "-c", script], input=data, capture_output=True, check=False)
    assert r.returncode == 0, r.stderr.decode()
    mine = np.concatenate([g.numpy().ravel() for g in inr.decode_latents(*header_chunks)])
    assert r.stdout == mine.tobytes()


def test_gray_uint16_and_float_channels_round_trip():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:40, 0:56]
    smooth = np.sin(yy / 6.0) + np.cos(xx / 9.0)
    gray = (smooth * 12000 + 30000).astype(np.uint16)
    out = codec.decode(encode(gray))
    assert out.shape == gray.shape and out.dtype == np.uint16
    flat = np.full(gray.shape, gray.mean())
    assert psnr(gray, out, 65535) > psnr(gray, flat, 65535) + 10
    bands = np.stack([smooth * k + rng.normal(0, 0.01, smooth.shape) for k in (1, 2, -1, 0.5, 3)]).astype(np.float32)
    out = codec.decode(encode(np.moveaxis(bands, 0, -1), layout="CHW"))
    assert out.shape == bands.shape and out.dtype == np.float32
    peak = float(bands.max() - bands.min())
    flat = np.broadcast_to(bands.mean((1, 2), keepdims=True), bands.shape)
    assert psnr(bands, out, peak) > psnr(bands, flat, peak) + 8  # 120 steps: about 10 dB over the mean


def test_integer_entropy_model_ignores_summation_order():
    rng = np.random.default_rng(1)
    n, h = context_size(6), 16
    layers = [(rng.integers(-300, 300, (h, n)), rng.integers(-3000, 3000, h)),
              (rng.integers(-300, 300, (h, h)), rng.integers(-3000, 3000, h)),
              (rng.integers(-3, 3, (2, h)), rng.integers(-3000, 3000, 2))]
    ctx = rng.integers(-200, 200, (500, n)).astype(np.float64)
    mean, index = coding.IntegerARM(layers, 8)(ctx)
    perm = rng.permutation(n)  # reorder the first layer's inputs: other partial sums
    shuffled = [(layers[0][0][:, perm], layers[0][1]), *layers[1:]]
    mean2, index2 = coding.IntegerARM(shuffled, 8)(ctx[:, perm])
    assert np.array_equal(mean, mean2) and np.array_equal(index, index2)
    assert index.min() >= 0 and index.max() < coding.N_TABLES and len(np.unique(index)) > 3


def _random_arm(rng, weights: int, biases: int, bits: int, levels: int = 3, h: int = 8) -> coding.IntegerARM:
    n = context_size(levels)
    return coding.IntegerARM([(rng.integers(-weights, weights, shape), rng.integers(-biases, biases, shape[0]))
                              for shape in ((h, n), (h, h), (2, h))], bits)


def test_grids_round_trip_through_the_coder():
    rng = np.random.default_rng(2)
    arm = _random_arm(rng, 200, 500, 8)
    grids = [rng.laplace(0, s, shape).round().astype(np.int64) for s, shape in ((2, (16, 24)), (5, (8, 12)), (40, (4, 6)))]
    grids[2][0, 0] = 5000  # an escape
    enc = Encoder()
    coding.encode_grids(enc, grids, arm)
    dec = Decoder(enc.finish())
    out = coding.decode_grids(dec, [g.shape for g in grids], arm)
    dec.finish()
    for g, o in zip(grids, out):
        assert np.array_equal(g, o.numpy().astype(np.int64))


def test_grid_bits_predicts_the_coded_size():
    rng = np.random.default_rng(3)
    arm = _random_arm(rng, 2000, 5000, 12)
    shapes = ((1, (32, 48)), (3, (16, 24)), (9, (8, 12)))
    grids = [rng.laplace(0, s, shape).round().astype(np.int64) for s, shape in shapes]
    enc = Encoder()
    coding.encode_grids(enc, grids, arm)
    coded = len(enc.finish()) * 8
    assert abs(coding.grid_bits(grids, arm) - coded) < 0.01 * coded + 64


def test_integer_entropy_model_follows_the_float_one():
    """At the finest precision the fixed-point model picks the float model's rounded mean
    and nearest table for nearly every context (what the encoder priced while fitting)."""
    torch.manual_seed(0)
    arm = ARM(Architecture(levels=3, arm_hidden=16))
    with torch.no_grad():
        for layer in arm.layers:
            layer.weight.normal_(0, 0.5)
            layer.bias.normal_(0, 0.5)
        ctx = torch.randint(-4, 5, (4000, context_size(3))).double()
        out = arm.double()(ctx).numpy()
    mean, index = coding.IntegerARM.from_float(arm, max(coding.ARM_PRECISIONS))(ctx.numpy())
    float_scale = np.clip(np.round((out[:, 1] - LOG_SCALE_MIN) * 8), 0, 63)
    quarters = mean * MEAN_STEPS + index % MEAN_STEPS
    assert np.mean(quarters == np.round(out[:, 0] * MEAN_STEPS)) > 0.995
    assert np.mean(index // MEAN_STEPS == float_scale) > 0.995


@pytest.mark.parametrize("scale", [0.5, 40, 3000, 60000])
def test_tensors_round_trip_and_large_values_cost_about_their_entropy(scale):
    q = np.rint(np.random.default_rng(4).laplace(0, scale, (16, 22))).astype(np.int64)
    enc = Encoder()
    coding.encode_tensor(enc, q)
    data = enc.finish()
    dec = Decoder(data)
    assert np.array_equal(coding.decode_tensor(dec, q.shape), q)
    dec.finish()
    entropy = np.log2(2 * np.e * max(scale, 0.5))  # a Laplace's, per value
    assert len(data) * 8 / q.size < entropy + 1.5


def test_full_size_grid_round_trips(sample_rgb):
    arch = Architecture(levels=5, first=0, channels=3)
    data = inr.encode_image(sample_rgb, "HWC", 50, steps=60, arch=arch)
    out = codec.decode(data)
    assert "5 grids from 1/1" in str(codec.info(data))
    flat = np.broadcast_to(sample_rgb.mean((0, 1)), sample_rgb.shape)
    assert psnr(sample_rgb, out) > psnr(sample_rgb, flat) + 3


def test_upsampling_is_bicubic_interpolation():
    """The coarser grids are upsampled by matrix products; they must match F.interpolate's bicubic."""
    arch = Architecture()
    model = INRModel(arch, (128, 192))
    torch.manual_seed(0)
    grids = [torch.randn(h, w) * 4 for h, w in arch.grid_shapes((128, 192))]
    planes = model.upsample(grids)[9:]   # after the finest grid's 3x3 neighbourhood
    expected = torch.cat([torch.nn.functional.interpolate(g[None, None], scale_factor=2 ** s, mode="bicubic",
                                                          align_corners=False)[0] for s, g in enumerate(grids[1:], 1)])
    assert planes.shape == expected.shape == (5, 64, 96)
    assert torch.allclose(planes, expected, atol=1e-5)


def test_laplace_tables_are_the_pinned_ones():
    freqs = np.stack([t.freqs for t in coding.tables()])
    assert hashlib.sha256(freqs.tobytes()).hexdigest() == coding._TABLES_SHA256


@pytest.mark.parametrize("kwargs, message", [
    ({"bpp": 0.5}, "--bpp is not available in the inr mode"),
    ({"max_error": 0.1}, "--max-error needs the linear mode"),
    ({"effort": "extreme"}, "unknown effort"),
    ({"seconds": 0}, "--seconds must be a positive number"),
    ({"seconds": float("nan")}, "--seconds must be a positive number"),
    ({"seed": -1}, "seed must be an integer"),
])
def test_bad_options_are_refused(sample_rgb, kwargs, message):
    with pytest.raises(InputError, match=message):
        codec.encode(sample_rgb, mode="inr", **kwargs)


def test_too_many_channels_or_pixels_are_refused(monkeypatch):
    with pytest.raises(InputError, match="at most 8 channels"):
        codec.encode(np.zeros((8, 8, 9), np.uint8), mode="inr")
    monkeypatch.setattr(inr, "MAX_PIXELS", 100)
    with pytest.raises(InputError, match="use --mode linear"):
        codec.encode(np.zeros((11, 10), np.uint8), mode="inr")


def _with_params(data: bytes, params: bytes) -> bytes:
    header, chunks = bitstream.unpack(data)
    fields = {k: getattr(header, k) for k in header.__dataclass_fields__ if k != "chunk_lengths"}
    return bitstream.pack(bitstream.Header(**{**fields, "params": params}), chunks)


def test_bad_files_are_refused(rgb_file):
    for cut in (len(rgb_file) - 1, len(rgb_file) // 2, 40):
        with pytest.raises(FormatError):
            codec.decode(rgb_file[:cut])
    header, _ = bitstream.unpack(rgb_file)
    with pytest.raises(FormatError, match="wrong size"):
        codec.decode(_with_params(rgb_file, header.params[:-1]))
    levels = bytearray(header.params)
    levels[0] = 0
    with pytest.raises(FormatError, match="architecture"):
        codec.decode(_with_params(rgb_file, bytes(levels)))
    arm_bits = bytearray(header.params)
    arm_bits[5] = 17
    with pytest.raises(FormatError, match="architecture"):
        codec.decode(_with_params(rgb_file, bytes(arm_bits)))
    bits = bytearray(header.params)
    bits[4] = (bits[4] + 1) % 16  # other synthesis step: still a valid file, other pixels
    assert not np.array_equal(codec.decode(_with_params(rgb_file, bytes(bits))), codec.decode(rgb_file))


def test_entropy_model_too_large_for_exact_arithmetic_is_refused():
    n = context_size(6)
    huge = coding.IntegerARM([(np.full((16, n), 2.0**40), np.zeros(16)), (np.ones((16, 16)), np.zeros(16)),
                              (np.ones((2, 16)), np.zeros(2))], 8)
    with pytest.raises(FormatError, match="too large"):
        huge(np.full((4, n), 100.0))


WAVECODEC = [sys.executable, "-c", "from codec.cli import main; main()"]


def test_cli_encodes_with_a_time_budget_and_decodes(tmp_path, sample_rgb):
    png = tmp_path / "img.png"
    Image.fromarray(sample_rgb).save(png)
    r = subprocess.run([*WAVECODEC, "encode", png, "--mode", "inr", "--seconds", "2", "-q", "40"],
                       capture_output=True, check=False)
    assert r.returncode == 0, r.stderr
    assert b"fitting [" in r.stderr and b"dB" in r.stderr
    r = subprocess.run([*WAVECODEC, "decode", png.with_suffix(".wlc"), "-o", tmp_path / "out.png"],
                       capture_output=True, check=False)
    assert r.returncode == 0, r.stderr
    assert np.asarray(Image.open(tmp_path / "out.png")).shape == sample_rgb.shape


def test_cli_refuses_inr_options_elsewhere_and_inr_audio(tmp_path, sample_rgb):
    png = tmp_path / "img.png"
    Image.fromarray(sample_rgb).save(png)
    r = subprocess.run([*WAVECODEC, "encode", png, "--effort", "slow"], capture_output=True, check=False)
    assert r.returncode == 3 and b"apply to --mode inr" in r.stderr and not png.with_suffix(".wlc").exists()
    import soundfile

    wav = tmp_path / "a.wav"
    soundfile.write(wav, np.zeros((800, 1), np.int16), 8000)
    r = subprocess.run([*WAVECODEC, "encode", wav, "--mode", "inr"], capture_output=True, check=False)
    assert r.returncode == 3 and b"coded by the linear or learned mode" in r.stderr and not wav.with_suffix(".wlc").exists()
    assert len(r.stderr.strip().splitlines()) == 1
