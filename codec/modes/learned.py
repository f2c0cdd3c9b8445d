"""Learned mode: the linear mode's bitstream, decoded through a learned network.

Encoding is the linear mode's (the file differs only in its mode and model fields); the
decoder entropy-decodes the dequantised KLT channels (``codec.modes.linear.decode_klt``),
runs the network over them in overlapping tiles (bounded memory, no seams: the tiles'
halo exceeds the network's reach), and applies the linear mode's inverse transform.
"""

import numpy as np

__all__ = ["synthesise"]

_TILE = 128                 # decoder tile, in latent positions (1024 pixels)
_HALO = 12                  # > the network's receptive radius (8 latent positions)


def synthesise(y_hat: np.ndarray, step: float, model) -> np.ndarray:
    """The network over (K, h, w) dequantised channels at ``step``: corrected channels."""
    import torch

    decoder = model.decoder()
    _, h, w = y_hat.shape
    out = np.empty_like(y_hat)
    steps = torch.tensor([step], dtype=torch.float32)
    with torch.inference_mode():
        for top in range(0, h, _TILE):
            for left in range(0, w, _TILE):
                t0, l0 = max(0, top - _HALO), max(0, left - _HALO)
                t1, l1 = min(h, top + _TILE + _HALO), min(w, left + _TILE + _HALO)
                tile = torch.from_numpy(np.ascontiguousarray(y_hat[:, t0:t1, l0:l1]))[None]
                res = decoder(tile, steps)[0].numpy()
                bottom, right = min(h, top + _TILE), min(w, left + _TILE)
                out[:, top:bottom, left:right] = res[:, top - t0:bottom - t0, left - l0:right - l0]
    return out
