"""The audio context ceiling check finds a gain where local activity varies, and none in steady noise."""

import numpy as np

from benchmarks import audio_context_ceiling as contexts
from codec.modes.audio import quality_to_step
from codec.wavelets import wpt1
from codec.zoo import get_linear_model

N = contexts.FRAMES


def _saving(signal, quality=30):
    model, step = get_linear_model("linear-v1"), quality_to_step(quality)
    bands = contexts.bands_of([signal[i * N:(i + 1) * N] for i in range(4)])
    row = contexts.saving(bands[:3], bands[3:], step, model)
    assert len(row["shifts"]) == contexts.LEVELS + 1       # the first pass and each second-pass level
    return row["saving_pct"]


def test_bursts_shorter_than_a_segment_are_found_and_steady_noise_gives_nothing():
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 3000, 4 * N)
    bursts = noise * np.repeat(rng.random(4 * N // 1024) < 0.3, 1024)   # on/off every 1024 frames
    assert _saving(bursts.astype(np.float32)) > 3
    assert abs(_saving(noise.astype(np.float32))) < 0.5


def test_frequency_order_puts_a_rising_tone_in_rising_bands():
    t = np.arange(1 << 12)
    peaks = [int(np.argmax((wpt1(np.sin(2 * np.pi * (k + 0.5) / 32 * t)[None].astype(np.float32), 4) ** 2).sum(1)))
             for k in range(16)]
    ranks = np.argsort(contexts.frequency_order(16))[peaks]
    # The 9/7 filters' wide transition bands may put a tone in the next band down, never out of order.
    assert np.all(np.diff(ranks) >= 0) and len(set(ranks.tolist())) >= 15, ranks
