"""``wavecodec train``: training of the learned mode's decoder.

Each crop is coded by the real linear-mode encoder at a step drawn log-uniformly over the
range the codec uses, entropy decoded, and the decoder learns to map the dequantised KLT
channels back to the originals (MSE, which equals pixel MSE here), so one network serves
every rate. The bitstream, hence the rate, is the linear mode's. AdamW, linear warm-up
then cosine decay, fixed seeds, checkpoint + resume, a JSONL log (step, loss, PSNR of the
linear reconstruction and of the network's) and validation on held-out training images.
"""

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

__all__ = ["Preset", "PRESETS", "train"]


@dataclass(frozen=True)
class Preset:
    steps: int
    batch: int
    crop: int
    lr: float
    warmup: int = 200
    validate_every: int = 250
    checkpoint_every: int = 250
    data_workers: int = 0          # processes coding crops with the linear mode; 0 = in the loop


PRESETS = {
    # About 20-40 min on a 2-core CPU (0.4-0.8 s/step at batch 8, measured; 1851 s for learned-v1).
    "cpu": Preset(steps=3000, batch=8, crop=256, lr=3e-4),
    # One GPU machine (16 cores): 6.7x the crops of the cpu preset; the crops' linear-mode
    # coding (about 35 ms each on one core there) runs in 15 worker processes, which is the
    # bottleneck. Measured on one H100: 8.5 steps/s, 5000 steps in about 10 minutes.
    "cuda": Preset(steps=5000, batch=32, crop=256, lr=3e-4, validate_every=1000, checkpoint_every=250,
                   data_workers=15),
    # Seconds; for tests and smoke runs.
    "tiny": Preset(steps=4, batch=2, crop=64, lr=3e-4, warmup=1, validate_every=2, checkpoint_every=2),
}


def _lr(step: int, p: Preset) -> float:
    if step < p.warmup:
        return p.lr * (step + 1) / p.warmup
    t = (step - p.warmup) / max(1, p.steps - p.warmup)
    return p.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


def _psnr(mse: torch.Tensor) -> float:
    return (10 * torch.log10(255**2 / mse)).mean().item()


def _mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image MSE per RGB sample (the KLT channels hold 3 * 64 samples per position)."""
    return (a - b).pow(2).mean((1, 2, 3))


VALIDATION_QUALITIES = (20, 40, 60)


@torch.no_grad()
def validate(model, val: dict, device) -> list[dict]:
    """PSNR of the linear reconstruction and of the network's, per validation step."""
    model.eval()
    out = []
    for q, (y0, y_hat, step) in val.items():
        mse_in, mse_out = [], []
        for i in range(0, len(y0), 8):
            a, b = y0[i:i + 8].to(device), y_hat[i:i + 8].to(device)
            mse_in.append(_mse(a, b)), mse_out.append(_mse(a, model(b, torch.full((len(a),), step, device=device))))
        out.append({"quality": q, "step": round(step, 3), "psnr_linear": round(_psnr(torch.cat(mse_in)), 3),
                    "psnr_learned": round(_psnr(torch.cat(mse_out)), 3)})
    model.train()
    return out


def _pick_device(requested: str | None) -> torch.device:
    if requested:
        return torch.device(requested)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def train(data_dir, out_dir, preset: str | None = None, steps: int | None = None, seed: int = 0,
          device: str | None = None, progress: bool = True) -> Path:
    """Train (or resume, if ``out_dir`` holds a checkpoint) and export the model file."""
    from tqdm import tqdm

    from codec.models.export import channel_std, export_model
    from codec.models.learned import LearnedDecoder, step_range
    from codec.modes.linear import quality_to_step
    from codec.train.data import ImageSet, load_split
    from codec.zoo import get_linear_model

    dev = _pick_device(device)
    name = preset or ("cuda" if dev.type == "cuda" else "cpu")
    p = PRESETS[name]
    if steps is not None:
        p = Preset(**{**asdict(p), "steps": steps})
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    linear = get_linear_model("linear-v1")
    train_files, val_files = load_split(data_dir)
    train_set = ImageSet(train_files, p.crop, linear)
    val_set = ImageSet(val_files, p.crop, linear)
    val = {q: (*val_set.centre_crops(quality_to_step(q)), quality_to_step(q)) for q in VALIDATION_QUALITIES}
    model = LearnedDecoder(torch.from_numpy(channel_std(linear))).to(dev)
    lo, hi = step_range()
    opt = torch.optim.AdamW(model.parameters(), lr=p.lr, weight_decay=1e-4)
    ckpt_path, log_path = out_dir / "checkpoint.pt", out_dir / "log.jsonl"
    start, elapsed = 0, 0.0
    if ckpt_path.exists():
        ckpt = torch.load(ckpt_path, map_location=dev, weights_only=True)
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        start, elapsed = int(ckpt["step"]), float(ckpt["elapsed"])
        rng.bit_generator.state = json.loads(ckpt["numpy_rng"])
        torch.set_rng_state(ckpt["torch_rng"].cpu())  # map_location moved it
    meta = {"preset": name, "settings": asdict(p), "seed": seed, "device": str(dev), "data": str(data_dir),
            "linear_model": linear.name, "linear_sha256": linear.sha256,
            "train_images": len(train_set.images), "validation_images": len(val_set.images)}
    pool = train_set.pool(p.data_workers) if p.data_workers else None
    with open(log_path, "a") as log:
        log.write(json.dumps({"event": "start", "step": start, **meta}) + "\n")
        bar = tqdm(range(start, p.steps), initial=start, total=p.steps, disable=not progress, unit="step")
        t0 = time.perf_counter()
        for step in bar:
            for group in opt.param_groups:
                group["lr"] = _lr(step, p)
            steps = np.exp(rng.uniform(np.log(lo), np.log(hi), p.batch))
            y0, y_hat = (t.to(dev) for t in train_set.batch(rng, steps, pool))
            mse = _mse(y0, model(y_hat, torch.from_numpy(steps).float().to(dev)))
            # Each image's MSE relative to its step**2, so every rate weighs the same.
            loss = (mse / torch.from_numpy(steps**2).float().to(dev)).mean() * 12
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            psnr, psnr_in = _psnr(mse.detach()), _psnr(_mse(y0, y_hat))
            bar.set_postfix(loss=f"{loss.item():.4f}", gain=f"{psnr - psnr_in:+.3f} dB")
            record = {"step": step + 1, "loss": round(loss.item(), 6), "psnr_linear": round(psnr_in, 3),
                      "psnr": round(psnr, 3), "lr": _lr(step, p)}
            done = step + 1
            if done % p.validate_every == 0 or done == p.steps:
                record["validation"] = validate(model, val, dev)
            log.write(json.dumps(record) + "\n")
            if done % p.checkpoint_every == 0 or done == p.steps:
                now = elapsed + time.perf_counter() - t0
                tmp = ckpt_path.with_suffix(".tmp")
                torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": done,
                            "elapsed": now, "numpy_rng": json.dumps(rng.bit_generator.state),
                            "torch_rng": torch.get_rng_state()}, tmp)
                tmp.replace(ckpt_path)
                log.flush()
        total = elapsed + time.perf_counter() - t0
        if pool:
            pool.close()
        log.write(json.dumps({"event": "end", "step": p.steps, "wall_seconds": round(total, 1), **meta}) + "\n")
    model = model.cpu().eval()
    return export_model(model, out_dir / "learned.npz", meta={**meta, "wall_seconds": round(total, 1),
                                                               "steps": p.steps})
