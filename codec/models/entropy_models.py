"""A learned entropy bottleneck: the factorised density of Ballé et al. 2018, written here
because compressai cannot be imported without torchvision, which the CPU install story
leaves out.

Training uses its continuous likelihood of noisy values; coding uses integer tables built
from it once (``FactorizedDensity.tables``), so the bitstream never depends on floating
point.
"""

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from codec.entropy.tables import quantize_pmf

__all__ = ["FactorizedDensity", "LIKELIHOOD_FLOOR", "TABLE_PRECISION"]

LIKELIHOOD_FLOOR = 1e-9
TABLE_PRECISION = 20


class FactorizedDensity(nn.Module):
    """Per-channel non-parametric density (Ballé 2018, appendix 6.1), filters 3-3-3.

    ``cdf(x)`` is a monotone function of x built from softplus-positive matrices and
    tanh-bounded gates; the likelihood of a unit bin is ``cdf(x+.5) - cdf(x-.5)``.
    """

    def __init__(self, channels: int, filters=(3, 3, 3), init_scale: float = 10.0):
        super().__init__()
        dims = (1, *filters, 1)
        scale = init_scale ** (1.0 / (len(dims) - 1))
        self.matrices, self.biases, self.factors = nn.ParameterList(), nn.ParameterList(), nn.ParameterList()
        for i in range(len(dims) - 1):
            init = math.log(math.expm1(1.0 / scale / dims[i + 1]))
            self.matrices.append(nn.Parameter(torch.full((channels, dims[i + 1], dims[i]), init)))
            self.biases.append(nn.Parameter(torch.rand(channels, dims[i + 1], 1) - 0.5))
            if i < len(dims) - 2:
                self.factors.append(nn.Parameter(torch.zeros(channels, dims[i + 1], 1)))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """x: (C, N) -> cumulative logits (C, N)."""
        h = x.unsqueeze(1)
        for i, (m, b) in enumerate(zip(self.matrices, self.biases)):
            h = torch.matmul(F.softplus(m), h) + b
            if i < len(self.factors):
                h = h + torch.tanh(self.factors[i]) * torch.tanh(h)
        return h.squeeze(1)

    def likelihood(self, z: torch.Tensor) -> torch.Tensor:
        """Likelihood of each value of z (B, C, H, W) within a unit bin."""
        c = z.shape[1]
        flat = z.transpose(0, 1).reshape(c, -1)
        lower, upper = self.logits(flat - 0.5), self.logits(flat + 0.5)
        sign = -torch.sign(lower + upper).detach()  # evaluate in the tail that keeps precision
        p = torch.abs(torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower))
        return p.clamp_min(LIKELIHOOD_FLOOR).reshape(c, z.shape[0], *z.shape[2:]).transpose(0, 1)

    @torch.no_grad()
    def tables(self, radius: int) -> tuple[np.ndarray, np.ndarray]:
        """Integer tables per channel around its rounded median: (freqs (C, 2r+2), offsets (C,)).

        The last column is the escape symbol, carrying the mass beyond the range.
        """
        c = self.matrices[0].shape[0]
        grid = torch.linspace(-200.0, 200.0, 40001)
        cdf = torch.sigmoid(self.logits(grid.expand(c, -1)))
        medians = grid[(cdf < 0.5).sum(1).clamp(max=len(grid) - 1)].round()
        values = torch.arange(-radius, radius + 1, dtype=torch.float32)[None] + medians[:, None]
        lo = torch.sigmoid(self.logits(values - 0.5)).double()
        hi = torch.sigmoid(self.logits(values + 0.5)).double()
        pmf = (hi - lo).clamp_min(0).numpy()
        freqs, offsets = [], []
        for ch in range(c):
            tail = max(0.0, 1.0 - float(pmf[ch].sum()))
            freqs.append(quantize_pmf(np.append(pmf[ch], tail), TABLE_PRECISION))
            offsets.append(int(medians[ch]) - radius)
        return np.stack(freqs), np.array(offsets, np.int64)
