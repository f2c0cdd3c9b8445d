"""Specifications of the wavelet packet transform in codec/wavelets.py."""

import pathlib
import subprocess
import sys

import numpy as np
import pytest
import pywt
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from codec.wavelets import (
    iwpt1,
    iwpt1_torch,
    iwpt2,
    iwpt2_torch,
    pad_to_multiple,
    synthesis_gains,
    wpt1,
    wpt1_torch,
    wpt2,
    wpt2_torch,
)

ROOT = pathlib.Path(__file__).resolve().parents[1]
WAVELETS = ["bior4.4", "haar", "db2", "sym4", "bior2.2"]
LEVELS = [1, 2, 3, 4, 5]
# float32 round trips on 0..255 data: about 1e-5 of the data range.
TOL32 = 1e-5 * 255
TOL64 = 1e-8


def random_image(shape, dtype=np.float32, seed=0):
    return (np.random.default_rng(seed).random(shape) * 255).astype(dtype)


@pytest.fixture(scope="module")
def kodim23():
    """A 128x192 crop of a real photo, (3, H, W) float32 in 0..255."""
    image = np.asarray(Image.open(ROOT / "codec/data/samples/kodim23.png").convert("RGB"))
    return np.ascontiguousarray(image[200:328, 300:492].transpose(2, 0, 1), dtype=np.float32)


def pywt_reference(x, levels, wavelet):
    """Full packet tree by recursive pywt.dwt2, one band at a time (slow, obviously right)."""
    bands = list(x)
    for _ in range(levels):
        children = []
        for band in bands:
            ca, (ch, cv, cd) = pywt.dwt2(band, wavelet, mode="periodization")
            children += [ca, ch, cv, cd]
        bands = children
    return np.stack(bands)


def pywt_reference_1d(x, levels, wavelet):
    bands = list(x)
    for _ in range(levels):
        bands = [c for band in bands for c in pywt.dwt(band, wavelet, mode="periodization")]
    return np.stack(bands)


# Perfect reconstruction


@pytest.mark.parametrize("wavelet", WAVELETS)
@pytest.mark.parametrize("levels", LEVELS)
def test_numpy_inverse_reconstructs_random_input_to_float32_precision(wavelet, levels):
    x = random_image((3, 64, 96))
    coeffs = wpt2(x, levels, wavelet)
    assert coeffs.shape == (3 * 4**levels, 64 >> levels, 96 >> levels)
    assert coeffs.dtype == np.float32
    np.testing.assert_allclose(iwpt2(coeffs, levels, wavelet), x, rtol=0, atol=TOL32)


@pytest.mark.parametrize("wavelet", WAVELETS)
@pytest.mark.parametrize("levels", LEVELS)
def test_torch_inverse_reconstructs_random_input_to_float32_precision(wavelet, levels):
    x = torch.from_numpy(random_image((2, 3, 64, 32)))
    coeffs = wpt2_torch(x, levels, wavelet)
    assert coeffs.shape == (2, 3 * 4**levels, 64 >> levels, 32 >> levels)
    assert coeffs.dtype == torch.float32
    torch.testing.assert_close(iwpt2_torch(coeffs, levels, wavelet), x, rtol=0, atol=TOL32)


@pytest.mark.parametrize("levels", [3, 5])
def test_real_image_round_trips_in_numpy_and_torch(kodim23, levels):
    np.testing.assert_allclose(iwpt2(wpt2(kodim23, levels), levels), kodim23, rtol=0, atol=TOL32)
    x = torch.from_numpy(kodim23)[None]
    torch.testing.assert_close(iwpt2_torch(wpt2_torch(x, levels), levels), x, rtol=0, atol=TOL32)


@pytest.mark.parametrize("height, width", [(1, 1), (7, 13), (33, 65)])
@pytest.mark.parametrize("channels", [1, 3, 16])
def test_odd_sizes_round_trip_through_pad_and_crop(height, width, channels):
    levels = 5
    x = random_image((channels, height, width), seed=height)
    padded = pad_to_multiple(x, 2**levels)
    assert padded.shape[1:] == (-(-height // 32) * 32, -(-width // 32) * 32)
    restored = iwpt2(wpt2(padded, levels), levels)[:, :height, :width]
    np.testing.assert_allclose(restored, x, rtol=0, atol=TOL32)
    t = torch.from_numpy(padded)[None]
    restored_t = iwpt2_torch(wpt2_torch(t, levels), levels)[0, :, :height, :width]
    np.testing.assert_allclose(restored_t.numpy(), x, rtol=0, atol=TOL32)


@pytest.mark.parametrize("wavelet", WAVELETS)
@pytest.mark.parametrize("levels", [1, 4, 10])
def test_1d_inverse_reconstructs_input_in_numpy_and_torch(wavelet, levels):
    x = random_image((3, 2048), dtype=np.float64)
    coeffs = wpt1(x, levels, wavelet)
    assert coeffs.shape == (3 * 2**levels, 2048 >> levels)
    np.testing.assert_allclose(iwpt1(coeffs, levels, wavelet), x, rtol=0, atol=TOL64)
    t = torch.from_numpy(x)[None]
    torch.testing.assert_close(iwpt1_torch(wpt1_torch(t, levels, wavelet), levels, wavelet), t, rtol=0, atol=TOL64)


@settings(max_examples=25, deadline=None)
@given(
    channels=st.integers(1, 4),
    levels=st.integers(1, 4),
    blocks=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    wavelet=st.sampled_from(WAVELETS),
    seed=st.integers(0, 2**16),
)
def test_round_trip_holds_for_any_small_shape(channels, levels, blocks, wavelet, seed):
    shape = (channels, blocks[0] * 2**levels, blocks[1] * 2**levels)
    x = random_image(shape, dtype=np.float64, seed=seed)
    coeffs = wpt2(x, levels, wavelet)
    np.testing.assert_allclose(iwpt2(coeffs, levels, wavelet), x, rtol=0, atol=TOL64)
    coeffs_t = wpt2_torch(torch.from_numpy(x)[None], levels, wavelet)
    np.testing.assert_allclose(coeffs_t[0].numpy(), coeffs, rtol=0, atol=TOL64)


# Agreement with pywt and between numpy and torch


@pytest.mark.parametrize("wavelet", WAVELETS + ["coif5", "rbio3.1", "db20"])
@pytest.mark.parametrize("levels", [1, 2, 3])
def test_coefficients_equal_recursive_pywt_dwt2(wavelet, levels):
    x = random_image((2, 32, 64), dtype=np.float64)
    np.testing.assert_allclose(wpt2(x, levels, wavelet), pywt_reference(x, levels, wavelet), rtol=0, atol=TOL64)


@pytest.mark.parametrize("levels", [3, 4, 5])
@pytest.mark.parametrize("shape", [(3, 256, 384), (16, 64, 32)])
def test_coefficients_equal_pywt_where_the_products_are_split_across_threads(shape, levels):
    """Large inputs split each product over windows (few channels) or over rows; levels above
    three run as two passes of composite filters per axis."""
    x = random_image(shape, dtype=np.float64)
    np.testing.assert_allclose(wpt2(x, levels), pywt_reference(x, levels, "bior4.4"), rtol=0, atol=TOL64)


@pytest.mark.parametrize("shape", [(1, 64, 64), (1, 32, 96), (3, 64, 32)])
def test_coefficients_are_contiguous_for_in_place_use(shape):
    assert wpt2(random_image(shape), 3).flags["C_CONTIGUOUS"]


@pytest.mark.parametrize("wavelet", WAVELETS)
def test_1d_coefficients_equal_recursive_pywt_dwt(wavelet):
    x = random_image((2, 256), dtype=np.float64)
    np.testing.assert_allclose(wpt1(x, 3, wavelet), pywt_reference_1d(x, 3, wavelet), rtol=0, atol=TOL64)


@pytest.mark.parametrize("wavelet", WAVELETS + ["db20"])
@pytest.mark.parametrize("levels", [1, 3, 5])
def test_numpy_and_torch_give_the_same_2d_coefficients_and_inverse(wavelet, levels):
    x = random_image((3, 64, 32), dtype=np.float64)
    coeffs = wpt2(x, levels, wavelet)
    coeffs_t = wpt2_torch(torch.from_numpy(x)[None], levels, wavelet)
    np.testing.assert_allclose(coeffs_t[0].numpy(), coeffs, rtol=0, atol=TOL64)
    noise = np.random.default_rng(1).normal(size=coeffs.shape)  # any coefficients, not just a transform's
    inverse_t = iwpt2_torch(torch.from_numpy(noise)[None], levels, wavelet)
    np.testing.assert_allclose(inverse_t[0].numpy(), iwpt2(noise, levels, wavelet), rtol=0, atol=TOL64)


@pytest.mark.parametrize("wavelet", WAVELETS + ["db20"])
@pytest.mark.parametrize("levels", [1, 5, 10])
def test_numpy_and_torch_give_the_same_1d_coefficients_and_inverse(wavelet, levels):
    x = random_image((2, 1024), dtype=np.float64)
    coeffs = wpt1(x, levels, wavelet)
    coeffs_t = wpt1_torch(torch.from_numpy(x)[None], levels, wavelet)
    np.testing.assert_allclose(coeffs_t[0].numpy(), coeffs, rtol=0, atol=TOL64)
    noise = np.random.default_rng(1).normal(size=coeffs.shape)
    inverse_t = iwpt1_torch(torch.from_numpy(noise)[None], levels, wavelet)
    np.testing.assert_allclose(inverse_t[0].numpy(), iwpt1(noise, levels, wavelet), rtol=0, atol=TOL64)


def test_float32_numpy_and_torch_agree_to_float32_precision(kodim23):
    coeffs = wpt2(kodim23, 3)
    coeffs_t = wpt2_torch(torch.from_numpy(kodim23)[None], 3)[0].numpy()
    scale = np.abs(coeffs).max()
    np.testing.assert_allclose(coeffs_t, coeffs, rtol=0, atol=1e-6 * scale)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_torch_on_cuda_matches_cpu():
    x = torch.from_numpy(random_image((2, 3, 64, 64), dtype=np.float64))
    coeffs = wpt2_torch(x.cuda(), 3)
    assert coeffs.device.type == "cuda"
    torch.testing.assert_close(coeffs.cpu(), wpt2_torch(x, 3), rtol=0, atol=TOL64)
    torch.testing.assert_close(iwpt2_torch(coeffs, 3).cpu(), x, rtol=0, atol=TOL64)


# Channel layout


@pytest.mark.parametrize("levels", [1, 3])
def test_constant_image_puts_all_energy_in_band_0(levels):
    x = np.full((2, 32, 64), 100.0)
    coeffs = wpt2(x, levels).reshape(2, 4**levels, 32 >> levels, 64 >> levels)
    assert np.abs(coeffs[:, 1:]).max() < 1e-9
    np.testing.assert_allclose(coeffs[:, 0], 100.0 * 2**levels)  # lowpass DC gain sqrt(2) per axis


def test_children_of_band_b_are_4b_plus_k_in_dwt2_order():
    x = random_image((1, 32, 32), dtype=np.float64)
    ca, (ch, cv, cd) = pywt.dwt2(x[0], "bior4.4", mode="periodization")
    coeffs = wpt2(x, 2)
    for k, child in enumerate([ca, ch, cv, cd]):
        grand = pywt.dwt2(child, "bior4.4", mode="periodization")
        for j, band in enumerate([grand[0], *grand[1]]):
            np.testing.assert_allclose(coeffs[4 * k + j], band, rtol=0, atol=TOL64)


def test_stack_of_channels_equals_concatenated_per_channel_transforms():
    x = random_image((2, 32, 64))
    levels = 3
    separate = np.concatenate([wpt2(x[c : c + 1], levels) for c in range(2)])
    np.testing.assert_array_equal(wpt2(x, levels), separate)
    t = torch.from_numpy(x.astype(np.float64))[None]  # conv algorithms vary with batch size in float32
    separate_t = torch.cat([wpt2_torch(t[:, c : c + 1], levels) for c in range(2)], dim=1)
    torch.testing.assert_close(wpt2_torch(t, levels), separate_t)
    batch = torch.cat([t, t.flip(-1)])
    torch.testing.assert_close(wpt2_torch(batch, levels)[1:], wpt2_torch(t.flip(-1), levels))


def test_1d_children_of_band_b_are_2b_plus_k():
    x = random_image((2, 64), dtype=np.float64)
    coeffs = wpt1(x, 2).reshape(2, 4, 16)
    lo, hi = pywt.dwt(x[1], "bior4.4", mode="periodization")
    expected = [c for band in (lo, hi) for c in pywt.dwt(band, "bior4.4", mode="periodization")]
    np.testing.assert_allclose(coeffs[1], np.stack(expected), rtol=0, atol=TOL64)


def test_numpy_keeps_float32_and_computes_other_inputs_in_float64():
    assert wpt2(random_image((1, 8, 8)), 1).dtype == np.float32
    assert iwpt2(random_image((4, 4, 4)), 1).dtype == np.float32
    assert wpt2(np.ones((1, 8, 8), np.uint8), 1).dtype == np.float64
    assert wpt1(random_image((1, 8)), 2).dtype == np.float32


# torch specifics


def test_gradients_flow_through_torch_transforms():
    x = torch.rand(2, 3, 16, 16, dtype=torch.float64, requires_grad=True)
    weights = torch.rand(2, 3 * 16, 4, 4, dtype=torch.float64)
    (wpt2_torch(x, 2) * weights).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    small = torch.rand(1, 1, 4, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: wpt2_torch(t, 2), (small,), fast_mode=True)
    assert torch.autograd.gradcheck(lambda t: iwpt2_torch(t, 1), (small.reshape(1, 4, 2, 2),), fast_mode=True)
    signal = torch.rand(1, 2, 8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: iwpt1_torch(wpt1_torch(t, 3), 3), (signal,), fast_mode=True)


def test_importing_the_module_does_not_import_torch():
    code = "import codec.wavelets, sys; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


# Validation


@pytest.mark.parametrize("wavelet", ["foo", "morl", "dmey", 3])
def test_unknown_continuous_or_inexact_wavelet_is_rejected(wavelet):
    x = np.zeros((1, 8, 8))
    with pytest.raises(ValueError, match="wavelet"):
        wpt2(x, 1, wavelet)
    with pytest.raises(ValueError, match="wavelet"):
        wpt2_torch(torch.zeros(1, 1, 8, 8), 1, wavelet)
    with pytest.raises(ValueError, match="wavelet"):
        synthesis_gains(1, wavelet)


@pytest.mark.parametrize("levels", [0, 6, 2.0, True, "2"])
def test_levels_out_of_range_are_rejected(levels):
    with pytest.raises(ValueError, match="levels"):
        wpt2(np.zeros((1, 64, 64)), levels)
    with pytest.raises(ValueError, match="levels"):
        iwpt2_torch(torch.zeros(1, 4096, 2, 2), levels)


def test_1d_allows_ten_levels_but_not_eleven():
    assert wpt1(np.zeros((1, 1024)), 10).shape == (1024, 1)
    with pytest.raises(ValueError, match="levels"):
        wpt1(np.zeros((1, 2048)), 11)


def test_sizes_not_divisible_by_2_to_the_levels_are_rejected():
    with pytest.raises(ValueError, match=r"multiple of 2\*\*levels = 8.*pad_to_multiple"):
        wpt2(np.zeros((1, 24, 20)), 3)
    with pytest.raises(ValueError, match="multiple of 2"):
        wpt2_torch(torch.zeros(1, 1, 20, 24), 3)
    with pytest.raises(ValueError, match="multiple of 2"):
        wpt1(np.zeros((1, 12)), 3)
    with pytest.raises(ValueError, match="packet bands"):
        iwpt2(np.zeros((15, 4, 4)), 2)
    with pytest.raises(ValueError, match="packet bands"):
        iwpt1_torch(torch.zeros(1, 3, 4), 1)


def test_wrong_rank_empty_or_integer_tensor_input_is_rejected():
    with pytest.raises(ValueError, match=r"shape \(C, H, W\)"):
        wpt2(np.zeros((8, 8)), 1)
    with pytest.raises(ValueError, match=r"shape \(N, C, H, W\)"):
        wpt2_torch(torch.zeros(1, 8, 8), 1)
    with pytest.raises(ValueError, match="empty"):
        wpt2(np.zeros((0, 8, 8)), 1)
    with pytest.raises(ValueError, match="floating point"):
        wpt2_torch(torch.zeros(1, 1, 8, 8, dtype=torch.int64), 1)


# pad_to_multiple


def test_pad_to_multiple_reflects_symmetrically_at_bottom_right():
    x = random_image((2, 7, 13))
    padded = pad_to_multiple(x, 8)
    np.testing.assert_array_equal(padded, np.pad(x, ((0, 0), (0, 1), (0, 3)), mode="symmetric"))


def test_pad_to_multiple_repeats_reflection_when_pad_exceeds_size():
    np.testing.assert_array_equal(pad_to_multiple(np.full((1, 1, 1), 5.0), 8), np.full((1, 8, 8), 5.0))
    row = pad_to_multiple(np.array([[1.0, 2.0]]), 8, ndim=1)
    np.testing.assert_array_equal(row, [[1, 2, 2, 1, 1, 2, 2, 1]])


def test_pad_to_multiple_returns_input_when_already_a_multiple():
    x = np.zeros((3, 16, 32), np.float32)
    assert pad_to_multiple(x, 16) is x


def test_pad_to_multiple_with_ndim_1_pads_only_the_last_axis():
    assert pad_to_multiple(np.zeros((3, 5)), 4, ndim=1).shape == (3, 8)


def test_pad_to_multiple_rejects_bad_arguments():
    with pytest.raises(ValueError, match="multiple"):
        pad_to_multiple(np.zeros((4, 4)), 0)
    with pytest.raises(ValueError, match="ndim"):
        pad_to_multiple(np.zeros(4), 4, ndim=2)
    with pytest.raises(ValueError, match="empty"):
        pad_to_multiple(np.zeros((0, 4)), 4)


# synthesis_gains


def impulse_norm(levels, wavelet, band, size=64):
    """L2 norm of the inverse of one unit coefficient in `band`, on a 2-D grid that does not wrap."""
    coeffs = np.zeros((4**levels, size, size))
    coeffs[band, size // 2, size // 2] = 1.0
    return np.linalg.norm(iwpt2(coeffs, levels, wavelet))


def test_synthesis_gains_are_one_for_an_orthogonal_wavelet():
    np.testing.assert_allclose(synthesis_gains(3, "db2"), 1.0, atol=1e-9)
    np.testing.assert_allclose(synthesis_gains(6, "db2", ndim=1), 1.0, atol=1e-9)


@pytest.mark.parametrize("band", [0, 1, 6, 9, 63])
def test_synthesis_gains_of_bior44_match_a_direct_impulse(band):
    gains = synthesis_gains(3, "bior4.4")
    assert gains.shape == (64,)
    assert np.ptp(gains) > 0.1  # biorthogonal: not all equal
    np.testing.assert_allclose(gains[band], impulse_norm(3, "bior4.4", band), rtol=1e-9)


def test_1d_synthesis_gains_match_a_direct_impulse():
    gains = synthesis_gains(4, ndim=1)
    assert gains.shape == (16,)
    for band in (0, 5, 15):
        coeffs = np.zeros((16, 64))
        coeffs[band, 32] = 1.0
        np.testing.assert_allclose(gains[band], np.linalg.norm(iwpt1(coeffs, 4)), rtol=1e-9)


def test_synthesis_gains_reject_bad_arguments():
    with pytest.raises(ValueError, match="ndim"):
        synthesis_gains(2, ndim=3)
    with pytest.raises(ValueError, match="levels"):
        synthesis_gains(6)


def _child_transform(x):
    from codec.wavelets import wpt2

    return wpt2(x, 2)


def test_transform_runs_in_a_forked_child_after_the_parent_used_its_threads():
    """A fork copies the thread pool object but not its threads; the child must make its own."""
    import multiprocessing

    from codec.wavelets import wpt2

    x = np.random.default_rng(0).standard_normal((3, 512, 512)).astype(np.float32)
    expected = wpt2(x, 2)  # large enough to use the pool's threads here
    with multiprocessing.get_context("fork").Pool(1) as pool:
        got = pool.apply_async(_child_transform, (x,)).get(timeout=60)
    np.testing.assert_array_equal(got, expected)
