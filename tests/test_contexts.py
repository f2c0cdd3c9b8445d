"""The learned mode's context coding: exact round trips, fitted tables that save bits, and
refusal of corrupt streams and tables."""

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from codec.errors import FormatError
from codec.modes import contexts, linear
from codec.modes.linear_model import N_TABLES
from codec.train.contexts import ContextCounts
from codec.zoo import get_linear_model


@pytest.fixture(scope="module")
def model():
    return get_linear_model()


@pytest.fixture(scope="module")
def klt(sample_rgb, model):
    """KLT channels of the sample padded as the encoder pads it (to 128x128)."""
    from codec.wavelets import pad_to_multiple

    x = sample_rgb.transpose(2, 0, 1).astype(np.float32) - np.float32(127.5)
    return linear.analyse(pad_to_multiple(np.ascontiguousarray(x), linear.pad_multiple(model)), model, "rgb")


SHAPE = (3, 128, 128)


def _random_tables(seed: int) -> contexts.ContextTables:
    rng = np.random.default_rng(seed)
    return contexts.ContextTables({p: tuple(rng.integers(-6, 7, n) for n in contexts.N_CELLS) for p in contexts.PARTS})


def _sent(y, step, model, tables):
    """``traverse``'s (values, tables) as the encoder codes them."""
    dc, static, side = linear.quantised_planes(y, step, model, "rgb")

    def io(part, step_pass, cells, base, values, t):
        return values

    batch = contexts._Batch(io, tables.shifts, model)
    return contexts.traverse(batch, model, "rgb", y.shape, side, (dc, static, y, step))


@pytest.mark.parametrize("seed", [0, 1])
def test_decoder_rebuilds_every_symbol_and_table(klt, model, seed):
    tables = _random_tables(seed)
    for step in (8.0, 40.0):
        data = contexts.encode_group(klt, step, model, "rgb", tables)
        (dc_q, dc_t), (q, t) = _sent(klt, step, model, tables)
        (dc_q2, dc_t2), (q2, t2) = contexts.decode_symbols(data, klt.shape, model, "rgb", tables)
        assert len(dc_q) == len(dc_q2) == 10 and np.abs(q).max() > 0
        for a, b in zip(dc_q + dc_t + [q, t], dc_q2 + dc_t2 + [q2, t2]):
            assert np.array_equal(a, b)
        assert len(np.unique(t)) > 8  # the tables really vary with the context


def test_same_quantised_values_as_the_linear_mode(klt, model):
    """Only the coding differs: the packet channels decode to the linear mode's bins."""
    step = 12.0
    y = contexts.decode_klt(contexts.encode_group(klt, step, model, "rgb", _random_tables(2)),
                            SHAPE, step, model, "rgb", _random_tables(2))
    y_lin = linear.decode_klt(linear.encode_group(klt, step, model, "rgb"), SHAPE, step, model, "rgb")
    n_dc = model.n_dc["rgb"]
    assert np.array_equal(linear.quantise(y[n_dc:], step), linear.quantise(klt[n_dc:], step))
    assert np.array_equal(y[n_dc:] == 0, y_lin[n_dc:] == 0)
    assert np.abs(y - y_lin).max() < step  # reconstruction points move inside the same bins


def test_fitted_tables_save_bits(klt, model):
    counts = ContextCounts(model)
    for step in (10.0, 30.0):
        counts.add(klt, step)
    fitted, saved = counts.fit()
    assert all(v >= 0 for v in saved.values()) and max(saved.values()) > 0.02
    zero = contexts.ContextTables({p: tuple(np.zeros(n, np.int64) for n in contexts.N_CELLS) for p in contexts.PARTS})
    for step in (10.0, 30.0):
        assert len(contexts.encode_group(klt, step, model, "rgb", fitted)) < \
            len(contexts.encode_group(klt, step, model, "rgb", zero))


def test_corrupt_streams_are_refused(klt, model):
    tables = _random_tables(0)
    data = contexts.encode_group(klt, 20.0, model, "rgb", tables)
    for bad in (data[:-8], data + b"\0\0\0\0", b"\xff" * len(data)):
        with pytest.raises(FormatError):
            contexts.decode_klt(bad, SHAPE, 20.0, model, "rgb", tables)


def test_bad_tables_are_refused():
    good = _random_tables(0).arrays()
    with pytest.raises(FormatError, match="no context table"):
        contexts.ContextTables.from_arrays({k: v for k, v in good.items() if not k.endswith("ctx1")})
    wrong = dict(good, contexts_dc0=good["contexts_dc0"][:-1])
    with pytest.raises(FormatError, match="wrong shape"):
        contexts.ContextTables.from_arrays(wrong)
    far = dict(good, contexts_dc0=np.full_like(good["contexts_dc0"], N_TABLES))
    with pytest.raises(FormatError, match="range"):
        contexts.ContextTables.from_arrays(far)


def test_cli_fit_contexts(tmp_path):
    from codec.cli import cli
    from codec.models.export import load_learned_model
    from codec.zoo import model_path

    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        smooth = np.cumsum(rng.normal(0, 4, (96, 128, 3)), axis=1)
        Image.fromarray(np.clip(smooth + 128, 0, 255).astype(np.uint8)).save(data / f"{i}.png")
    out = tmp_path / "m.npz"
    runner = CliRunner()
    r = runner.invoke(cli, ["fit-contexts", "--data", str(data), "--decoder", str(model_path("learned-v3")),
                            "-o", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    assert "wrote" in r.output and "bits saved" in r.output
    m = load_learned_model(str(out))
    assert m.contexts is not None and m.meta["contexts"]["images"] == 2  # 1 of 3 files is validation
    r = runner.invoke(cli, ["fit-contexts", "--data", str(tmp_path / "none"), "--decoder", str(out), "-o", str(out)])
    assert r.exit_code != 0 and "not found" in r.output
    r = runner.invoke(cli, ["fit-contexts", "--data", str(data), "--decoder", str(tmp_path / "no.npz"), "-o", str(out)])
    assert r.exit_code != 0 and "not found" in r.output
    r = runner.invoke(cli, ["fit-contexts", "--data", str(data), "--decoder", str(out), "-o", str(tmp_path / "x" / "m.npz")])
    assert r.exit_code == 5 and "does not exist" in r.output
    r = runner.invoke(cli, ["fit-contexts", "--data", str(data), "--decoder", str(data / "0.png"), "-o", str(out)])
    assert r.exit_code == 4 and "cannot read model file" in r.output
    np.savez(tmp_path / "plain.npz", a=np.zeros(3))
    r = runner.invoke(cli, ["fit-contexts", "--data", str(data), "--decoder", str(tmp_path / "plain.npz"), "-o", str(out)])
    assert r.exit_code == 4 and "not a learned model file" in r.output


@pytest.mark.parametrize("h, w", [(4, 6), (5, 6), (4, 5), (1, 1), (3, 7), (2, 2)])
def test_checkerboard_passes_are_the_row_major_positions_of_each_colour(h, w):
    """Strided copies (even widths) and index arrays (odd) give the same passes."""
    from codec.modes.contexts import _checkerboard

    board = _checkerboard(h, w)
    a = np.arange(2 * h * w).reshape(2, h * w)
    first = ((np.arange(h)[:, None] + np.arange(w)[None]) % 2 == 0).ravel()
    for p, where in ((0, first), (1, ~first)):
        np.testing.assert_array_equal(board.take(a, p), a[:, where])
        out = np.zeros_like(a)
        board.put(out, p, a[:, where])
        np.testing.assert_array_equal(out[:, where], a[:, where])
        assert not out[:, ~where].any()


def test_activity_level_lookup_matches_the_thresholds():
    """The level table gives, for every ratio, the number of thresholds at or below it."""
    rng = np.random.default_rng(3)
    num = np.concatenate([rng.integers(0, 1 << 20, 5000), np.arange(4000)])
    den = np.concatenate([rng.integers(0, 1 << 12, 5000), np.full(4000, 240)])
    ratio = (num + contexts._BIAS) * 256 // (den + contexts._BIAS)
    expected = np.searchsorted(contexts._THRESHOLDS, ratio, side="right")
    assert expected.max() == contexts.LEVELS - 2 and expected.min() == 0
    assert np.array_equal(contexts._level(num, den), expected)


def test_best_tables_chooses_each_plane_s_best_table(model):
    """The one-histogram table choice is each plane's cheapest table, zero planes and none included."""
    rng = np.random.default_rng(5)
    planes = (rng.laplace(0, 1, (7, 16, 24)) * rng.uniform(0.05, 40, (7, 1, 1))).round().astype(np.int32)
    planes[2] = 0
    costs = linear.cost_matrix(model)  # bits of |q| = 0..64 under each table

    def cheapest(p):
        hist = np.bincount(np.minimum(np.abs(p).ravel(), 64), minlength=65)
        return 0 if hist[0] == p.size else 1 + int(np.argmin(costs @ hist))

    expected = [cheapest(p) for p in planes]
    assert [linear.best_table(p, model) for p in planes] == expected
    assert expected[2] == 0 and len(set(expected)) > 3
    assert linear.best_tables(planes, model).tolist() == expected
    assert linear.best_tables(planes[:0], model).shape == (0,)
