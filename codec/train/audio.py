"""Training of the learned audio mode's decoder: ``python -m codec.train.audio``.

Usage::

    python -m codec.train.audio --data ../shared/data/audio/train/music -o codec/data/audio-learned-v1.npz

Data: the ``.flac`` files of ``--data`` sorted by name. The last one is the audio
benchmark's and is never read; the one before it is the validation file; the rest are cut
into consecutive segments of 2**16 frames (first channel). Each segment is coded by the
linear audio mode's window coder at every quality in ``QUALITIES`` once, up front; training
draws random crops of (true bands, dequantised bands, step) and minimises the MSE of the
network's bands divided by the linear mode's on the same crop (squared error of the
gain-weighted bands is squared sample error up to CDF 9/7's small non-orthogonality).
Adam, fixed seeds, two threads; the learning rate drops fivefold for the last fifth. At
the end the validation file sets ``min_step``: at finer steps, where the network did not
help on validation, the encoder does not try it.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np

__all__ = ["QUALITIES", "SEGMENT_FRAMES", "split_files", "segments_of", "bands_of", "dequantised", "coded_pairs",
           "min_helpful_step", "train_audio", "main"]

QUALITIES = (10, 20, 30, 40, 50, 60, 70)
VALIDATION_QUALITIES = (20, 40, 60)
SEGMENT_FRAMES = 1 << 16


def split_files(data: Path) -> tuple[list[Path], Path]:
    """(training files, validation file): the last file by name is the benchmark's (unread)."""
    files = sorted(Path(data).glob("*.flac"))
    if len(files) < 3:
        raise SystemExit(f"need at least 3 .flac files in {data} (training, validation, benchmark's)")
    return files[:-2], files[-2]


def segments_of(path: Path, count: int | None = None) -> list[np.ndarray]:
    """2**16-frame segments of the first channel, on the 16-bit scale: consecutive, or
    ``count`` evenly spaced (overlapping where the file is short); none if it is shorter."""
    from codec.io.audio import read_audio
    from codec.modes.audio import _SCALES

    samples, _, _ = read_audio(str(path), path.name)
    x = samples[:, 0].astype(np.float32) * np.float32(_SCALES[samples.dtype.name])
    if len(x) < SEGMENT_FRAMES:
        return []
    if count is None:
        starts = range(0, len(x) - SEGMENT_FRAMES + 1, SEGMENT_FRAMES)
    else:
        starts = np.linspace(0, len(x) - SEGMENT_FRAMES, count).astype(int)
    return [x[s:s + SEGMENT_FRAMES] for s in starts]


def bands_of(segments) -> np.ndarray:
    """(S, 256, T) gain-weighted packet bands of the segments, as the linear audio mode codes
    one channel."""
    from codec.modes.audio import LEVELS, WAVELET
    from codec.wavelets import synthesis_gains, wpt1

    gains = synthesis_gains(LEVELS, WAVELET, ndim=1).astype(np.float32)[:, None]
    return np.stack([wpt1(x[None], LEVELS, WAVELET) * gains for x in segments]).astype(np.float32)


def dequantised(true: np.ndarray, step: float, model) -> np.ndarray:
    """What the linear audio decoder rebuilds from each of the bands ``true`` coded at ``step``."""
    from codec.modes.audio import SEGMENT, code_window

    return np.stack([code_window(y, step, SEGMENT, model)[1] for y in true])


def coded_pairs(segments, qualities, model) -> tuple[np.ndarray, dict]:
    """(true bands (S, 256, T), {quality: dequantised bands (S, 256, T)}) of the segments."""
    from codec.modes.audio import quality_to_step

    true = bands_of(segments)
    return true, {q: dequantised(true, quality_to_step(q), model) for q in qualities}


def validation_gains(net, true, coded) -> dict:
    """dB the network adds to the linear decode, per quality, over all validation segments."""
    import torch

    from codec.modes.audio import quality_to_step

    out = {}
    with torch.inference_mode():
        for q, y_hat in coded.items():
            steps = torch.full((len(y_hat),), quality_to_step(q), dtype=torch.float32)
            fixed = net(torch.from_numpy(y_hat), steps).numpy()
            plain, better = float(((true - y_hat) ** 2).sum()), float(((true - fixed) ** 2).sum())
            out[q] = round(float(10 * np.log10(plain / better)), 4) if better > 0 else 0.0
    return out


def min_helpful_step(gains: dict) -> float:
    """The smallest step from which the network helped at every coarser quality validated:
    the decoder leaves finer steps to the linear inverse (inf if it never helped)."""
    from codec.modes.audio import quality_to_step

    step = float("inf")
    for q in sorted(gains):
        if gains[q] <= 0:
            break
        step = float(np.float32(quality_to_step(q)))
    return step


def train_audio(data: Path, out: Path, steps: int = 12000, batch: int = 16, crop: int = 96, lr: float = 3e-4,
                seed: int = 0, segments_per_file: int | None = None, say=print) -> dict:
    """Train, validate, write the model file; returns its meta."""
    import torch
    from torch.nn import functional as F

    from codec.models.audio_decoder import AudioConfig, AudioDecoder
    from codec.models.export import export_audio_model
    from codec.modes.audio import quality_to_step
    from codec.zoo import get_linear_model

    torch.manual_seed(seed)
    torch.set_num_threads(2)
    rng = np.random.default_rng(seed)
    started = time.time()
    linear = get_linear_model("linear-v1")
    train_files, validation_file = split_files(data)
    segments = [s for f in train_files for s in segments_of(f, segments_per_file)]
    true, coded = coded_pairs(segments, QUALITIES, linear)
    v_true, v_coded = coded_pairs(segments_of(validation_file, 24), QUALITIES, linear)
    v_some = {q: v_coded[q] for q in VALIDATION_QUALITIES}
    say(f"{len(segments)} training segments from {len(train_files)} files, coded in {time.time() - started:.0f} s")
    scale = torch.from_numpy(np.sqrt(np.mean(true ** 2, axis=(0, 2)) + 1.0).astype(np.float32))
    net = AudioDecoder(scale, AudioConfig())
    opt = torch.optim.Adam(net.parameters(), lr)
    length = true.shape[2]
    log = []
    for i in range(1, steps + 1):
        idx = rng.integers(len(true), size=batch)
        qs = rng.integers(len(QUALITIES), size=batch)
        offs = rng.integers(length - crop + 1, size=batch)
        y = torch.from_numpy(np.stack([true[s, :, o:o + crop] for s, o in zip(idx, offs)]))
        y_hat = torch.from_numpy(np.stack([coded[QUALITIES[q]][s, :, o:o + crop] for s, q, o in zip(idx, qs, offs)]))
        step = torch.tensor([quality_to_step(QUALITIES[q]) for q in qs], dtype=torch.float32)
        loss = F.mse_loss(net(y_hat, step), y) / F.mse_loss(y_hat, y).clamp_min(1e-12)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i == int(steps * 0.8):
            for group in opt.param_groups:
                group["lr"] = lr / 5
        if i % 1000 == 0 or i == steps:
            gains = validation_gains(net.eval(), v_true, v_some)
            net.train()
            log.append({"step": i, "loss": round(loss.item(), 4), "validation_db": gains})
            say(f"step {i}: loss {loss.item():.4f}, validation dB {gains}, {time.time() - started:.0f} s")
    final = validation_gains(net.eval(), v_true, v_coded)
    net.cfg.min_step = min_helpful_step(final)
    say(f"validation dB at qualities {list(QUALITIES)}: {final}; network used for steps >= {net.cfg.min_step}")
    meta = {"data": str(data), "train_files": [f.name for f in train_files], "validation_file": validation_file.name,
            "segments": len(segments), "segment_frames": SEGMENT_FRAMES, "qualities": list(QUALITIES),
            "steps": steps, "batch": batch, "crop": crop, "lr": lr, "seed": seed, "threads": 2,
            "linear_sha256": linear.sha256, "seconds": round(time.time() - started),
            "validation_db": final, "log": log}
    export_audio_model(net, out, meta)
    say(f"wrote {out}")
    return meta


def main(argv=None):
    parser = argparse.ArgumentParser(description="Train the learned audio mode's decoder network.")
    parser.add_argument("--data", default="../shared/data/audio/train/music", help="folder of .flac music")
    parser.add_argument("-o", "--out", default="audio-learned.npz")
    parser.add_argument("--steps", type=int, default=12000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--segments-per-file", type=int, default=None,
                        help="this many per file, evenly spaced (default: all, consecutive)")
    args = parser.parse_args(argv)
    if not Path(args.data).is_dir():
        raise SystemExit(f"{args.data}: no such folder (the training music; see ../shared/data/README.md)")
    meta = train_audio(Path(args.data), Path(args.out), steps=args.steps, seed=args.seed,
                       segments_per_file=args.segments_per_file)
    print(json.dumps(meta["validation_db"]))


if __name__ == "__main__":
    main()
