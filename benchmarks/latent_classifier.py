"""Learning on compressed data: a small classifier trained on learned-mode latents.

Task: is a 128x128 crop from a man-made/urban scene (Urban100) or a natural photograph
(BSDS500, a seeded subset of the same number of images)? Crops are coded in the learned
mode; the same tiny CNN is trained on the latents (entropy decoding only, via
``LatentFolder``), on the decoded pixels and on the original pixels, and a logistic
regression on pooled latent statistics is added as the simplest latent classifier.
The split is by image, so no test image lends a crop to training. Usage::

    python -m benchmarks.latent_classifier [--data ../shared/data/images/train] [--qualities 30 60]
        [--crops 4] [--seeds 3] [--out benchmarks/results/latents]
"""

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

CLASSES = {"natural": "bsds500/*.jpg", "urban": "urban100/*.png"}  # label = index in sorted names
CROP = 128
MIN_TEST_IMAGES = 10  # fewer validation images per class than this gives too coarse an accuracy


def pick_images(data: Path, seed: int = 0) -> dict:
    """Files per class: every urban image and a seeded subset of as many natural ones (balanced)."""
    files = {name: sorted(data.glob(pattern)) for name, pattern in CLASSES.items()}
    n = min(len(f) for f in files.values())
    if n < 2:
        raise SystemExit(f"{data}: need at least 2 images per class, found {[len(f) for f in files.values()]}")
    rng = np.random.default_rng(seed)
    return {name: sorted(f[i] for i in rng.choice(len(f), n, replace=False)) for name, f in files.items()}


def split_images(files: dict, data: Path, seed: int = 0, test_fraction: float = 1 / 3) -> tuple[dict, dict, dict]:
    """Train and test files per class, and how the split was made.

    The repository's fixed split (``codec.train.data.load_split``, which the learned model
    was trained with) is used when its validation part holds enough images of every class;
    otherwise each class's images are split with a seeded permutation.
    """
    from codec.train.data import load_split

    _, val = load_split(data)
    val = set(val)
    repo_test = {name: [f for f in fs if f in val] for name, fs in files.items()}
    counts = {name: len(fs) for name, fs in repo_test.items()}
    if min(counts.values()) >= MIN_TEST_IMAGES:
        test, how = repo_test, "repository split (codec.train.data.load_split)"
    else:
        rng = np.random.default_rng(seed)
        test = {name: sorted(fs[i] for i in rng.permutation(len(fs))[: max(1, round(len(fs) * test_fraction))])
                for name, fs in files.items()}
        how = (f"seeded per-image split (seed {seed}, {test_fraction:.0%} of each class's images), because the "
               f"repository split's validation part holds only {_per_class(counts)} of these images, "
               f"fewer than {MIN_TEST_IMAGES} per class")
    train = {name: [f for f in fs if f not in set(test[name])] for name, fs in files.items()}
    info = {"method": how, "repo_validation_images": counts,
            "test_images_in_codec_training_split": {n: sum(f not in val for f in fs) for n, fs in test.items()}}
    return train, test, info


def random_crops(path: Path, n: int, rng: np.random.Generator, size: int = CROP) -> list[np.ndarray]:
    """``n`` seeded size x size RGB crops of one image."""
    from PIL import Image

    with Image.open(path) as im:
        a = np.asarray(im.convert("RGB"))
    out = []
    for _ in range(n):
        top, left = rng.integers(0, a.shape[0] - size + 1), rng.integers(0, a.shape[1] - size + 1)
        out.append(np.ascontiguousarray(a[top:top + size, left:left + size]))
    return out


def cut(files: dict, n: int, seed: int) -> tuple[list[np.ndarray], list[int]]:
    """Crops and labels of every file, ``n`` per image, with one seeded generator."""
    rng = np.random.default_rng(seed)
    crops, labels = [], []
    for label, name in enumerate(sorted(files)):
        for f in files[name]:
            c = random_crops(f, n, rng)
            crops += c
            labels += [label] * len(c)
    return crops, labels


def encode_to_folder(crops, labels, names, root: Path, quality: int) -> list[bytes]:
    """Code each crop and write it as ``root/<class>/<i>.wlc``, the layout ``LatentFolder`` reads."""
    import codec

    files = []
    for i, (c, y) in enumerate(zip(crops, labels)):
        data = codec.encode(c, quality=quality, mode="learned")
        (root / names[y]).mkdir(parents=True, exist_ok=True)
        (root / names[y] / f"{i:05d}.wlc").write_bytes(data)
        files.append(data)
    return files


def load_latents(root: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Every file's latents and label, through the Dataset a training loop would use."""
    from codec.latent_dataset import LatentFolder

    ds = LatentFolder(root)
    xs, ys = zip(*(ds[i] for i in range(len(ds))))
    return torch.stack(xs), torch.tensor(ys)


def pixels(crops) -> torch.Tensor:
    """uint8 HWC crops -> float NCHW, centred and scaled to about unit range."""
    return (torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() - 127.5) / 64.0


class TinyCNN(torch.nn.Module):
    """Stem to a 32-channel 16x16 grid, then one 3x3 conv and global pooling.

    Latents enter through a 1x1 conv (the grid is already 16x16); pixels through an 8x8
    stride-8 patch conv, so both inputs meet the same small body and the comparison is fair.
    """

    def __init__(self, in_channels: int, patch: int):
        super().__init__()
        self.stem = torch.nn.Conv2d(in_channels, 32, patch, stride=patch)
        self.body = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Conv2d(32, 32, 3, padding=1), torch.nn.ReLU(),
                                        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(32, 2))

    def forward(self, x):
        return self.body(self.stem(x))


def standardise(train: torch.Tensor, test: torch.Tensor, dims) -> tuple[torch.Tensor, torch.Tensor]:
    """Scale both sets by the training set's per-feature mean and std (never the test set's)."""
    mean, std = train.mean(dims, keepdim=True), train.std(dims, keepdim=True).clamp_min(1e-6)
    return (train - mean) / std, (test - mean) / std


def fit(model, x, y, seed: int, epochs: int, lr: float = 3e-3, batch: int = 32) -> torch.nn.Module:
    """AdamW for a fixed number of epochs: no early stopping, so the test set is never looked at."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-2)
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=g).split(batch):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    return model.eval()


def accuracy(model, x, y) -> float:
    """Fraction of crops classified right."""
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def cnn_accuracy(x_train, y_train, x_test, y_test, seed: int, epochs: int) -> tuple[float, float]:
    """The tiny CNN on latents (K, 16, 16) or pixels (3, 128, 128): test and train accuracy."""
    patch = 8 if x_train.shape[1] == 3 else 1
    x_train, x_test = standardise(x_train, x_test, (0, 2, 3))
    torch.manual_seed(seed)
    model = fit(TinyCNN(x_train.shape[1], patch), x_train, y_train, seed, epochs)
    return accuracy(model, x_test, y_test), accuracy(model, x_train, y_train)


def logistic_accuracy(x_train, y_train, x_test, y_test, seed: int, epochs: int) -> tuple[float, float]:
    """Logistic regression on ``codec.latent_dataset.pooled`` (per-channel mean |y| and mean y): test, train."""
    from codec.latent_dataset import pooled

    f_train = torch.from_numpy(np.stack([pooled(t) for t in x_train]))
    f_test = torch.from_numpy(np.stack([pooled(t) for t in x_test]))
    f_train, f_test = standardise(f_train, f_test, 0)
    torch.manual_seed(seed)
    model = fit(torch.nn.Linear(f_train.shape[1], 2), f_train, y_train, seed, epochs)
    return accuracy(model, f_test, y_test), accuracy(model, f_train, y_train)


def size_accuracy(bits_train, y_train, bits_test, y_test, seed: int, epochs: int) -> tuple[float, float]:
    """Logistic regression on the file size alone: how much of the task is just "busier crops cost more bits"."""
    f_train, f_test = standardise(torch.tensor(bits_train)[:, None], torch.tensor(bits_test)[:, None], 0)
    torch.manual_seed(seed)
    model = fit(torch.nn.Linear(1, 2), f_train, y_train, seed, epochs)
    return accuracy(model, f_test, y_test), accuracy(model, f_train, y_train)


def per_crop_times(files: list[bytes], reps: int) -> dict:
    """Median per-crop time of latents (entropy decoding only) and of a full decode.

    Each call is timed on its own and the two alternate crop by crop, so both see the same
    load on a shared machine; the median over crops x reps shrugs off the odd slow call.
    """
    import codec
    from codec.latent_dataset import latents

    codec.decode(files[0]), latents(files[0])  # load the model and build its tables before timing
    times = {"latents_s": [], "decode_s": []}
    for _ in range(reps):
        for f in files:
            for key, fn in (("latents_s", latents), ("decode_s", codec.decode)):
                start = time.perf_counter()
                fn(f)
                times[key].append(time.perf_counter() - start)
    out = {k: float(np.median(v)) for k, v in times.items()}
    out["decode_over_latents"] = out["decode_s"] / out["latents_s"]
    return out


def model_info() -> dict:
    from codec.zoo import LEARNED_MODEL, get_learned_model, model_path

    m = get_learned_model(LEARNED_MODEL)
    return {"name": LEARNED_MODEL, "sha256": hashlib.sha256(model_path(LEARNED_MODEL).read_bytes()).hexdigest(),
            "meta": m.meta}


def run(data, qualities=(30, 60), crops=4, seeds=3, epochs=60, reps=5, timing_crops=16) -> dict:
    """The whole benchmark; returns the results (without provenance)."""
    import codec

    data = Path(data)
    train_files, test_files, split = split_images(pick_images(data), data)
    names = sorted(CLASSES)
    tr_crops, tr_y = cut(train_files, crops, seed=1)
    te_crops, te_y = cut(test_files, crops, seed=2)
    y_train, y_test = torch.tensor(tr_y), torch.tensor(te_y)
    count = {"train_images": {n: len(f) for n, f in train_files.items()},
             "test_images": {n: len(f) for n, f in test_files.items()},
             "train_crops": {n: tr_y.count(i) for i, n in enumerate(names)},
             "test_crops": {n: te_y.count(i) for i, n in enumerate(names)}}

    def over_seeds(fn, *xs) -> dict:
        test, train = zip(*(fn(*xs, seed=s, epochs=epochs) for s in range(seeds)))
        return {"mean": float(np.mean(test)), "per_seed": list(test), "train_mean": float(np.mean(train))}

    original = over_seeds(cnn_accuracy, pixels(tr_crops), y_train, pixels(te_crops), y_test)
    per_quality = {}
    tmp = Path(tempfile.mkdtemp(prefix="wavecodec-latents-"))
    try:
        for q in qualities:
            tr_bytes = encode_to_folder(tr_crops, tr_y, names, tmp / f"q{q}" / "train", q)
            te_bytes = encode_to_folder(te_crops, te_y, names, tmp / f"q{q}" / "test", q)
            x_tr, y_tr = load_latents(tmp / f"q{q}" / "train")
            x_te, y_te = load_latents(tmp / f"q{q}" / "test")
            if not (torch.equal(y_tr, y_train) and torch.equal(y_te, y_test)):  # rows must match the pixel crops
                raise RuntimeError("LatentFolder order differs from the crops' order")
            d_tr = pixels([codec.decode(b) for b in tr_bytes])
            d_te = pixels([codec.decode(b) for b in te_bytes])
            bits = np.array([len(b) * 8 / CROP**2 for b in tr_bytes + te_bytes], dtype=np.float32)
            labels = np.array(tr_y + te_y)
            per_quality[str(q)] = {
                "bpp": float(bits.mean()),
                "bpp_per_class": {n: float(bits[labels == i].mean()) for i, n in enumerate(names)},
                "latent_shape": list(x_tr.shape[1:]),
                "accuracy": {
                    "latents, CNN": over_seeds(cnn_accuracy, x_tr, y_tr, x_te, y_te),
                    "latents, pooled stats + logistic regression": over_seeds(logistic_accuracy, x_tr, y_tr, x_te,
                                                                               y_te),
                    "decoded pixels, CNN": over_seeds(cnn_accuracy, d_tr, y_train, d_te, y_test),
                    "file size (bpp) alone, logistic regression": over_seeds(
                        size_accuracy, bits[:len(tr_bytes)], y_train, bits[len(tr_bytes):], y_test),
                },
                "per_crop_time": per_crop_times(te_bytes[:timing_crops], reps),
            }
    finally:
        shutil.rmtree(tmp)
    return {"task": "128x128 crops: urban (Urban100) vs natural (BSDS500), split by image",
            "classes": names, "crop": CROP, "crops_per_image": crops, "seeds": seeds, "epochs": epochs,
            "split": split, **count, "model": model_info(), "original_pixels_cnn": original, "qualities": per_quality,
            "timing": {"reps": reps, "crops": min(timing_crops, len(te_y)), "cores": os.cpu_count(),
                       "load_average_1min_at_end": os.getloadavg()[0]}}


def _per_class(d: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in d.items())


def _acc(a: dict) -> str:
    return f"{a['mean']:.3f} ({a['train_mean']:.2f})"


def table(r: dict) -> str:
    """The README: what was measured, then a markdown table of bpp, accuracy and per-crop time."""
    qs = list(r["qualities"])

    def row(name, values):
        return f"| {name} | " + " | ".join(values) + " |"

    lines = [row("", [f"quality {q}" for q in qs]), "|---" * (len(qs) + 1) + "|",
             row("bpp (mean over all crops)", [f"{r['qualities'][q]['bpp']:.3f}" for q in qs])]
    for name in r["qualities"][qs[0]]["accuracy"]:
        lines.append(row(f"accuracy: {name}", [_acc(r['qualities'][q]['accuracy'][name]) for q in qs]))
    lines.append(row("accuracy: original pixels, CNN (reference)", [_acc(r["original_pixels_cnn"])] * len(qs)))
    for key, what in (("latents_s", "latents (entropy decoding only)"), ("decode_s", "full decode (decoder network)")):
        lines.append(row(f"ms per crop: {what}", [f"{r['qualities'][q]['per_crop_time'][key] * 1e3:.1f}" for q in qs]))
    lines.append(row("full decode / latents time", [f"{r['qualities'][q]['per_crop_time']['decode_over_latents']:.1f}x"
                                                      for q in qs]))
    prov, split, model = r.get("provenance", {}), r["split"], r["model"]
    text = [
        "# Classifying learned-mode latents",
        "",
        (f"Regenerate: `{prov.get('command', 'python -m benchmarks.latent_classifier')}` ({prov.get('date', '')}, "
        f"model {model['name']} sha256 {model['sha256'][:12]}..., full numbers in `latent_classifier.json`)."),
        "",
        f"Task: {r['task']}; {r['crops_per_image']} seeded {r['crop']}x{r['crop']} crops per image.",
        f"Train: images {_per_class(r['train_images'])}; crops {_per_class(r['train_crops'])}.",
        f"Test: images {_per_class(r['test_images'])}; crops {_per_class(r['test_crops'])}.",
        (f"Split: {split['method']}. Test images from the codec model's own training split: "
        f"{_per_class(split['test_images_in_codec_training_split'])}."),
        (f"Accuracy: test accuracy, mean over {r['seeds']} seeds (train accuracy in brackets), {r['epochs']} "
         "epochs each, no early stopping."),
        (f"Times: median over {r['timing']['reps']} runs on each of {r['timing']['crops']} test crops, 1 thread "
         f"(load average at the end {r['timing']['load_average_1min_at_end']:.1f} on {r['timing']['cores']} cores)."),
        "",
        *lines,
        "",
        "Read with care: the CNN's pixel stem is one linear 8x8 patch conv, while the latents come out of the",
        "codec's wavelet packets and KLT, so part of the latents' lead is those features; the KLT was fitted and",
        "the decoder trained (without labels) on most of these images; test accuracies over a few dozen images move by several",
        "points between seeds and splits (see `per_seed` in the JSON); the natural photographs are JPEG files",
        "and the urban ones PNG, which a pixel classifier could pick up.",
        "",
    ]
    return "\n".join(text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/images/train")
    parser.add_argument("--qualities", type=int, nargs="+", default=[30, 60])
    parser.add_argument("--crops", type=int, default=4)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--out", default="benchmarks/results/latents")
    args = parser.parse_args(argv)
    if not Path(args.data).is_dir():
        raise SystemExit(f"{args.data}: not found")
    torch.set_num_threads(1)  # the machine is shared; also makes the times comparable
    from benchmarks.provenance import provenance

    r = run(args.data, args.qualities, args.crops, args.seeds, args.epochs, args.reps)
    argv_text = " ".join(sys.argv[1:] if argv is None else argv)
    r["provenance"] = provenance(f"python -m benchmarks.latent_classifier {argv_text}".strip(), 1, 1, args.reps)
    write(r, Path(args.out))
    print(table(r))


def write(r: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "latent_classifier.json").write_text(json.dumps(r, indent=1, default=str) + "\n")
    (out / "README.md").write_text(table(r))


if __name__ == "__main__":
    main()
