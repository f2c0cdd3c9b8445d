"""The INR image model: latent grids, their upsampling, a small synthesis network, and
the autoregressive Laplace model that gives the latents' rate (after Cool-chic and C3).

    grids (1 channel each, full/2**s for s = first .. first + levels - 1)
      --bicubic upsampling to half size (a full-size grid: its 2x2 blocks as 4 channels;
        a half-size one: its 3x3 neighbourhood as 9)-->
      --per-position MLP (ReLU)--> 2x2 blocks of samples --2 residual 3x3 convs--> image

The MLP runs at half resolution and emits 2x2 blocks: on this CPU a per-pixel MLP at full
resolution made each fitting step about three times slower.

Only the decoder's side lives here; fitting one image is ``codec.inr.fit``, the integer
form used for coding is ``codec.inr.coding``.
"""

import functools
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from codec.inr.context import context_size, level_context

__all__ = ["LOG_SCALE_MAX", "LOG_SCALE_MIN", "MEAN_STEPS", "Architecture", "INRModel", "laplace_bits",
           "synthesis_inputs"]

LOG_SCALE_MIN = -819 / 256   # smallest Laplace scale exp(-3.2): the table family's first
LOG_SCALE_MAX = LOG_SCALE_MIN + 63 / 8   # largest (about 107): 64 scales, 1/8 apart in log
MEAN_STEPS = 4   # latents' means are coded in quarters


@functools.lru_cache(maxsize=64)
def _bicubic_matrix(n: int, factor: int, device: torch.device) -> torch.Tensor:
    """(n * factor, n): bicubic upsampling of a length-n signal (F.interpolate's weights, edges
    replicated) as a matrix, so that upsampling a grid is two matrix products: their backward
    pass was about 7 times faster than F.interpolate's on this CPU. Cached per device, so a GPU
    fit does not copy it at every step."""
    eye = torch.eye(n)[:, None, :, None]
    matrix = F.interpolate(eye, scale_factor=(factor, 1), mode="bicubic", align_corners=False)[:, 0, :, 0].T
    return matrix.contiguous().to(device)


@dataclass(frozen=True)
class Architecture:
    """Everything that fixes the shapes of an INR; written to the file's header."""

    levels: int = 6          # number of latent grids
    first: int = 1           # the finest grid is full/2**first
    hidden: int = 48         # synthesis MLP width
    arm_hidden: int = 16     # entropy-model MLP width
    channels: int = 3

    @property
    def multiple(self) -> int:
        """Image sides are padded to a multiple of this (the coarsest grid's factor)."""
        return 2 ** (self.first + self.levels - 1)

    def padded_size(self, height: int, width: int) -> tuple[int, int]:
        """The size the grids cover: each side rounded up to a multiple of ``multiple``."""
        m = self.multiple
        return -(-height // m) * m, -(-width // m) * m

    def grid_shapes(self, padded: tuple[int, int]) -> list[tuple[int, int]]:
        return [(padded[0] >> s, padded[1] >> s) for s in range(self.first, self.first + self.levels)]


def synthesis_inputs(arch: Architecture) -> int:
    """Planes the MLP reads: one per grid, a full-size one as 4, a half-size one as 9 (its 3x3 neighbourhood)."""
    scales = range(arch.first, arch.first + arch.levels)
    return arch.levels + 3 * (0 in scales) + 8 * (1 in scales)


class Synthesis(nn.Module):
    """Half-size planes to samples: an MLP emitting 2x2 blocks, then two residual 3x3 convs."""

    def __init__(self, arch: Architecture):
        super().__init__()
        inputs = synthesis_inputs(arch)
        self.mlp = nn.ModuleList([nn.Linear(inputs, arch.hidden), nn.Linear(arch.hidden, 4 * arch.channels)])
        self.refine = nn.ModuleList([nn.Conv2d(arch.channels, arch.channels, 3) for _ in range(2)])
        for conv in self.refine:  # start as the identity
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """(inputs, H/2, W/2) planes -> (1, channels, H, W)."""
        _, h, w = z.shape
        x = self.mlp[1](torch.relu(self.mlp[0](z.flatten(1).T)))
        x = F.pixel_shuffle(x.T.reshape(1, -1, h, w), 2)
        x = x + torch.relu(self.refine[0](_edge_pad(x)))
        return x + self.refine[1](_edge_pad(x))


def _edge_pad(x: torch.Tensor) -> torch.Tensor:
    """Pad by one edge-replicated sample, channels-last: the same values as F.pad(replicate),
    but its backward pass (and the conv's) was about 5 times faster on this CPU."""
    x = torch.cat([x[..., :1, :], x, x[..., -1:, :]], 2)
    return torch.cat([x[..., :1], x, x[..., -1:]], 3).contiguous(memory_format=torch.channels_last)


class ARM(nn.Module):
    """Context -> (mean, log scale) of each latent's Laplace law."""

    def __init__(self, arch: Architecture):
        super().__init__()
        n = context_size(arch.levels)
        self.layers = nn.ModuleList([nn.Linear(n, arch.arm_hidden), nn.Linear(arch.arm_hidden, arch.arm_hidden),
                                     nn.Linear(arch.arm_hidden, 2)])
        nn.init.zeros_(self.layers[-1].weight)
        nn.init.zeros_(self.layers[-1].bias)

    def forward(self, ctx: torch.Tensor) -> torch.Tensor:
        x = ctx
        for layer in self.layers[:-1]:
            x = torch.relu(layer(x))
        return self.layers[-1](x)


def laplace_bits(y: torch.Tensor, mu: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """Bits of integer(-like) ``y`` under a Laplace(mu, exp(log_scale)) quantised to integers."""
    b = torch.exp(log_scale.clamp(LOG_SCALE_MIN, LOG_SCALE_MAX))
    d = (y - mu).abs()
    # The mass of [d - 1/2, d + 1/2] under a zero-mean Laplace, for d >= 1/2 and d < 1/2.
    far = 0.5 * torch.exp(-(d - 0.5).clamp_min(0) / b) * -torch.expm1(-1 / b)
    near = 1 - 0.5 * torch.exp(-(0.5 - d).clamp_min(0) / b) - 0.5 * torch.exp(-(d + 0.5) / b)
    p = torch.where(d < 0.5, near, far)
    return -torch.log2(p.clamp_min(2.0 ** -16))


class INRModel(nn.Module):
    """Latent grids + synthesis + entropy model for one image of ``padded`` size."""

    def __init__(self, arch: Architecture, padded: tuple[int, int]):
        super().__init__()
        self.arch = arch
        self.grids = nn.ParameterList([nn.Parameter(torch.zeros(h, w)) for h, w in arch.grid_shapes(padded)])
        self.synthesis = Synthesis(arch)
        self.arm = ARM(arch)

    def upsample(self, grids: list[torch.Tensor]) -> torch.Tensor:
        """(inputs, H/2, W/2): the grids at half size; a full-size one as 4 planes, a half-size
        one as its 3x3 neighbourhood (9 planes), coarser ones interpolated."""
        planes = []
        for s, g in zip(range(self.arch.first, self.arch.first + self.arch.levels), grids):
            if s == 0:
                planes.append(F.pixel_unshuffle(g[None, None], 2)[0])
            elif s == 1:  # the finest grid with its 3x3 neighbourhood: blocks can interpolate
                p = F.pad(g[None, None], (1, 1, 1, 1), mode="replicate")[0, 0]
                h, w = g.shape
                planes.append(torch.stack([p[i:i + h, j:j + w] for i in range(3) for j in range(3)]))
            else:
                rows, cols = (_bicubic_matrix(n, 2 ** (s - 1), g.device) for n in g.shape)
                planes.append((rows @ g @ cols.T)[None])
        return torch.cat(planes)

    def decode(self, grids: list[torch.Tensor]) -> torch.Tensor:
        return self.synthesis(self.upsample(grids))

    def rate_bits(self, grids: list[torch.Tensor]) -> torch.Tensor:
        """Total bits of the (quantised or noisy) grids under the entropy model."""
        total = grids[0].new_zeros(())
        levels = self.arch.levels
        for level in range(levels):
            parent = grids[level + 1] if level + 1 < levels else None
            ctx = level_context(grids[level], parent, level, levels)
            out = self.arm(ctx.flatten(1).T)
            mu = out[:, 0] + (torch.round(out[:, 0] * MEAN_STEPS) / MEAN_STEPS - out[:, 0]).detach()
            total = total + laplace_bits(grids[level].flatten(), mu, out[:, 1]).sum()
        return total
