"""The learned wavelet codec's network (after WaLLoC, with a rate term and a hyperprior).

Input: the linear mode's KLT channels ``y0`` (K = 192 for RGB, at 1/8 resolution), which
are the gain-weighted J=3 packets rotated by a fixed orthogonal matrix; squared errors
there equal squared pixel errors up to the small non-orthogonality of CDF 9/7, so the
training loss needs no inverse transform.

* encoder: one learned 1x1 projection ``K -> K``, initialised to the identity (so the
  packet -> latent map starts as the linear mode's KLT); linear, 2*K*K/64 MACs per pixel.
* gain units: per rate level l a learned per-channel gain vector; levels in between
  interpolate log-linearly, so one model covers the whole rate range.
* hyperprior: hyper-analysis (two stride-2 convolutions) -> z (1/32 resolution), coded
  with a factorised density; hyper-synthesis -> mean and log2 sigma per latent, at 1/16
  resolution, repeated 2x2. Run in fixed point when coding (``codec.models.fixed_point``).
* decoder: a 1x1 linear map (identity at first) plus a residual CNN at 1/8 resolution (3 residual blocks).
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

from codec.models.entropy_models import FactorizedDensity, gaussian_likelihood

__all__ = ["LearnedCodec", "Config"]


class Config:
    """Architecture constants (saved with the weights)."""

    latent = 192        # K: J=3 packets of 3 colour channels
    hyper = 32          # hyper-latent channels
    hyper_hidden = 96
    decoder_width = 96
    decoder_blocks = 3
    # Rate levels: lambda in loss = lambda * MSE(8-bit scale) + bpp, log-spaced.
    lambdas = (0.0015, 0.0045, 0.0135, 0.04, 0.12, 0.36)


def _conv(cin, cout, k=3, stride=1):
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2)


class HyperSynthesis(nn.Module):
    """(z, rate level) -> mean and log2 sigma of each latent, relative to the channel.

    Works on the 1/4 latent grid, upsamples to 1/2 and repeats 2x2. The outputs are in
    units of the channel's prior spread at the level (``LearnedCodec.entropy_parameters``
    applies that), so the network only learns corrections.
    """

    def __init__(self, hyper, hidden, latent):
        super().__init__()
        self.c1 = _conv(hyper + 1, hidden)
        self.c2 = _conv(hidden, 4 * hidden)
        self.c3 = nn.Conv2d(hidden, 2 * latent, 1)
        nn.init.zeros_(self.c3.weight)  # start as a factorised prior: mean 0, sigma = spread
        nn.init.zeros_(self.c3.bias)

    def forward(self, z, level):
        level_map = level.reshape(-1, 1, 1, 1).expand(-1, 1, *z.shape[2:])
        h = F.relu(self.c1(torch.cat([z, level_map], 1)))
        h = F.relu(F.pixel_shuffle(self.c2(h), 2))
        out = self.c3(h)
        out = out.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
        mean, log2_sigma = out.chunk(2, dim=1)
        return mean, log2_sigma


class ResBlock(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.a, self.b = _conv(width, width), _conv(width, width)

    def forward(self, x):
        return x + self.b(F.relu(self.a(x)))


class Decoder(nn.Module):
    """y_hat -> reconstructed KLT channels: a 1x1 linear map (identity at first) plus a
    learned residual."""

    def __init__(self, latent, width, blocks):
        super().__init__()
        self.linear = nn.Conv2d(latent, latent, 1, bias=False)
        with torch.no_grad():
            self.linear.weight.copy_(torch.eye(latent)[:, :, None, None])
        self.head = _conv(latent, width)
        self.blocks = nn.Sequential(*[ResBlock(width) for _ in range(blocks)])
        self.tail = _conv(width, latent)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    def forward(self, y_hat, scale):
        h = self.blocks(F.relu(self.head(y_hat / scale)))
        return self.linear(y_hat) + self.tail(F.relu(h)) * scale


class LearnedCodec(nn.Module):
    def __init__(self, channel_std: torch.Tensor, cfg: Config = Config()):
        super().__init__()
        k = cfg.latent
        self.cfg = cfg
        self.encoder = nn.Conv2d(k, k, 1, bias=False)
        with torch.no_grad():
            self.encoder.weight.copy_(torch.eye(k)[:, :, None, None])
        # Initial step per level from high-rate theory, halved (low rates zero most bands).
        steps = [0.5 * math.sqrt(18.0 / (lam * math.log(2.0))) for lam in cfg.lambdas]
        self.log2_gains = nn.Parameter(torch.tensor([[-math.log2(s)] * k for s in steps]))
        self.register_buffer("log_lambdas", torch.log(torch.tensor(cfg.lambdas)))
        self.register_buffer("scale", channel_std.reshape(1, k, 1, 1).float())
        self.hyper_analysis = nn.Sequential(
            _conv(k, cfg.hyper_hidden, stride=2), nn.ReLU(), _conv(cfg.hyper_hidden, cfg.hyper, stride=2))
        self.hyper_synthesis = HyperSynthesis(cfg.hyper, cfg.hyper_hidden, k)
        # Hyper-analysis inputs of order one at a mid rate.
        mid_gain = 2.0 ** (-sum(math.log2(s) for s in steps) / len(steps))
        self.register_buffer("hyper_input_scale", channel_std.reshape(1, k, 1, 1).float() * mid_gain)
        self.z_density = FactorizedDensity(cfg.hyper)
        self.decoder = Decoder(k, cfg.decoder_width, cfg.decoder_blocks)

    @property
    def n_levels(self) -> int:
        return len(self.cfg.lambdas)

    def interpolate(self, table: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        """Log-linear interpolation of rows of ``table`` at continuous ``level`` (B,)."""
        level = level.clamp(0, self.n_levels - 1)
        i = level.floor().long().clamp(max=self.n_levels - 2)
        f = (level - i).unsqueeze(-1) if table.dim() == 2 else level - i
        return table[i] * (1 - f) + table[i + 1] * f

    def gains(self, level: torch.Tensor) -> torch.Tensor:
        return torch.exp2(self.interpolate(self.log2_gains, level))  # (B, K)

    def log2_spread(self, level: torch.Tensor) -> torch.Tensor:
        """log2 of each channel's prior spread in quantiser steps: log2(std * gain), (B, K)."""
        return self.interpolate(self.log2_gains, level) + torch.log2(self.scale.reshape(1, -1))

    def entropy_parameters(self, z_hat: torch.Tensor, level: torch.Tensor):
        """(mean, log2 sigma) of the scaled latents."""
        mean, log2_sigma = self.hyper_synthesis(z_hat, level)
        spread = self.log2_spread(level)[:, :, None, None]
        return mean * torch.exp2(spread), log2_sigma + spread

    def lambdas(self, level: torch.Tensor) -> torch.Tensor:
        return torch.exp(self.interpolate(self.log_lambdas, level))

    def analyse(self, y0: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        """KLT channels -> scaled latents (quantised with unit steps)."""
        return self.encoder(y0) * self.gains(level)[:, :, None, None]

    def forward(self, y0: torch.Tensor, level: torch.Tensor):
        """Training pass: (reconstruction, bits of y, bits of z), per image."""
        y = self.analyse(y0, level)
        z = self.hyper_analysis(y / self.hyper_input_scale)
        z_noisy = z + torch.empty_like(z).uniform_(-0.5, 0.5)
        z_hat = z + (torch.round(z) - z).detach()
        bits_z = -torch.log2(self.z_density.likelihood(z_noisy)).sum((1, 2, 3))
        mean, log2_sigma = self.entropy_parameters(z_hat, level)
        residual = y - mean
        noisy = residual + torch.empty_like(residual).uniform_(-0.5, 0.5)
        bits_y = -torch.log2(gaussian_likelihood(noisy, torch.exp2(log2_sigma))).sum((1, 2, 3))
        y_hat = mean + residual + (torch.round(residual) - residual).detach()
        x_hat = self.decoder(y_hat / self.gains(level)[:, :, None, None], self.scale)
        return x_hat, bits_y, bits_z
