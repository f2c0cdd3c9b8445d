"""Learned audio mode: the linear audio mode's bitstream, decoded through a learned network.

The coded values are the linear audio mode's. The network (``codec.models.audio_decoder``)
runs on each window's dequantised bands, one channel at a time with shared weights (after
the channel KLT, so a network trained on mono music serves stereo and multichannel files),
then the linear inverse. It was trained on music and hurts some speech and effects, so the
encoder tries it on each window and writes one byte, 1 if it lowers that window's squared
error in the band domain (so the network only runs where it helps). At steps finer
than the model's ``min_step`` (where it did not help on the validation music) the encoder
does not try it.
"""

import numpy as np

__all__ = ["NETWORK", "corrector", "network"]

NETWORK = "audio-bands-1d"   # the architecture's name in model files (codec.models.audio_decoder)


def _conv(x: np.ndarray, weights: dict, name: str, dilation: int = 1) -> np.ndarray:
    """Conv1d with 'same' zero padding on (C, T) as one matrix product per tap."""
    w, b = weights[name + ".weight"], weights[name + ".bias"]
    taps = w.shape[2]
    pad = dilation * (taps // 2)
    t = x.shape[1]
    xp = np.pad(x, ((0, 0), (pad, pad))) if pad else x
    out = b[:, None] + w[:, :, 0] @ xp[:, :t]
    for k in range(1, taps):
        out += w[:, :, k] @ xp[:, k * dilation:k * dilation + t]
    return out


def network(weights: dict, dilations, y_hat: np.ndarray, step: float) -> np.ndarray:
    """``AudioDecoder.forward`` for one channel's bands (bands, T), in numpy float32.

    Coding needs no torch (its import alone would cost about 0.2 GB): the torch module is
    for training, this is what files decode with (tested equal to it within float rounding).
    """
    scale = weights["scale"].reshape(-1, 1)
    plane = np.full((1, y_hat.shape[1]), np.log2(np.float32(step)) / 8, np.float32)
    h = np.maximum(_conv(np.concatenate([y_hat / scale, plane]), weights, "head"), 0)
    for i, d in enumerate(dilations):
        h += _conv(np.maximum(_conv(h, weights, f"blocks.{i}.a", d), 0), weights, f"blocks.{i}.b")
    return y_hat + _conv(np.maximum(h, 0), weights, "tail") * np.float32(step)


def corrector(model, channels: int):
    """The ``correct`` callable of ``codec.modes.audio.decode_audio`` for ``model``."""
    from codec.errors import FormatError

    dilations = tuple(model.config.get("dilations", ()))
    bands = model.config.get("bands")
    names = ["scale", "head.weight", "head.bias", "tail.weight", "tail.bias"] + [
        f"blocks.{i}.{part}.{kind}" for i in range(len(dilations)) for part in "ab" for kind in ("weight", "bias")]
    if not dilations or bands is None or any(n not in model.arrays for n in names):
        raise FormatError(f"model file {model.name} is not a complete audio decoder")
    weights = {n: model.arrays[n].astype(np.float32, copy=False) for n in names}
    if weights["scale"].size != bands or weights["tail.weight"].shape[0] != bands:
        raise FormatError(f"model file {model.name}: its layers do not fit {bands} bands")

    def correct(y: np.ndarray, step: float) -> np.ndarray:
        if y.shape[0] != channels * bands:
            raise ValueError(f"expected {channels * bands} bands, got {y.shape[0]}")
        out = np.empty_like(y, dtype=np.float32)
        for c in range(channels):
            rows = slice(c * bands, (c + 1) * bands)
            out[rows] = network(weights, dilations, np.asarray(y[rows], np.float32), step)
        return out

    correct.min_step = float(model.config.get("min_step", 0.0))  # the encoder does not try it at finer steps
    return correct
