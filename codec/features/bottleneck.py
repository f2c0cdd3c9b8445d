"""A learned bottleneck for the features at one split point, trained by distillation.

After "Supervised Compression for Resource-Constrained Edge Computing Systems" (Entropic
Student, Matsubara et al. 2022): a small encoder on the device turns the split features into
a few latent channels, an entropy bottleneck (``codec.models.entropy_models.FactorizedDensity``,
our compressai-style module) models them, and a decoder on the server rebuilds the features
for the unchanged rest of the network::

    features (N, C, H, W) --(x - mean) / std--> conv3x3 (stride s) - ReLU - conv3x3 --> y (N, K, h, w)
    y --round--> integers --one integer table per latent channel--> range coder
    integers --conv3x3 - ReLU - [resize to H x W] - conv3x3 - ReLU - conv3x3--> features

Training minimises  w * feature MSE (normalised) + alpha * KL(tail(features) || tail(decoded))
+ beta * rate  (bits per feature value), the KL term only when the network's tail is given.
Uniform noise stands in for rounding while training. The integer tables are built once after
training and saved with the weights, so coding never depends on floating point.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from codec.entropy import Decoder, Encoder, Table
from codec.errors import InputError
from codec.models.entropy_models import TABLE_PRECISION, FactorizedDensity

__all__ = ["Bottleneck", "BottleneckConfig", "load_bottleneck", "train_bottleneck"]

_RADIUS = 64


@dataclass(frozen=True)
class BottleneckConfig:
    in_channels: int
    latent_channels: int = 8
    hidden: int = 64
    stride: int = 1

    def __post_init__(self):
        for name in ("in_channels", "latent_channels", "hidden"):
            if not 1 <= getattr(self, name) <= 4096:
                raise InputError(f"{name} must be in 1..4096, got {getattr(self, name)}")
        if self.stride not in (1, 2):
            raise InputError(f"stride must be 1 or 2, got {self.stride}")


class _Net(nn.Module):
    def __init__(self, cfg: BottleneckConfig):
        super().__init__()
        c, k, h = cfg.in_channels, cfg.latent_channels, cfg.hidden
        self.cfg = cfg
        self.register_buffer("mean", torch.zeros(c))
        self.register_buffer("std", torch.ones(c))
        self.enc1 = nn.Conv2d(c, h, 3, stride=cfg.stride, padding=1)
        self.enc2 = nn.Conv2d(h, k, 3, padding=1)
        self.dec1 = nn.Conv2d(k, h, 3, padding=1)
        self.dec2 = nn.Conv2d(h, h, 3, padding=1)
        self.dec3 = nn.Conv2d(h, c, 3, padding=1)
        self.density = FactorizedDensity(k)

    def encode(self, x):
        x = (x - self.mean[:, None, None]) / self.std[:, None, None]
        return self.enc2(F.relu(self.enc1(x)))

    def decode(self, y, size):
        h = F.relu(self.dec1(y))
        if h.shape[-2:] != size:
            h = F.interpolate(h, size=size, mode="nearest")
        z = self.dec3(F.relu(self.dec2(h)))
        return z * self.std[:, None, None] + self.mean[:, None, None]


def _as_nchw(shape, cfg: BottleneckConfig) -> None:
    if len(shape) != 4 or shape[1] != cfg.in_channels:
        raise InputError(f"the bottleneck takes (N, {cfg.in_channels}, H, W) features, got shape {tuple(shape)}")


class Bottleneck:
    """A trained bottleneck with its integer tables; ``short_hash`` names its file."""

    def __init__(self, net: _Net, freqs: np.ndarray, offsets: np.ndarray, raw: bytes):
        self.net = net.eval()
        self.cfg = net.cfg
        self.tables = [Table(f.astype(np.uint32), int(o), escape=True, precision=TABLE_PRECISION)
                       for f, o in zip(freqs, offsets)]
        self.short_hash = hashlib.sha256(raw).digest()[:8]
        self.raw = raw

    def latent_shape(self, shape) -> tuple:
        s = self.cfg.stride
        return (shape[0], self.cfg.latent_channels, (shape[2] - 1) // s + 1, (shape[3] - 1) // s + 1)

    @torch.no_grad()
    def latents(self, x: np.ndarray) -> np.ndarray:
        _as_nchw(x.shape, self.cfg)
        y = self.net.encode(torch.from_numpy(np.ascontiguousarray(x, np.float32)))
        return torch.round(y).clamp(-(2**30), 2**30).to(torch.int64).numpy()

    @torch.no_grad()
    def reconstruct(self, q: np.ndarray, size) -> np.ndarray:
        return self.net.decode(torch.from_numpy(q.astype(np.float32)), tuple(size)).numpy()

    def compress(self, enc: Encoder, x: np.ndarray) -> None:
        q = self.latents(x)
        for k, table in enumerate(self.tables):
            enc.encode(q[:, k].ravel(), table)

    def decompress(self, dec: Decoder, shape) -> np.ndarray:
        from codec.errors import FormatError

        try:
            _as_nchw(shape, self.cfg)
        except InputError as exc:
            raise FormatError(str(exc)) from None
        n, k, h, w = self.latent_shape(shape)
        q = np.empty((n, k, h, w), np.int64)
        for c, table in enumerate(self.tables):
            q[:, c] = dec.decode(n * h * w, table).reshape(n, h, w)
        return self.reconstruct(q, shape[2:])

    def save(self) -> bytes:
        return self.raw


@torch.no_grad()
def _pack(net: _Net) -> bytes:
    freqs, offsets = net.density.tables(_RADIUS)
    buf = io.BytesIO()
    torch.save({"config": asdict(net.cfg), "state": net.state_dict(),
                "freqs": torch.from_numpy(freqs.astype(np.int64)),
                "offsets": torch.from_numpy(offsets.astype(np.int64))}, buf)
    return buf.getvalue()


def load_bottleneck(raw: bytes, what: str = "model") -> Bottleneck:
    try:
        obj = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
        cfg = BottleneckConfig(**obj["config"])
        net = _Net(cfg)
        net.load_state_dict(obj["state"])
        freqs, offsets = obj["freqs"].numpy(), obj["offsets"].numpy()
        if freqs.shape != (cfg.latent_channels, 2 * _RADIUS + 2):
            raise ValueError("tables do not match the config")
        return Bottleneck(net, freqs, offsets, bytes(raw))
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure to parse untrusted bytes is a refusal
        raise InputError(f"{what}: not a WaveCodec feature bottleneck ({type(exc).__name__}: {str(exc)[:200]})") from None


def train_bottleneck(features: np.ndarray, cfg: BottleneckConfig, beta: float, steps: int = 2000,
                     batch: int = 64, lr: float = 1e-3, seed: int = 0, tail=None, alpha: float = 1.0,
                     feature_weight: float = 1.0, log=None) -> Bottleneck:
    """Train on features (N, C, H, W); ``tail`` (frozen torch module: features -> logits) adds
    the distillation term. Returns the bottleneck with its tables built."""
    _as_nchw(features.shape, cfg)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    x_all = torch.from_numpy(np.ascontiguousarray(features, np.float32))
    net = _Net(cfg)
    net.mean.copy_(x_all.mean(dim=(0, 2, 3)))
    net.std.copy_(x_all.std(dim=(0, 2, 3)).clamp_min(1e-6))
    if tail is not None:
        tail.eval()
        for prm in tail.parameters():
            prm.requires_grad_(False)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    values = x_all[0].numel()
    std = net.std[:, None, None]
    for step in range(steps):
        x = x_all[torch.from_numpy(rng.integers(0, len(x_all), batch))]
        y = net.encode(x)
        y_noisy = y + torch.empty_like(y).uniform_(-0.5, 0.5)
        x_hat = net.decode(y_noisy, x.shape[-2:])
        bits = -torch.log2(net.density.likelihood(y_noisy)).sum() / (batch * values)
        loss = feature_weight * F.mse_loss(x_hat / std, x / std) + beta * bits
        if tail is not None:
            with torch.no_grad():
                teacher = F.log_softmax(tail(x), dim=1)
            student = F.log_softmax(tail(x_hat), dim=1)
            loss = loss + alpha * F.kl_div(student, teacher, log_target=True, reduction="batchmean")
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if log and (step % 500 == 0 or step == steps - 1):
            log(f"step {step}: loss {loss.item():.4f}, {bits.item():.3f} bits per value")
    net.eval()
    raw = _pack(net)
    return load_bottleneck(raw)
