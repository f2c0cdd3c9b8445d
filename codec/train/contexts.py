"""Fitting the learned mode's context tables (``codec.modes.contexts``) on photographs.

Counting, not gradient descent: every training image is coded at several steps, each
symbol's (cell, plane table, |q|) is counted, and each cell gets the table shift that
would have coded its symbols in the fewest bits with the real integer tables. Cells that
no training symbol reached keep shift 0. The features do not depend on the shifts, so one
pass over the data is the whole fit.
"""

import numpy as np

from codec.modes.contexts import N_CELLS, PARTS, ContextTables, _Batch, traverse
from codec.modes.linear import quantised_planes
from codec.modes.linear_model import N_TABLES, LinearModel

__all__ = ["ContextCounts", "fit_context_tables"]

_MAX_SYMBOL = 64                      # |q| >= 64 are counted together
_SHIFTS = np.arange(-16, 17)
QUALITIES = (15, 25, 35, 45, 55)      # about 0.1..1.5 bpp on photographs


def _symbol_bits(model: LinearModel) -> np.ndarray:
    """(table, |q|) -> bits of coding +|q| with that table. Like ``linear.cost_matrix``, but an
    escaped value is priced at its real Exp-Golomb length (that one approximates it; using it
    here would move 5 of the 15,606 fitted shifts, so the shipped tables keep this one)."""
    bits = np.zeros((N_TABLES, _MAX_SYMBOL + 1))
    for t, table in enumerate(model.tables):
        for v in range(_MAX_SYMBOL + 1):
            i = v - table.offset
            if i < len(table.freqs) - 1:
                bits[t, v] = table.precision - np.log2(table.freqs[i])
            else:
                bits[t, v] = table.precision - np.log2(table.freqs[-1]) + 2 * np.log2(v + 1) + 1
    return bits


class ContextCounts:
    """Symbol counts per (part, pass, cell, plane table, |q|), accumulated image by image."""

    def __init__(self, model: LinearModel):
        self.model = model
        self.counts = {(p, s): np.zeros(N_CELLS[s] * N_TABLES * (_MAX_SYMBOL + 1), np.int64)
                       for p in PARTS for s in (0, 1)}

    def add(self, y: np.ndarray, step: float, group: str = "rgb") -> None:
        """Count the symbols of one image's KLT channels ``y`` coded at ``step``."""
        dc, static, side = quantised_planes(y, step, self.model, group)

        def io(part, step_pass, cells, base, values, tables):
            key = (cells * N_TABLES + base[:, None]) * (_MAX_SYMBOL + 1) + np.minimum(np.abs(values), _MAX_SYMBOL)
            self.counts[part, step_pass] += np.bincount(key.ravel(), minlength=len(self.counts[part, step_pass]))
            return values

        traverse(_Batch(io, _zero_shifts(), self.model), self.model, group, y.shape, side, (dc, static, y, step))

    def fit(self) -> tuple[ContextTables, dict]:
        """The best shift per cell, and the bits saved on the counted symbols per part and pass."""
        bits = _symbol_bits(self.model)
        shifted = bits[np.clip(np.arange(N_TABLES)[:, None] + _SHIFTS[None], 0, N_TABLES - 1)]  # (t, s, v)
        shifts, saved = {}, {}
        for part in PARTS:
            pair = []
            for s in (0, 1):
                h = self.counts[part, s].reshape(N_CELLS[s], N_TABLES, _MAX_SYMBOL + 1).astype(np.float64)
                cost = np.einsum("ctv,tsv->cs", h, shifted) + 1e-6 * np.abs(_SHIFTS)[None]  # ties -> 0
                best = np.argmin(cost, axis=1)
                pair.append(_SHIFTS[best])
                before = cost[:, _SHIFTS == 0].sum()
                saved[f"{part}{s}"] = float(1 - cost[np.arange(len(best)), best].sum() / before) if before else 0.0
            shifts[part] = tuple(pair)
        return ContextTables(shifts), saved


def _zero_shifts() -> dict:
    return {p: tuple(np.zeros(n, np.int64) for n in N_CELLS) for p in PARTS}


def fit_context_tables(images, model: LinearModel, qualities=QUALITIES, progress=None):
    """Fit on an iterable of RGB images (3, H, W) centred on 0, sizes multiples of 64."""
    from codec.modes.linear import analyse, quality_to_step

    counts = ContextCounts(model)
    for i, x in enumerate(images):
        y = analyse(x, model, "rgb")
        for quality in qualities:
            counts.add(y, float(np.float32(quality_to_step(quality))))
        if progress:
            progress(i + 1)
    return counts.fit()


def fit_contexts_file(data_dir, decoder_path, out_path, n_images=None, progress=None):
    """``wavecodec fit-contexts``: fit on the training split of ``data_dir`` (never its
    validation files), and write the decoder file's arrays plus the tables to ``out_path``."""
    from codec.models.export import add_contexts, load_learned_model
    from codec.modes.linear import pad_multiple
    from codec.train.data import load_split, read_rgb
    from codec.wavelets import pad_to_multiple
    from codec.zoo import get_linear_model

    model = get_linear_model()
    decoder = load_learned_model(str(decoder_path))
    if decoder.meta.get("linear_sha256", model.sha256) != model.sha256:
        raise ValueError(f"{decoder_path} was trained for other linear-mode weights")
    files, _ = load_split(data_dir)
    if n_images is not None:
        files = files[:: max(1, len(files) // n_images)][:n_images]

    def images():
        for path in files:
            x = read_rgb(path).transpose(2, 0, 1).astype(np.float32) - np.float32(127.5)
            yield pad_to_multiple(np.ascontiguousarray(x), pad_multiple(model))

    contexts, saved = fit_context_tables(images(), model, progress=progress)
    meta = {"data": str(data_dir), "images": len(files), "qualities": list(QUALITIES),
            "bits_saved_on_training_symbols": {k: round(v, 4) for k, v in saved.items()}}
    return add_contexts(decoder, contexts, out_path, meta), saved
