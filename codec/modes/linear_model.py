"""The fitted parts of the linear mode: cross-band KLTs and the integer entropy tables.

Everything here is produced once by ``fit_linear_model`` (``wavecodec fit-linear``),
saved as one ``.npz`` file (plain arrays, no pickle) and shipped in ``codec/data``. The
decoder then only reads integers and fixed arrays, so a stream decodes the same on
every machine.

Tables: a family of dead-zone Laplace models indexed by scale. Table ``t`` models
``q = sign(y) * floor(|y| / step + 0.5 - THETA)`` for ``y`` Laplace with mean ``|y| / step``
equal to ``SCALES[t]``; ``RECON_OFFSET[t]`` is where inside each bin the decoder
reconstructs (the bin's centroid under that Laplace), and ``CONTEXT_WEIGHT[t]`` is the
integer weight ``64 / E|q|`` used to normalise magnitudes when building contexts.
``flag_tables[t]`` is a binary model of "this BLOCK x BLOCK block holds a non-zero
value" for samples coded with table ``t``, so all-zero blocks cost one cheap symbol.
"""

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from codec.entropy import Table, quantize_pmf

__all__ = ["LinearModel", "load_linear_model", "fit_linear_model", "THETA", "N_TABLES", "BLOCK"]

THETA = 0.2            # dead-zone rounding offset of the quantiser (measured best of 0..0.35)
N_TABLES = 64          # scales 0.02 * 2**(t/4): quarter-octave steps from 0.02 to ~1100
PRECISION = 24         # table precision in bits (the range coder's own)
BLOCK = 4              # zero-block size, in coefficients
FLAG_PRECISION = 16
FLAG_DEPENDENCE = 0.45  # zeros cluster: a block is all-zero more often than p0**16 (measured 0.3..0.6 best)
SCALES = 0.02 * 2.0 ** (np.arange(N_TABLES) / 4.0)


@dataclass(frozen=True, eq=False)
class LinearModel:
    """A fitted linear-mode model for one wavelet and level count.

    ``klt[name]`` is the orthogonal matrix (bands x bands) whose columns are the KLT
    basis for channel group ``name`` ("rgb": 3 * 4**levels bands, "gray": 4**levels), in
    decreasing-variance order; ``mean[name]`` the band means it is fitted around.
    ``n_dc`` leading KLT channels are smooth enough to be split again by a dyadic
    wavelet; channels ``n_dc .. n_ctx`` are coded with a static table and serve as
    context for the rest.
    """

    name: str
    sha256: str
    wavelet: str
    levels: int
    klt: dict
    mean: dict
    n_dc: dict
    n_ctx: dict
    tables: tuple
    flag_tables: tuple
    recon_offset: np.ndarray
    context_weight: np.ndarray

    @property
    def analysis(self) -> dict:
        """Per group (matrix, bias): y = matrix @ bands - bias, gains folded into the KLT."""
        return self._folded()[0]

    @property
    def synthesis(self) -> dict:
        """Per group (matrix, bias): bands = matrix @ y + bias."""
        return self._folded()[1]

    def _folded(self):
        cached = self.__dict__.get("_folded_cache")
        if cached is None:
            from codec.wavelets import synthesis_gains

            gains = synthesis_gains(self.levels, self.wavelet).astype(np.float32)
            cached = ({}, {})
            for group, klt in self.klt.items():
                g = np.tile(gains, klt.shape[0] // len(gains))
                cached[0][group] = (np.ascontiguousarray(klt.T * g[None, :]), klt.T @ self.mean[group])
                cached[1][group] = (np.ascontiguousarray(klt / g[:, None]), self.mean[group] / g)
            object.__setattr__(self, "_folded_cache", cached)
        return cached

    @property
    def short_hash(self) -> bytes:
        """The 8 bytes written in file headers to pin the exact weights."""
        return bytes.fromhex(self.sha256[:16])


def _laplace_pmf(scale: float, max_symbol: int) -> np.ndarray:
    """Probabilities of q in -max..max (+ escape) for a Laplace of mean |y| = scale."""
    n = np.arange(max_symbol + 2, dtype=np.float64)
    edges = np.concatenate([[0.0], n[1:] - 0.5 + THETA])  # |y| bin edges in steps
    cdf = 1.0 - np.exp(-edges / scale)
    mass = np.diff(cdf)                  # P(|q| = 0), P(|q| = 1), ... P(|q| = max)
    tail = 1.0 - cdf[-1]                 # P(|q| > max)
    one_side = mass[1:] / 2
    return np.concatenate([one_side[::-1], mass[:1], one_side, [tail]])


def _centroid_offset(scale: float) -> float:
    """Distance from the bin's lower edge to a Laplace's centroid in the bin, minus 0.5."""
    return scale - 1.0 / np.expm1(1.0 / scale) - 0.5


def build_tables():
    """The table family, reconstruction offsets and context weights (float -> int once)."""
    tables, offsets, weights, flags = [], [], [], []
    for scale in SCALES:
        max_symbol = int(min(max(np.ceil(12 * scale) + 4, 8), 16383))
        pmf = _laplace_pmf(scale, max_symbol)
        freqs = quantize_pmf(pmf, PRECISION)
        tables.append(freqs.astype(np.uint32))
        offsets.append(_centroid_offset(scale))
        values = np.abs(np.arange(-max_symbol, max_symbol + 1))
        mean_abs = float((pmf[:-1] * values).sum())
        weights.append(min(4096, max(1, round(64.0 / max(mean_abs, 1e-6)))))
        p_zero_block = pmf[max_symbol] ** (BLOCK * BLOCK * FLAG_DEPENDENCE)
        flags.append(quantize_pmf(np.array([p_zero_block, 1.0 - p_zero_block]), FLAG_PRECISION))
    return tables, np.array(offsets, np.float32), np.array(weights, np.int64), np.array(flags, np.uint32)


def _band_stats(images, levels, wavelet, gains):
    """Second moments of gain-weighted packet bands over a list of (C, H, W) images."""
    from codec.wavelets import wpt2

    total, outer, count = 0, 0, 0
    for x in images:
        c = wpt2(x, levels, wavelet) * np.tile(gains, x.shape[0])[:, None, None]
        v = c.reshape(c.shape[0], -1).astype(np.float64)
        total = total + v.sum(1)
        outer = outer + v @ v.T
        count += v.shape[1]
    mean = total / count
    return mean, outer / count - np.outer(mean, mean)


def fit_linear_model(data_dir, out_path, *, levels=3, wavelet="bior4.4", n_images=200, seed=0):
    """Fit the RGB and gray KLTs on photographs under ``data_dir`` and save the model."""
    from PIL import Image

    from codec.wavelets import synthesis_gains

    files = sorted(p for p in Path(data_dir).rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    if not files:
        raise FileNotFoundError(f"no .png/.jpg images under {data_dir}")
    rng = np.random.default_rng(seed)
    files = [files[i] for i in sorted(rng.permutation(len(files))[:n_images])]
    block = 2**levels
    gains = synthesis_gains(levels, wavelet).astype(np.float32)

    def load(path, mode):
        im = np.asarray(Image.open(path).convert(mode), dtype=np.float32)
        im = im.reshape(im.shape[0], im.shape[1], -1)
        h, w = im.shape[0] // block * block, im.shape[1] // block * block
        return im[:h, :w].transpose(2, 0, 1) - 127.5

    arrays = {}
    for name, mode, n_dc, n_ctx in (("rgb", "RGB", 6, 32), ("gray", "L", 2, 12)):
        mean, cov = _band_stats((load(f, mode) for f in files), levels, wavelet, gains)
        eigval, eigvec = np.linalg.eigh(cov)
        order = np.argsort(eigval)[::-1]
        arrays[f"klt_{name}"] = eigvec[:, order].astype(np.float32)
        arrays[f"mean_{name}"] = mean.astype(np.float32)
        arrays[f"eigval_{name}"] = eigval[order].astype(np.float32)
        arrays[f"ndc_{name}"] = np.array(n_dc)
        arrays[f"nctx_{name}"] = np.array(n_ctx)
    tables, offsets, weights, flags = build_tables()
    arrays["flag_freqs"] = flags
    arrays["table_freqs"] = np.concatenate(tables)
    arrays["table_lengths"] = np.array([len(t) for t in tables], np.int64)
    arrays["recon_offset"] = offsets
    arrays["context_weight"] = weights
    arrays["levels"] = np.array(levels)
    arrays["wavelet"] = np.frombuffer(wavelet.encode("ascii"), np.uint8)
    arrays["fit_files"] = np.frombuffer("\n".join(str(f.relative_to(data_dir)) for f in files).encode(), np.uint8)
    out_path = Path(out_path)
    tmp = out_path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(out_path)
    return out_path


@lru_cache(maxsize=4)
def load_linear_model(path, expected_sha256=None) -> LinearModel:
    """Read a model file (no pickle), checking its sha256 when one is expected."""
    from codec.zoo import read_model_file

    digest, a = read_model_file(path, expected_sha256)
    bounds = np.concatenate([[0], np.cumsum(a["table_lengths"])])
    tables = []
    for i in range(len(bounds) - 1):
        freqs = a["table_freqs"][bounds[i]:bounds[i + 1]]
        half = (len(freqs) - 2) // 2
        tables.append(Table(freqs=freqs, offset=-half, escape=True, precision=PRECISION))
    names = ("rgb", "gray")
    return LinearModel(
        name=Path(path).stem,
        sha256=digest,
        wavelet=bytes(a["wavelet"]).decode("ascii"),
        levels=int(a["levels"]),
        klt={n: a[f"klt_{n}"] for n in names},
        mean={n: a[f"mean_{n}"] for n in names},
        n_dc={n: int(a[f"ndc_{n}"]) for n in names},
        n_ctx={n: int(a[f"nctx_{n}"]) for n in names},
        tables=tuple(tables),
        flag_tables=tuple(Table(freqs=f, offset=0, escape=False, precision=FLAG_PRECISION) for f in a["flag_freqs"]),
        recon_offset=a["recon_offset"],
        context_weight=a["context_weight"],
    )
