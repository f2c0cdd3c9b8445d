"""The INR entropy model's context: what is known about a latent before it is decoded.

Latent grids are coded coarsest first; inside a grid, a checkerboard: first the
"anchors" ((i + j) even), then the rest. A latent's context is its parent's 3x3
neighbourhood in the next coarser grid, its position among the parent's four children,
and, for non-anchors, its four (anchor) neighbours; plus which pass and which grid.
So a whole pass is one vectorised step (no per-latent loop, unlike a raster-scan
model), and the decoder gathers exactly what the encoder did, from integers only.
"""

import torch
import torch.nn.functional as F

__all__ = ["anchor_mask", "context_size", "level_context"]


def context_size(levels: int) -> int:
    """Inputs per latent: 9 parent + 4 neighbours + pass flag + 2 parity + one-hot grid."""
    return 9 + 4 + 1 + 2 + levels


def anchor_mask(h: int, w: int, dtype=torch.float32, device=None) -> torch.Tensor:
    """1 where a latent is an anchor (coded in the first pass), else 0: shape (h, w)."""
    i = torch.arange(h, device=device).view(h, 1)
    j = torch.arange(w, device=device).view(1, w)
    return ((i + j) % 2 == 0).to(dtype)


def _shifts(x: torch.Tensor, offsets) -> torch.Tensor:
    """(len(offsets), h, w): x shifted by each (di, dj), zeros outside."""
    h, w = x.shape
    p = F.pad(x[None, None], (1, 1, 1, 1))[0, 0]
    return torch.stack([p[1 + di:1 + di + h, 1 + dj:1 + dj + w] for di, dj in offsets])


_NEIGHBOURHOOD = [(di, dj) for di in (-1, 0, 1) for dj in (-1, 0, 1)]
_CROSS = [(-1, 0), (1, 0), (0, -1), (0, 1)]


def level_context(y: torch.Tensor, parent: torch.Tensor | None, level: int, levels: int) -> torch.Tensor:
    """Context of every latent of grid ``y`` (h, w): (context_size, h, w).

    ``parent`` is the next coarser grid (h/2, w/2), or None for the coarsest. Anchors get
    zeros as neighbours, so their context depends on coarser grids only; ``y``'s
    non-anchor values never reach any context.
    """
    h, w = y.shape
    like = {"dtype": y.dtype, "device": y.device}
    if parent is None:
        up = torch.zeros(9, h, w, **like)
    else:
        up = _shifts(parent, _NEIGHBOURHOOD).repeat_interleave(2, 1).repeat_interleave(2, 2)[:, :h, :w]
    anchors = anchor_mask(h, w, **like)
    rest = 1 - anchors
    neighbours = _shifts(y * anchors, _CROSS) * rest
    i = torch.arange(h, **like).view(h, 1).expand(h, w) % 2
    j = torch.arange(w, **like).view(1, w).expand(h, w) % 2
    onehot = torch.zeros(levels, h, w, **like)
    onehot[level] = 1
    return torch.cat([up, neighbours, rest[None], i[None], j[None], onehot])
