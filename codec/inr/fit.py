"""Encoding an image as an INR: optimise D + lambda * R for this one image.

Schedule (after Cool-chic): Adam with cosine-decayed learning rates; for the first 95%
of the steps the latents see additive uniform noise (a differentiable stand-in for
rounding), for the last 5% they are rounded with a straight-through gradient. That phase
is unstable (the rate's gradient, taken at the rounded value, is zero for a latent at its
law's centre, so latents drift across rounding boundaries and the rate climbs), so the fit
keeps the parameters of its straight-through step (or final update) with the lowest
D + lambda R, not simply the last ones. Then the networks are quantised, each to the step
that minimises D + lambda * R with the weights' own bits included: the entropy model to
2**-b (b in 8..14; it changes R only), the synthesis to 2**-q (q in 4..11).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from codec.inr.coding import ARM_PRECISIONS, MAX_LATENT, IntegerARM, grid_bits, grid_contexts, tensor_bits
from codec.inr.model import Architecture, INRModel

__all__ = ["EFFORTS", "Fitted", "fit"]

EFFORTS = {"fast": 750, "medium": 2500, "slow": 5500}
"""Fitting steps per effort (a Kodak image: about 0.14 s a step on this 2-core CPU)."""

_SOFT_FRACTION = 0.95
_GRID_LR = 0.2   # 0.1 until 2026-11-25 (README "The latents' learning rate")
_NET_LR = 0.02
_SYNTH_BITS = range(4, 12)


@dataclass
class Fitted:
    """A fitted INR in integer form, ready for ``codec.modes.inr`` to write."""

    arch: Architecture
    grids: list[np.ndarray]          # int64, finest first
    arm: IntegerARM
    synthesis: list[np.ndarray]      # int64 weights in units of 2**-synth_bits
    synth_bits: int
    steps: int


def _lr(step: int, total: int) -> float:
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / total))


def _soft_latents(grids, progress: float) -> list[torch.Tensor]:
    """The latents as the soft phase sees them: plus uniform noise, a differentiable stand-in
    for rounding. ``progress`` (0..1 through that phase) is for schedules that anneal; trials
    of other relaxations (``benchmarks.inr_trials``) replace this function."""
    return [g + torch.rand_like(g) - 0.5 for g in grids]


def _start(model: INRModel, target: torch.Tensor, lam: float) -> None:
    """Set the starting point: zero latents, random networks emitting the image's mean colour.
    Trials of other starting points (``benchmarks.inr_trials``) replace this function."""
    with torch.no_grad():
        model.synthesis.mlp[1].bias.copy_(target.mean((0, 2, 3)).repeat_interleave(4))


def fit(x: np.ndarray, lam: float, arch: Architecture, effort: str = "fast", seconds: float | None = None,
        seed: int = 0, progress=None, device: str | None = None, steps: int | None = None) -> Fitted:
    """Fit (channels, H, W) samples in 0..1; returns integer weights (grids cover the padded size).

    ``progress(step, total, bpp, psnr)`` is called every few steps. ``seconds`` replaces
    the effort's step count by as many steps as fit in that time (measured on the first
    steps), so such an encoding is reproducible only on the same machine and load.
    """
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(seed)
    target = torch.from_numpy(np.ascontiguousarray(x, np.float32))[None].to(device)
    _, height, width = x.shape
    pixels = height * width
    model = INRModel(arch, arch.padded_size(height, width)).to(device)
    _start(model, target, lam)
    nets = list(model.synthesis.parameters()) + list(model.arm.parameters())
    opt = torch.optim.Adam([{"params": list(model.grids), "lr": _GRID_LR}, {"params": nets, "lr": _NET_LR}])
    total = steps or EFFORTS[effort]
    start = time.perf_counter()

    def objective(grids):  # (MSE, bits per pixel)
        mse = torch.mean((model.decode(grids)[..., :height, :width] - target) ** 2)
        return mse, model.rate_bits(grids) / pixels

    step = 0
    best = None   # (D + lambda R with rounded latents, parameters) of the best straight-through step
    while step < total:
        frac = _lr(step, total)
        for group, base in zip(opt.param_groups, (_GRID_LR, _NET_LR)):
            group["lr"] = base * frac
        soft = step < _SOFT_FRACTION * total
        if soft:
            grids = _soft_latents(model.grids, step / (_SOFT_FRACTION * total))
        else:
            grids = [g + (torch.round(g) - g).detach() for g in model.grids]
        mse, bpp = objective(grids)
        loss = mse + lam * bpp
        if not soft:
            value = loss.item()
            if best is None or value < best[0]:
                best = (value, [p.detach().clone() for p in model.parameters()])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if step == 5 and seconds is not None and not steps:  # fix the step count from the measured pace
            total = max(10, int(seconds * 5 / max(time.perf_counter() - start, 1e-6)))
        if progress and (step % 20 == 0 or step == total):
            progress(step, total, bpp.item(), 10 * math.log10(1 / max(mse.item(), 1e-12)))
    if best is not None:
        with torch.no_grad():
            mse, bpp = objective([torch.round(g) for g in model.grids])
            if float(mse + lam * bpp) > best[0]:  # the last update did not beat the best step
                for p, kept in zip(model.parameters(), best[1]):
                    p.copy_(kept)
    return _quantise(model.cpu(), target.cpu(), lam, step)


def _rate(grids: list[np.ndarray], contexts: list[np.ndarray], arm: IntegerARM) -> float:
    """Bits of the grids under ``arm`` plus those of its own weights."""
    return grid_bits(grids, arm, contexts) + sum(tensor_bits(w) + tensor_bits(b) for w, b in arm.layers)


def _quantise(model: INRModel, target: torch.Tensor, lam: float, steps: int) -> Fitted:
    """Round the latents; pick the entropy model's and the synthesis' steps by D + lambda R."""
    h, w = target.shape[2:]
    pixels = h * w
    with torch.no_grad():
        grids = [torch.round(g).clamp(-MAX_LATENT, MAX_LATENT) for g in model.grids]
        latents = [g.numpy().astype(np.int64) for g in grids]
        contexts = grid_contexts(latents)
        arms = [IntegerARM.from_float(model.arm, bits) for bits in ARM_PRECISIONS]
        arm = min(arms, key=lambda a: _rate(latents, contexts, a))
        floats = [p.detach().clone() for p in model.synthesis.parameters()]
        best = None
        for bits in _SYNTH_BITS:
            weights = [torch.round(p * 2.0**bits) for p in floats]
            for p, q in zip(model.synthesis.parameters(), weights):
                p.copy_(q / 2.0**bits)
            mse = float(torch.mean((model.decode(grids)[..., :h, :w].clamp(0, 1) - target) ** 2))
            weights = [q.numpy().astype(np.int64) for q in weights]
            cost = mse + lam * sum(tensor_bits(q) for q in weights) / pixels
            if best is None or cost < best[0]:
                best = (cost, bits, weights)
    _, bits, synthesis = best
    return Fitted(model.arch, latents, arm, synthesis, bits, steps)
