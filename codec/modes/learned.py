"""Learned mode for RGB: KLT channels -> learned latents -> hyperprior range coding.

Encode: linear-mode analysis (WPT J=3 + fixed KLT) -> learned 1x1 projection times the
gain vector of the rate level -> hyper-analysis -> z rounded, coded with per-channel
tables -> integer hyper-synthesis gives each latent a mean and a table -> symbols
round(y - mean) coded with those tables. Decode: the same integer path, then the torch
decoder (tiled, with overlap) and the linear mode's inverse transform.

The rate level is an integer in 1/256 units of the model's gain-unit index (0 .. 256*(L-1)),
stored in the header's step field (exact in float32); quality 1..100 maps linearly onto it.
"""

import numpy as np

from codec.entropy import Decoder, Encoder
from codec.errors import FormatError

__all__ = ["quality_to_level", "level_to_quality", "LearnedEncoder", "decode_latents", "synthesise",
           "PAD_MULTIPLE"]

PAD_MULTIPLE = 32           # 2**3 (WPT) * 4 (hyper-latent grid)
_TILE = 128                 # decoder tile, in latent positions (1024 pixels)
_HALO = 12                  # > the decoder's receptive radius (8 latent positions)


def quality_to_level(quality: float, n_levels: int) -> int:
    """Quality 1..100 -> rate level in 1/256 units (0 .. 256 * (n_levels - 1))."""
    return int(round((quality - 1) / 99 * (n_levels - 1) * 256))


def level_to_quality(level: int, n_levels: int) -> int:
    return int(np.clip(round(level / 256 / (n_levels - 1) * 99 + 1), 1, 100))


class LearnedEncoder:
    """Holds the image's KLT channels so several rate levels can be tried (for --bpp)."""

    def __init__(self, y0: np.ndarray, model):
        import torch

        self.model = model
        k, h, w = y0.shape
        self.shape = (h, w)
        self.y = (model.arrays["encoder"] @ y0.reshape(k, -1)).reshape(k, h, w)
        self._torch = torch

    def latents(self, level: int):
        """(scaled latents y, integer z) at this level."""
        torch = self._torch
        y = self.y * self.model.gains(level)[:, None, None]
        with torch.inference_mode():
            t = torch.from_numpy(y / self.model.arrays["hyper_input_scale"][0])[None]
            z = torch.round(self.model.torch_part("hyper_analysis")(t))[0].numpy().astype(np.int64)
        return y, z

    def encode(self, level: int) -> bytes:
        from codec.models.fixed_point import FRAC_A

        y, z = self.latents(level)
        enc = Encoder()
        for c, table in enumerate(self.model.z_tables()):
            enc.encode(z[c], table)
        mean, index = self.model.hyper_synthesis()(z, level)
        symbols = np.rint(y - mean.astype(np.float32) / np.float32(2**FRAC_A)).astype(np.int64)
        _encode_by_table(enc, symbols.ravel(), index.ravel(), self.model.y_tables())
        return enc.finish()


def _encode_by_table(enc, values, tables, family):
    order = np.argsort(tables, kind="stable")
    counts = np.bincount(tables, minlength=len(family))
    sorted_values = values[order]
    start = 0
    for t in np.flatnonzero(counts):
        enc.encode(sorted_values[start:start + counts[t]], family[t])
        start += counts[t]


def _decode_by_table(dec, tables, family):
    counts = np.bincount(tables, minlength=len(family))
    values = np.empty(tables.size, np.int64)
    parts = [dec.decode(int(counts[t]), family[t]) for t in np.flatnonzero(counts)]
    if parts:
        values[np.argsort(tables, kind="stable")] = np.concatenate(parts)
    return values


def decode_latents(data: bytes, latent_hw, model, level: int) -> np.ndarray:
    """Entropy-decode the dequantised latents (K, h, w), in the unscaled latent domain."""
    from codec.models.fixed_point import FRAC_A

    h, w = latent_hw
    if h % 4 or w % 4:
        raise FormatError("learned-mode latent grid must be a multiple of 4")
    dec = Decoder(data)
    z = np.stack([dec.decode((h // 4) * (w // 4), t).reshape(h // 4, w // 4) for t in model.z_tables()])
    mean, index = model.hyper_synthesis()(z, level)
    symbols = _decode_by_table(dec, index.ravel(), model.y_tables()).reshape(mean.shape)
    dec.finish()
    y_hat = symbols.astype(np.float32) + mean.astype(np.float32) / np.float32(2**FRAC_A)
    y_hat /= model.gains(level)[:, None, None]
    return y_hat


def synthesise(y_hat: np.ndarray, model) -> np.ndarray:
    """Decoder network over (K, h, w) latents, in overlapping tiles: KLT channels out."""
    import torch

    decoder = model.torch_part("decoder")
    scale = torch.from_numpy(model.arrays["scale"])
    k, h, w = y_hat.shape
    out = np.empty_like(y_hat)
    with torch.inference_mode():
        for top in range(0, h, _TILE):
            for left in range(0, w, _TILE):
                t0, l0 = max(0, top - _HALO), max(0, left - _HALO)
                t1, l1 = min(h, top + _TILE + _HALO), min(w, left + _TILE + _HALO)
                tile = torch.from_numpy(np.ascontiguousarray(y_hat[:, t0:t1, l0:l1]))[None]
                res = decoder(tile, scale)[0].numpy()
                bottom, right = min(h, top + _TILE), min(w, left + _TILE)
                out[:, top:bottom, left:right] = res[:, top - t0:bottom - t0, left - l0:right - l0]
    return out
