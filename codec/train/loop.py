"""``wavecodec train``: rate-distortion training of the learned codec.

Loss per image = lambda(level) * MSE (8-bit scale) + bits / pixels, with the level drawn
uniformly from the continuous range of the model's gain units, so one model learns every
rate. Rates use additive-noise likelihoods; the decoder sees hard-rounded latents through
a straight-through estimator. AdamW, linear warm-up then cosine decay, fixed seeds,
checkpoint + resume, a JSONL log and validation on held-out training images.
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


PRESETS = {
    # Sized for about 1-1.5 h on a 2-core CPU (0.45-1 s/step at batch 8, measured).
    "cpu": Preset(steps=5000, batch=8, crop=256, lr=3e-4),
    # One H100-class GPU: same model, 10x the images seen.
    "cuda": Preset(steps=30000, batch=16, crop=256, lr=3e-4, validate_every=1000, checkpoint_every=1000),
    # Seconds; for tests and smoke runs.
    "tiny": Preset(steps=4, batch=2, crop=64, lr=3e-4, warmup=1, validate_every=2, checkpoint_every=2),
}


def _lr(step: int, p: Preset) -> float:
    if step < p.warmup:
        return p.lr * (step + 1) / p.warmup
    t = (step - p.warmup) / max(1, p.steps - p.warmup)
    return p.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


def _losses(model, y0, level):
    x_hat, bits_y, bits_z = model(y0, level)
    pixels = y0.shape[-2] * y0.shape[-1] * 64
    mse = (x_hat - y0).pow(2).sum((1, 2, 3)) / (3 * pixels)
    bpp = (bits_y + bits_z) / pixels
    loss = (model.lambdas(level) * mse + bpp).mean()
    return loss, mse, bpp


@torch.no_grad()
def validate(model, val: torch.Tensor, device) -> list[dict]:
    """bpp (from likelihoods) and PSNR at each trained level on the held-out crops."""
    model.eval()
    out = []
    for level in range(model.n_levels):
        mses, bpps = [], []
        for i in range(0, len(val), 8):
            y0 = val[i:i + 8].to(device)
            _, mse, bpp = _losses(model, y0, torch.full((len(y0),), float(level), device=device))
            mses.append(mse), bpps.append(bpp)
        mse, bpp = torch.cat(mses).mean().item(), torch.cat(bpps).mean().item()
        out.append({"level": level, "bpp": round(bpp, 4), "psnr": round(10 * math.log10(255**2 / mse), 3)})
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

    from codec.models.export import export_model, channel_std
    from codec.models.learned import LearnedCodec
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
    val = ImageSet(val_files, p.crop, linear).centre_crops()
    model = LearnedCodec(torch.from_numpy(channel_std(linear))).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=p.lr, weight_decay=1e-4)
    ckpt_path, log_path = out_dir / "checkpoint.pt", out_dir / "log.jsonl"
    start, elapsed = 0, 0.0
    if ckpt_path.exists():
        ckpt = torch.load(ckpt_path, map_location=dev, weights_only=True)
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        start, elapsed = int(ckpt["step"]), float(ckpt["elapsed"])
        rng.bit_generator.state = json.loads(ckpt["numpy_rng"])
        torch.set_rng_state(ckpt["torch_rng"])
    meta = {"preset": name, "settings": asdict(p), "seed": seed, "device": str(dev), "data": str(data_dir),
            "train_images": len(train_set.images), "validation_images": len(val)}
    with open(log_path, "a") as log:
        log.write(json.dumps({"event": "start", "step": start, **meta}) + "\n")
        bar = tqdm(range(start, p.steps), initial=start, total=p.steps, disable=not progress, unit="step")
        t0 = time.perf_counter()
        for step in bar:
            for group in opt.param_groups:
                group["lr"] = _lr(step, p)
            y0 = train_set.batch(rng, p.batch).to(dev)
            level = torch.rand(p.batch, device=dev) * (model.n_levels - 1)
            loss, mse, bpp = _losses(model, y0, level)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            psnr = (10 * torch.log10(255**2 / mse)).mean().item()
            bar.set_postfix(loss=f"{loss.item():.3f}", bpp=f"{bpp.mean().item():.3f}", psnr=f"{psnr:.2f}")
            record = {"step": step + 1, "loss": round(loss.item(), 5), "bpp": round(bpp.mean().item(), 4),
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
        log.write(json.dumps({"event": "end", "step": p.steps, "wall_seconds": round(total, 1), **meta}) + "\n")
    model = model.cpu().eval()
    return export_model(model, out_dir / "learned.npz", meta={**meta, "wall_seconds": round(total, 1),
                                                               "steps": p.steps})
