"""The learned mode's decoder network: a residual CNN on the dequantised KLT channels.

The encoder and entropy model are the linear mode's (wavelet packets J=3, a 192x192 KLT
fitted on photographs, dead-zone quantiser, context-adaptive integer tables): measured
here, a hyperprior trained on this machine's budget coded the same latents in more bits
than those tables (README, "Learned mode"). What learning buys within that budget is the
decoder: from the dequantised channels (K = 192 at 1/8 resolution) and log2 of the
quantiser step, it predicts the quantisation error and adds the correction, so one
network serves every rate. Squared error on the KLT channels equals squared pixel error
up to CDF 9/7's small non-orthogonality, so training needs no inverse transform.
"""

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["Config", "LearnedDecoder", "cost"]


class Config:
    """Architecture constants (saved with the weights)."""

    latent = 192        # K: J=3 packets of 3 colour channels
    width = 96
    blocks = 3


def _conv(cin, cout):
    return nn.Conv2d(cin, cout, 3, padding=1)


class ResBlock(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.a, self.b = _conv(width, width), _conv(width, width)

    def forward(self, x):
        return x + self.b(F.relu(self.a(x)))


class LearnedDecoder(nn.Module):
    """(dequantised channels, step) -> corrected channels: identity plus a learned residual.

    Inputs are divided by each channel's standard deviation ``scale`` (from the KLT's
    eigenvalues) and the step enters as one constant input plane, log2(step) / 8.
    The last layer starts at zero, so training starts from the linear mode's output.
    """

    def __init__(self, scale: torch.Tensor, cfg: Config | None = None):
        super().__init__()
        cfg = cfg or Config()
        k = cfg.latent
        self.cfg = cfg
        self.register_buffer("scale", scale.reshape(1, k, 1, 1).float())
        self.head = _conv(k + 1, cfg.width)
        self.blocks = nn.Sequential(*[ResBlock(cfg.width) for _ in range(cfg.blocks)])
        self.tail = _conv(cfg.width, k)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    def forward(self, y_hat: torch.Tensor, step: torch.Tensor) -> torch.Tensor:
        plane = (torch.log2(step) / 8).reshape(-1, 1, 1, 1).expand(-1, 1, *y_hat.shape[2:])
        h = F.relu(self.head(torch.cat([y_hat / self.scale, plane], 1)))
        return y_hat + self.tail(F.relu(self.blocks(h))) * self.scale


def cost(model: LearnedDecoder) -> dict:
    """Multiply-adds per input pixel and parameters, from the layer shapes.

    A 3x3 conv on the 1/8-resolution grid costs out * in * 9 / 64 MACs per pixel.
    """
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    return {"macs_per_pixel": sum(m.weight.numel() for m in convs) / 64,
            "parameters": sum(p.numel() for p in model.parameters())}


def step_range() -> tuple[float, float]:
    """Quantiser steps the decoder is trained on: the linear mode's quality 10 .. 75."""
    from codec.modes.linear import quality_to_step

    return quality_to_step(75), quality_to_step(10)
