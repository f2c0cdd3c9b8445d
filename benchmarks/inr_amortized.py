"""A trial: start each INR fit from an amortised guess instead of zero latents and random
networks (semi-amortised inference, as in Campos et al. 2019 and Yang et al. 2020).

An analysis network (per grid: the image area-averaged to that grid's size, then
conv3x3 -> ReLU -> conv3x3, scaled by a gain that depends on lambda) is trained across the
training photographs together with one shared synthesis and entropy model, minimising
D / lambda + R with uniform noise on the latents, lambda drawn per crop from qualities 5-95.
A fit then starts from the analysis' latents for its image and the shared networks
(``start_from``), and optimises as usual. Usage::

    python -m benchmarks.inr_amortized --data ../shared/data/images/train --steps 8000 --out FILE.pt

The two training crops the trials are measured on (``EXCLUDED``) are left out of training.
"""

import argparse
import math
import random
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from codec.inr.model import Architecture, INRModel
from codec.train.data import read_rgb

__all__ = ["Analysis", "start_from", "train"]

EXCLUDED = {"urban100_img_001.png", "sunhays80_img_003.png"}   # measured on by the trials
_QUALITIES = (5, 95)


def lambda_position(lam: float) -> float:
    """log10(lambda) mapped so that qualities 0..100 span -1..1."""
    return (math.log10(lam) + 3.0) / 1.5


class Analysis(nn.Module):
    """Image -> latent grids: per grid, a two-layer conv on the image averaged to its size."""

    def __init__(self, arch: Architecture, width: int = 24):
        super().__init__()
        self.arch = arch
        self.levels = nn.ModuleList([
            nn.Sequential(nn.Conv2d(3, width, 3, padding=1, padding_mode="replicate"), nn.ReLU(),
                          nn.Conv2d(width, 1, 3, padding=1, padding_mode="replicate"))
            for _ in range(arch.levels)])
        self.gain = nn.Parameter(torch.zeros(arch.levels, 2))

    def forward(self, x: torch.Tensor, t: float) -> list[torch.Tensor]:
        """(1, 3, H, W) samples in 0..1, sides a multiple of arch.multiple -> grids, finest first."""
        out = []
        for i, s in enumerate(range(self.arch.first, self.arch.first + self.arch.levels)):
            g = self.levels[i](F.avg_pool2d(x - 0.5, 2 ** s))[0, 0]
            out.append(g * torch.exp(self.gain[i, 0] + self.gain[i, 1] * t))
        return out


def _crop(images: list[np.ndarray], size: int) -> torch.Tensor:
    image = random.choice(images)
    h, w = image.shape[:2]
    i, j = random.randrange(h - size + 1), random.randrange(w - size + 1)
    return torch.from_numpy(np.ascontiguousarray(image[i:i + size, j:j + size])).permute(2, 0, 1).float()[None] / 255


def train(data: Path, steps: int, out: Path, batch: int = 4, crop: int = 256, lr: float = 4e-3, seed: int = 0,
          qualities: tuple[float, float] = _QUALITIES) -> None:
    """Adam, cosine-decayed to 5% of ``lr``; a log line every 50 steps; the analysis and the
    shared networks saved to ``out`` (a torch file)."""
    torch.manual_seed(seed)
    random.seed(seed)
    files = sorted(p for p in data.rglob("*") if p.suffix.lower() in (".png", ".jpg") and p.name not in EXCLUDED)
    if not files:
        raise SystemExit(f"{data}: no training images")
    images = [a for a in (read_rgb(f) for f in files) if min(a.shape[:2]) >= crop]
    if not images:
        raise SystemExit(f"{data}: no training image is at least {crop}x{crop}")
    arch = Architecture()
    model = INRModel(arch, (crop, crop))
    analysis = Analysis(arch)
    nets = list(model.synthesis.parameters()) + list(model.arm.parameters())
    opt = torch.optim.Adam([{"params": analysis.parameters(), "lr": lr}, {"params": nets, "lr": lr}])
    start = time.time()
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * step / steps)))
        opt.zero_grad()
        shown = []
        for _ in range(batch):
            x = _crop(images, crop)
            quality = random.uniform(*qualities)
            lam = 10 ** (-1.5 - 3 * quality / 100)
            noisy = [g + torch.rand_like(g) - 0.5 for g in analysis(x, lambda_position(lam))]
            mse = torch.mean((model.decode(noisy) - x[0]) ** 2)
            bpp = model.rate_bits(noisy) / crop ** 2
            ((mse / lam + bpp) / batch).backward()   # divided by lambda: each quality weighs alike
            shown.append(f"q{quality:.0f}:{10 * math.log10(1 / mse.item()):.2f}dB/{bpp.item():.3f}")
        opt.step()
        if step % 50 == 0:
            print(step, f"{time.time() - start:.0f}s", " ".join(shown), flush=True)
    networks = {k: v for k, v in model.state_dict().items() if not k.startswith("grids")}
    partial = out.with_name(out.name + ".part")   # a killed run leaves no half-written start
    torch.save({"analysis": analysis.state_dict(), "networks": networks}, partial)
    partial.replace(out)


def start_from(checkpoint: Path):
    """A replacement for ``codec.inr.fit._start``: the analysis' latents for this image (its
    edges replicated to the padded size) and the shared networks."""
    saved = torch.load(checkpoint)
    analysis = Analysis(Architecture())   # the architecture train() uses; loaded once, not per fit
    analysis.load_state_dict(saved["analysis"])

    def start(model: INRModel, target: torch.Tensor, lam: float) -> None:
        analysis.to(target.device)
        model.load_state_dict(saved["networks"], strict=False)
        h, w = target.shape[2:]
        ph, pw = model.arch.padded_size(h, w)
        x = F.pad(target, (0, pw - w, 0, ph - h), mode="replicate")
        with torch.no_grad():
            for grid, guess in zip(model.grids, analysis(x, lambda_position(lam))):
                grid.copy_(guess)

    return start


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=8000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--qualities", type=float, nargs=2, default=_QUALITIES, metavar=("LOW", "HIGH"),
                        help="each crop's quality is drawn uniformly from this range")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    train(args.data, args.steps, args.out, seed=args.seed, qualities=tuple(args.qualities))


if __name__ == "__main__":
    main()
