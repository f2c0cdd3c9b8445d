"""The learned audio mode's decoder network: a 1-D residual CNN on the dequantised bands.

The encoder and entropy model are the linear audio mode's (channel KLT, 8-level wavelet
packets, dead-zone quantiser, adaptive tables): measured here, neither a least-squares
decoder nor fitted contexts find redundancy left in that stream (README, "Audio"), so what
the network adds is small. It reads one channel's 256 dequantised bands over time (1/256
of the sample rate) with log2 of the quantiser step, and adds a correction in units of
the step, so corrections shrink with the step and one network serves every rate. Dilated
convolutions reach 18 positions (about 4 600 samples) each way.
"""

import torch
from torch import nn
from torch.nn import functional as F

from codec.modes.learned_audio import NETWORK

__all__ = ["AudioConfig", "AudioDecoder", "audio_cost"]


class AudioConfig:
    """Architecture constants (saved with the weights)."""

    network = NETWORK
    bands = 256         # 2**LEVELS packet bands of one channel
    width = 96
    dilations = (1, 2, 4, 8, 1)
    min_step = 0.0      # finer steps are left to the linear inverse (set by training's validation)


class Residual(nn.Module):
    def __init__(self, width: int, dilation: int):
        super().__init__()
        self.a = nn.Conv1d(width, width, 3, padding=dilation, dilation=dilation)
        self.b = nn.Conv1d(width, width, 1)

    def forward(self, x):
        return x + self.b(F.relu(self.a(x)))


class AudioDecoder(nn.Module):
    """(dequantised bands (N, bands, T), step (N,)) -> corrected bands.

    Inputs are divided by each band's RMS on the training music (``scale``); the last layer
    starts at zero, so training starts from the linear mode's output.
    """

    def __init__(self, scale: torch.Tensor, cfg: AudioConfig | None = None):
        super().__init__()
        cfg = cfg or AudioConfig()
        self.cfg = cfg
        self.register_buffer("scale", scale.reshape(1, cfg.bands, 1).float())
        self.head = nn.Conv1d(cfg.bands + 1, cfg.width, 3, padding=1)
        self.blocks = nn.Sequential(*[Residual(cfg.width, d) for d in cfg.dilations])
        self.tail = nn.Conv1d(cfg.width, cfg.bands, 3, padding=1)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    def forward(self, y_hat: torch.Tensor, step: torch.Tensor) -> torch.Tensor:
        step = step.reshape(-1, 1, 1)
        plane = (torch.log2(step) / 8).expand(-1, 1, y_hat.shape[2])
        h = F.relu(self.head(torch.cat([y_hat / self.scale, plane], 1)))
        return y_hat + self.tail(F.relu(self.blocks(h))) * step


def audio_cost(model: AudioDecoder) -> dict:
    """Multiply-adds per audio sample (per channel) and parameters, from the layer shapes:
    the network runs once per ``bands`` samples."""
    convs = [m for m in model.modules() if isinstance(m, nn.Conv1d)]
    return {"macs_per_sample": sum(m.weight.numel() for m in convs) / model.cfg.bands,
            "parameters": sum(p.numel() for p in model.parameters())}

