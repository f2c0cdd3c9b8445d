"""Learned mode: round trips, rate control, determinism, tiling, latents, refusals and a
tiny training run."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

import codec
from codec import bitstream
from codec.errors import FormatError, InputError
from tests.conftest import psnr

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def files(sample_rgb):
    return {q: codec.encode(sample_rgb, quality=q, mode="learned") for q in (1, 50, 100)}


def test_round_trip_shape_dtype_and_quality(sample_rgb, files):
    out = codec.decode(files[50])
    assert out.shape == sample_rgb.shape and out.dtype == np.uint8
    assert psnr(sample_rgb, out) > 26
    assert psnr(sample_rgb, codec.decode(files[100])) > psnr(sample_rgb, codec.decode(files[1])) + 6


def test_fewer_bytes_than_linear_and_no_worse(sample_rgb, files):
    """Same quantiser as the linear mode: its context coding saves bytes (except at the very
    lowest rates, where the linear mode's zero-block flags win a little), its network must
    not hurt."""
    for q in (1, 50, 100):
        linear = codec.encode(sample_rgb, quality=q)
        assert len(files[q]) < len(linear) if q > 1 else len(files[q]) < 1.05 * len(linear)
        assert psnr(sample_rgb, codec.decode(files[q])) > psnr(sample_rgb, codec.decode(linear)) - 0.05


def test_rate_grows_with_quality(files):
    assert len(files[1]) < len(files[50]) < len(files[100])


def test_odd_sizes_rgba_uint16_and_float(sample_odd):
    alpha = np.full(sample_odd.shape[:2] + (1,), 200, np.uint8)
    for a in (sample_odd, np.concatenate([sample_odd, alpha], 2), sample_odd.astype(np.uint16) * 257,
              sample_odd.astype(np.float32) / 7.0):
        out = codec.decode(codec.encode(a, quality=60, mode="learned"))
        assert out.shape == a.shape and out.dtype == a.dtype
        peak = float(a.max() - a.min())
        assert psnr(a, out, peak=peak) > 24


def test_bpp_lands_within_5_percent_under_target(sample_rgb):
    pixels = sample_rgb.shape[0] * sample_rgb.shape[1]
    for target in (0.5, 1.5):
        rate = len(codec.encode(sample_rgb, bpp=target, mode="learned")) * 8 / pixels
        assert 0.95 * target <= rate <= target


def test_bpp_below_reach_is_refused(sample_rgb):
    with pytest.raises(InputError, match="below the smallest rate"):
        codec.encode(sample_rgb, bpp=0.001, mode="learned")


@pytest.mark.parametrize("bad", [np.zeros((40, 40), np.uint8), np.zeros((40, 40, 5), np.uint8),
                                 np.zeros((40, 40, 2), np.uint8)])
def test_non_rgb_is_refused(bad):
    with pytest.raises(InputError, match="RGB"):
        codec.encode(bad, mode="learned")


def test_max_error_needs_linear(sample_rgb):
    with pytest.raises(InputError, match="linear"):
        codec.encode(sample_rgb.astype(np.float32), mode="learned", max_error=1.0)


def _rewrite(data: bytes, **changes) -> bytes:
    header, chunks = bitstream.unpack(data)
    fields = {k: getattr(header, k) for k in header.__dataclass_fields__ if k != "chunk_lengths"}
    return bitstream.pack(bitstream.Header(**{**fields, **changes}), chunks)


def test_damaged_headers_are_refused(files):
    data = files[50]
    with pytest.raises(FormatError, match="other weights"):
        codec.decode(_rewrite(data, model_hash=bytes(8)))
    with pytest.raises(FormatError, match="unknown"):
        codec.decode(_rewrite(data, model="learned-v9"))
    with pytest.raises(FormatError, match="RGB"):
        codec.decode(_rewrite(data, channels=1, shape=(96, 128), layout="HW"))
    with pytest.raises(FormatError, match="padded"):
        codec.decode(_rewrite(data, padded=(64, 64)))
    with pytest.raises(FormatError):
        codec.decode(_rewrite(data, params=b"\x00" * 3))


def test_truncated_payload_is_refused(files):
    header, chunks = bitstream.unpack(files[50])
    fields = {k: getattr(header, k) for k in header.__dataclass_fields__ if k != "chunk_lengths"}
    short = bitstream.pack(bitstream.Header(**fields), [chunks[0][:-8]])
    with pytest.raises(FormatError):
        codec.decode(short)


def test_decoding_does_not_depend_on_thread_count(sample_rgb):
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        data = codec.encode(sample_rgb, quality=40, mode="learned")
        one = codec.decode(data), codec.latents(data)
        torch.set_num_threads(2)
        assert codec.encode(sample_rgb, quality=40, mode="learned") == data
        two = codec.decode(data), codec.latents(data)
    finally:
        torch.set_num_threads(before)
    assert torch.equal(one[1], two[1])  # the entropy-decoded latents are bit-identical
    assert np.abs(one[0].astype(int) - two[0].astype(int)).max() <= 1


def test_tiled_decoder_has_no_seams(monkeypatch):
    from codec.modes import learned
    from codec.zoo import get_learned_model

    model = get_learned_model()
    y = np.random.default_rng(0).normal(0, 3, (192, 40, 36)).astype(np.float32)
    whole = learned.synthesise(y, 20.0, model)
    monkeypatch.setattr(learned, "_TILE", 16)
    tiled = learned.synthesise(y, 20.0, model)
    assert np.abs(whole - tiled).max() < 1e-3 * np.abs(whole).max()


def test_latents_of_image_file_and_bytes(sample_rgb, files, tmp_path):
    path = tmp_path / "a.wlc"
    path.write_bytes(files[50])
    from_bytes, from_path = codec.latents(files[50]), codec.latents(path)
    assert from_bytes.shape == (192, 128 // 8, 128 // 8) and from_bytes.dtype == torch.float32
    assert torch.equal(from_bytes, from_path)
    linear = codec.latents(codec.encode(sample_rgb, quality=50))  # linear files too: same bins
    assert torch.equal(codec.latents(sample_rgb, quality=50), linear)  # an image is coded linear
    step = bitstream.unpack(files[50])[0].step
    packets = slice(6, None)  # past the smooth channels, which are split again by a dyadic wavelet
    assert torch.equal(linear[packets] == 0, from_bytes[packets] == 0)
    assert (linear[packets] - from_bytes[packets]).abs().max() < step
    with pytest.raises(InputError, match="RGB"):
        codec.latents(codec.encode(sample_rgb[:, :, 0]))


def test_latent_folder_dataset(files, tmp_path):
    from codec.latent_dataset import LatentFolder

    for cls, q in (("a", 1), ("b", 100)):
        (tmp_path / cls).mkdir()
        (tmp_path / cls / "x.wlc").write_bytes(files[q])
    ds = LatentFolder(tmp_path)
    assert len(ds) == 2 and ds.classes == ["a", "b"]
    (x0, y0), (x1, y1) = ds[0], ds[1]
    assert (y0, y1) == (0, 1) and x0.shape == x1.shape == (192, 16, 16)
    with pytest.raises(InputError, match="no .wlc"):
        LatentFolder(tmp_path / "a" / "none")


def test_tiny_training_run_logs_resumes_and_exports(tmp_path):
    from codec.models.export import load_learned_model
    from codec.train.loop import train

    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (80, 72, 3), dtype=np.uint8)).save(data / f"{i}.png")
    run = tmp_path / "run"
    path = train(data, run, preset="tiny", progress=False)
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    steps = [r for r in records if "loss" in r]
    assert [r["step"] for r in steps] == [1, 2, 3, 4]
    assert all({"loss", "psnr_linear", "psnr"} <= r.keys() for r in steps)
    assert any("validation" in r for r in steps)
    model = load_learned_model(str(path))
    assert model.meta["steps"] == 4 and model.config["width"] == 96
    train(data, run, preset="tiny", steps=6, progress=False)  # resumes at step 4
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "loss" in r][-2:] == [5, 6]


def test_cli_encode_decode_learned(tmp_path, sample_rgb):
    from click.testing import CliRunner

    from codec.cli import cli

    src = tmp_path / "in.png"
    Image.fromarray(sample_rgb).save(src)
    runner = CliRunner()
    r = runner.invoke(cli, ["encode", str(src), "--mode", "learned", "-q", "40", "--quiet"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["decode", str(tmp_path / "in.wlc"), "-o", str(tmp_path / "out.png"), "--quiet"])
    assert r.exit_code == 0, r.output
    assert psnr(sample_rgb, np.asarray(Image.open(tmp_path / "out.png"))) > 24
    r = runner.invoke(cli, ["train", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "run")])
    assert r.exit_code != 0 and "not found" in r.output


def test_training_batch_from_worker_pool_matches_in_process(tmp_path):
    """The cuda preset codes crops in forked workers; they must give the same pairs."""
    from codec.train.data import ImageSet
    from codec.zoo import get_linear_model

    rng = np.random.default_rng(1)
    for i in range(2):
        Image.fromarray(rng.integers(0, 255, (80, 72, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    images = ImageSet(sorted(tmp_path.glob("*.png")), 64, get_linear_model("linear-v1"))
    steps = np.array([4.0, 9.0, 20.0])
    alone = images.batch(np.random.default_rng(5), steps)
    with images.pool(2) as pool:
        pooled = images.batch(np.random.default_rng(5), steps, pool)
    for a, b in zip(alone, pooled):
        assert torch.equal(a, b)
