"""Changes to the INR fit that are tried without changing the codec: ``benchmarks.inr_efforts``
patches ``codec.inr.fit`` with them for one run, so a trial is a rerunnable command, not a
fork of the encoder. None of them is the codec's behaviour (README, "Starting points and
widths", says why).

- ``networks``: the synthesis and entropy model start from these weights (a state dict, e.g.
  another image's fit, from ``networks_of``) instead of random ones;
- ``first_layer_scale``: the synthesis MLP's first layer starts at this multiple of its
  weights (below 1: one latent step moves the output less, a finer latent step);
- ``grid_lr``: the latents' learning rate instead of the fit's;
- ``soft_round``: the soft phase sees soft-rounded latents plus Gaussian noise, soft-rounded
  again (C3's relaxation, Kim et al. 2023, as Cool-chic's "c3x" preset schedules it:
  temperature 0.3 -> 0.1, noise deviation 0.25 -> 0.1 through the phase) instead of the
  latents plus uniform noise; rate and distortion both see those values;
- ``soft_fraction``: the share of the steps that see noisy latents (the rest are rounded with
  a straight-through gradient) instead of the fit's 0.95;
- ``start``: replaces the fit's starting point (``codec.inr.fit._start``), e.g. the amortised
  guess of ``benchmarks.inr_amortized``; ``net_lr``: the networks' learning rate.
"""

import math
from contextlib import contextmanager

import torch

import codec.inr.fit as fit_module

__all__ = ["networks_of", "patched_fit", "soft_round", "soft_round_latents", "variant_label"]


def variant_label(seed: int = 0, hidden: int | None = None, first_layer_scale: float | None = None,
                  grid_lr: float | None = None, networks_from: str | None = None,
                  soft_round: bool = False, start_from: str | None = None,
                  net_lr: float | None = None, soft_fraction: float | None = None) -> str | None:
    """What a run changed from the codec's own fit, for its records; None when nothing."""
    parts = [f"seed {seed}" if seed else "", f"width {hidden}" if hidden else "",
             f"networks from {networks_from}" if networks_from else "",
             f"first layer x{first_layer_scale:g}" if first_layer_scale is not None else "",
             f"grid lr {grid_lr:g}" if grid_lr is not None else "",
             "soft round" if soft_round else "", f"start from {start_from}" if start_from else "",
             f"net lr {net_lr:g}" if net_lr is not None else "",
             f"soft fraction {soft_fraction:g}" if soft_fraction is not None else ""]
    return ", ".join(p for p in parts if p) or None


def soft_round(y: torch.Tensor, temperature: float) -> torch.Tensor:
    """Agustsson & Theis' soft rounding: the identity as the temperature grows, rounding at 0."""
    floor = torch.floor(y)
    return floor + 0.5 + 0.5 * torch.tanh((y - floor - 0.5) / temperature) / math.tanh(0.5 / temperature)


def soft_round_latents(grids, progress: float) -> list[torch.Tensor]:
    """C3's relaxation, annealed through the soft phase (``progress`` 0..1)."""
    temperature = 0.3 - 0.2 * progress
    deviation = 0.25 - 0.15 * progress
    return [soft_round(soft_round(g, temperature) + deviation * torch.randn_like(g), temperature) for g in grids]


@contextmanager
def patched_fit(networks: dict | None = None, first_layer_scale: float | None = None, grid_lr: float | None = None,
                soft_round: bool = False, start=None, net_lr: float | None = None,
                soft_fraction: float | None = None):
    """``codec.inr.fit`` with the trial's starting point, learning rates and relaxation, restored after."""
    base_model, base_lr, base_soft = fit_module.INRModel, fit_module._GRID_LR, fit_module._soft_latents
    base_start, base_net_lr, base_fraction = fit_module._start, fit_module._NET_LR, fit_module._SOFT_FRACTION

    class TrialModel(base_model):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            with torch.no_grad():
                if networks is not None:
                    self.load_state_dict(networks, strict=False)
                if first_layer_scale is not None:
                    self.synthesis.mlp[0].weight.mul_(first_layer_scale)

    fit_module.INRModel = TrialModel
    fit_module._GRID_LR = base_lr if grid_lr is None else grid_lr
    fit_module._soft_latents = soft_round_latents if soft_round else base_soft
    fit_module._start = start or base_start
    fit_module._NET_LR = base_net_lr if net_lr is None else net_lr
    fit_module._SOFT_FRACTION = base_fraction if soft_fraction is None else soft_fraction
    try:
        yield
    finally:
        fit_module.INRModel, fit_module._GRID_LR, fit_module._soft_latents = base_model, base_lr, base_soft
        fit_module._start, fit_module._NET_LR, fit_module._SOFT_FRACTION = base_start, base_net_lr, base_fraction


@contextmanager
def networks_of(kept: dict):
    """Inside, each fit leaves its float networks (before quantisation) in ``kept["networks"]``."""
    base_quantise = fit_module._quantise

    def keep(model, *args):
        kept["networks"] = {k: v.detach().clone() for k, v in model.state_dict().items() if not k.startswith("grids")}
        return base_quantise(model, *args)

    fit_module._quantise = keep
    try:
        yield
    finally:
        fit_module._quantise = base_quantise
