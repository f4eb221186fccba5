#!/usr/bin/env python3
"""The freeze stage (or the whole seed recipe) end to end, finetune against the PyTorch recipe,
side by side in one run.

Generates (deterministically) a 2,000-image, 2-class dataset of 300x300 PNG files written with
PIL, split as DIR/train/<class> (800 per class) and DIR/val/<class> (200 per class). Each image
holds two to four ellipses or polygons filled with a two-colour texture, dots in "dotted" images
and stripes of random period and angle in "striped" ones (the texture's first colour leans red or
blue by class, overlapping), on a random colour gradient with distracting lines and pixel noise.
Makes one set of backbone weights (the torchvision model with seed 0, its BN running statistics
calibrated on 256 generated images so frozen BN normalises as a pretrained one would) saved as a
.pth file. Then runs, one after the other:

- the PyTorch recipe: torchvision model with those weights, backbone parameters
  requires_grad=False, a new linear head (torchvision's classifier structure kept, so
  mobilenet-v2 and efficientnet-b3 keep their dropout), ImageFolder + DataLoader (num_workers=1,
  batch 32, shuffled), RandomResizedCrop(size) + RandomHorizontalFlip + ImageNet normalisation,
  torch.set_num_threads(2), Adam lr 1e-3 on the head, model.train() for the training phase and
  model.eval() for validation (Resize + CenterCrop) after every epoch, 5 epochs;
- finetune train --strategy freeze --epochs 5 --batch-size 32 --threads 2 --weight-decay 0
  (--views N adds --cache-features N; by default finetune caches one view per epoch) on the same
  folders and weights.

With --recipe seed both sides run the seed recipe instead: two stages, 4 freeze epochs at 1e-3
then 2 epochs of the whole network at 1e-4 (PyTorch: every parameter set to requires_grad=True
and a new Adam over all of them, model.train(); finetune: --strategy two-stage --freeze-epochs 4
--epochs 2 --lr 1e-3 --finetune-lr 1e-4). --args passes more options to finetune
(e.g. --args="--no-standardize-features").

Wall times: the whole finetune command (process start to exit, including loading the plugins and
weights and writing its checkpoints and report), and the whole PyTorch recipe (building the
model and loaders to the last validation, in this process, after torch is imported; dataset and
weights generation excluded). Accuracies: the last and the best epoch's validation accuracy.

Run (needs torch, torchvision, numpy, Pillow):
    python tools/bench_freeze.py --finetune .build/release/finetune [--backbone resnet18] [--size 224]
                                 [--recipe freeze|seed] [--views N] [--repeat 2] [--data DIR] [--args="..."]
"""
import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time

import numpy as np
import torch
import torchvision
from PIL import Image, ImageDraw
from torchvision import transforms

# name: (torchvision constructor, native size, eval resize at the native size, head attribute path)
BACKBONES = {
    "resnet18": ("resnet18", 224, 256, ("fc",)),
    "mobilenet-v2": ("mobilenet_v2", 224, 256, ("classifier", 1)),
    "efficientnet-b3": ("efficientnet_b3", 300, 320, ("classifier", 1)),
}
CLASSES = ("dotted", "striped")
PER_CLASS = {"train": 800, "val": 200}
SIDE = 300
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def fill_pattern(rng, label, side):
    """A side x side texture in two random colours: scattered dots (label 0) or stripes (label 1).
    The first colour leans red in dotted textures and blue in striped ones (a cue that overlaps)."""
    a, b = rng.integers(0, 256, 3).astype(np.float32), rng.integers(0, 256, 3).astype(np.float32)
    warm, cool = (0, 2) if label == 0 else (2, 0)
    a[warm], a[cool] = rng.uniform(128, 256), rng.uniform(0, 160)
    if label == 1:
        y, x = np.mgrid[0:side, 0:side].astype(np.float32)
        angle, period = rng.uniform(0, np.pi), rng.uniform(5, 12)
        mask = (np.sin((x * np.cos(angle) + y * np.sin(angle)) * 2 * np.pi / period) > 0).astype(np.float32)
    else:
        dots = Image.new("L", (side, side))
        draw = ImageDraw.Draw(dots)
        radius = rng.uniform(1.5, 3)
        for cx, cy in rng.uniform(0, side, (int(side * side / (radius * radius * 14)), 2)):
            draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=255)
        mask = np.asarray(dots, dtype=np.float32) / 255
    return mask[..., None] * a + (1 - mask[..., None]) * b


def draw_image(rng, label):
    """One 300x300 RGB image of class `label`: shapes (ellipses or polygons, either class) filled
    with dots (0, "dotted") or stripes (1, "striped") on a colour gradient, lines, noise."""
    c0, c1 = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    t = np.linspace(0, 1, SIDE, dtype=np.float32)
    ramp = t[:, None, None] if rng.random() < 0.5 else t[None, :, None]
    pixels = np.broadcast_to(c0 * (1 - ramp) + c1 * ramp, (SIDE, SIDE, 3)).copy()
    for _ in range(rng.integers(2, 5)):
        r = int(rng.integers(45, 110))
        cx, cy = (int(v) for v in rng.integers(r, SIDE - r, 2))
        mask = Image.new("L", (SIDE, SIDE))
        draw = ImageDraw.Draw(mask)
        if rng.random() < 0.5:
            ry = int(r * rng.uniform(0.55, 1.0))
            draw.ellipse([cx - r, cy - ry, cx + r, cy + ry], fill=255)
        else:
            corners, angle = int(rng.integers(3, 5)), rng.uniform(0, 2 * np.pi)
            draw.polygon([(cx + r * np.cos(angle + k * 2 * np.pi / corners), cy + r * np.sin(angle + k * 2 * np.pi / corners))
                          for k in range(corners)], fill=255)
        inside = (np.asarray(mask) > 0)[..., None]
        pixels = np.where(inside, fill_pattern(rng, label, SIDE), pixels)
    image = Image.fromarray(pixels.astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(rng.integers(2, 7)):  # distracting lines, in both classes
        points = [tuple(int(v) for v in rng.integers(0, SIDE, 2)) for _ in range(2)]
        draw.line(points, fill=tuple(int(v) for v in rng.integers(0, 256, 3)), width=int(rng.integers(1, 5)))
    pixels = np.asarray(image, dtype=np.float32) + rng.normal(0, 12, (SIDE, SIDE, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def make_dataset(root):
    """DIR/train/<class>/*.png and DIR/val/<class>/*.png; skipped when DIR/.complete exists."""
    marker = os.path.join(root, ".complete")
    if os.path.exists(marker):
        return
    rng = np.random.default_rng(2024)
    for split, count in PER_CLASS.items():
        for label, name in enumerate(CLASSES):
            folder = os.path.join(root, split, name)
            os.makedirs(folder, exist_ok=True)
            for i in range(count):
                draw_image(rng, label).save(os.path.join(folder, f"{name}-{i:04d}.png"))
    open(marker, "w").close()


def make_weights(root, backbone):
    """The backbone with seed 0 and calibrated BN statistics, as DIR/<backbone>.pth."""
    path = os.path.join(root, f"{backbone}.pth")
    if os.path.exists(path):
        return path
    constructor, size, _, _ = BACKBONES[backbone]
    torch.manual_seed(0)
    model = getattr(torchvision.models, constructor)(weights=None)
    # Pretrained-like BN: running statistics averaged over generated images (momentum None:
    # a cumulative average), so frozen BN normalises the activations as a trained network's does.
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    rng = np.random.default_rng(99)
    prepare = transforms.Compose([transforms.Resize(size), transforms.ToTensor(), transforms.Normalize(MEAN, STD)])
    model.train()
    with torch.no_grad():
        for _ in range(8):
            batch = torch.stack([prepare(draw_image(rng, int(rng.integers(0, 2)))) for _ in range(32)])
            model(batch)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = 0.1
    torch.save(model.state_dict(), path)
    return path


def torch_recipe(root, weights, backbone, size, epochs, seed, finetune_epochs=0):
    """The PyTorch freeze-stage recipe, then `finetune_epochs` of the whole network at 1e-4;
    returns (seconds, per-epoch validation accuracies)."""
    start = time.perf_counter()
    constructor, native, eval_native, head_path = BACKBONES[backbone]
    eval_resize = round(size * eval_native / native)
    torch.manual_seed(seed)
    model = getattr(torchvision.models, constructor)(weights=None)
    model.load_state_dict(torch.load(weights, map_location="cpu"))
    for p in model.parameters():
        p.requires_grad = False
    parent = model
    for key in head_path[:-1]:
        parent = getattr(parent, key)
    last = head_path[-1]
    old = parent[last] if isinstance(last, int) else getattr(parent, last)
    head = torch.nn.Linear(old.in_features, len(CLASSES))
    if isinstance(last, int):
        parent[last] = head
    else:
        setattr(parent, last, head)
    normalize = transforms.Normalize(MEAN, STD)
    train_set = torchvision.datasets.ImageFolder(os.path.join(root, "train"), transforms.Compose([
        transforms.RandomResizedCrop(size), transforms.RandomHorizontalFlip(), transforms.ToTensor(), normalize]))
    val_set = torchvision.datasets.ImageFolder(os.path.join(root, "val"), transforms.Compose([
        transforms.Resize(eval_resize), transforms.CenterCrop(size), transforms.ToTensor(), normalize]))
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=32, shuffle=True, num_workers=1)
    val_loader = torch.utils.data.DataLoader(val_set, batch_size=32, shuffle=False, num_workers=1)
    optimizer = torch.optim.Adam(head.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    accuracies = []
    for epoch in range(epochs + finetune_epochs):
        if epoch == epochs:  # the second stage: everything trains
            for p in model.parameters():
                p.requires_grad = True
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
        model.train()
        for images, labels in train_loader:
            optimizer.zero_grad()
            loss_fn(model(images), labels).backward()
            optimizer.step()
        model.eval()
        correct = seen = 0
        with torch.no_grad():
            for images, labels in val_loader:
                correct += (model(images).argmax(1) == labels).sum().item()
                seen += len(labels)
        accuracies.append(correct / seen)
    return time.perf_counter() - start, accuracies


def ours(finetune, root, weights, backbone, size, epochs, views, output, seed, finetune_epochs=0, extra=()):
    """finetune train, timed as a whole command; returns (seconds, per-epoch validation accuracies)."""
    shutil.rmtree(output, ignore_errors=True)
    strategy = ["--strategy", "freeze", "--epochs", str(epochs)] if finetune_epochs == 0 else \
        ["--strategy", "two-stage", "--freeze-epochs", str(epochs), "--epochs", str(finetune_epochs),
         "--lr", "1e-3", "--finetune-lr", "1e-4"]
    command = [finetune, "train", "--backbone", backbone, "--data", root, "--weights", weights, *strategy,
               "--batch-size", "32", "--threads", "2", "--weight-decay", "0", "--input-size", str(size),
               "--seed", str(seed), "--output", output]
    if views is not None:
        command += ["--cache-features", str(views)]
    command += list(extra)
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    with open(os.path.join(output, "metrics.jsonl")) as f:
        records = [json.loads(line) for line in f if line.strip()]
    return seconds, [r["val_accuracy"] for r in records if r["kind"] == "epoch"]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--finetune", default=".build/release/finetune")
    p.add_argument("--backbone", choices=list(BACKBONES), default="resnet18")
    p.add_argument("--size", type=int, help="training crop (default: the backbone's native size)")
    p.add_argument("--views", type=int, help="--cache-features N for finetune (default: finetune's default)")
    p.add_argument("--recipe", choices=["freeze", "seed"], default="freeze",
                   help="the freeze stage alone, or the seed recipe (two-stage, 4 + 2 epochs)")
    p.add_argument("--epochs", type=int, help="freeze epochs (default: 5, or 4 with --recipe seed)")
    p.add_argument("--args", default="", help="more options for finetune train, space-separated")
    p.add_argument("--repeat", type=int, default=1,
                   help="run the comparison this many times, run r with seed r-1 on both sides (head "
                        "initialisation, shuffling, augmentation), and print the means")
    p.add_argument("--data", help="dataset folder, reused when complete (default: a temporary one)")
    a = p.parse_args()
    size = a.size or BACKBONES[a.backbone][1]
    epochs = a.epochs or (4 if a.recipe == "seed" else 5)
    finetune_epochs = 2 if a.recipe == "seed" else 0
    extra = a.args.split()
    root = a.data or tempfile.mkdtemp(prefix="bench-freeze-")
    os.makedirs(root, exist_ok=True)
    print(f"dataset {root}: generating" if not os.path.exists(os.path.join(root, ".complete")) else f"dataset {root}", flush=True)
    make_dataset(root)
    weights = make_weights(root, a.backbone)
    torch.set_num_threads(2)
    output = tempfile.mkdtemp(prefix="bench-freeze-run-")
    recipe = f"{epochs} freeze epochs" + (f" + {finetune_epochs} of the whole network" if finetune_epochs else "")
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}; {a.backbone} at {size} px, "
          f"{recipe}, batch 32, 2 threads; finetune "
          + (f"--cache-features {a.views} " if a.views is not None else "") + " ".join(extra), flush=True)
    header = f"{'run':>3} {'backbone':16} {'size':>4} {'finetune s':>10} {'pytorch s':>10} {'speed-up':>8}   " \
             f"{'finetune acc last/best':>22} {'pytorch acc last/best':>22}"
    rows, results = [], []
    for run in range(1, a.repeat + 1):
        ours_s, ours_acc = ours(a.finetune, root, weights, a.backbone, size, epochs, a.views, output, run - 1,
                                finetune_epochs, extra)
        torch_s, torch_acc = torch_recipe(root, weights, a.backbone, size, epochs, run - 1, finetune_epochs)
        results.append((ours_s, torch_s, ours_acc[-1], max(ours_acc), torch_acc[-1], max(torch_acc)))
        rows.append(f"{run:>3} {a.backbone:16} {size:>4} {ours_s:>10.1f} {torch_s:>10.1f} {torch_s / ours_s:>7.2f}x   "
                    f"{ours_acc[-1]:>11.4f} / {max(ours_acc):.4f} {torch_acc[-1]:>11.4f} / {max(torch_acc):.4f}")
        print(header if run == 1 else "", rows[-1], sep="\n" if run == 1 else "", flush=True)
    if a.repeat > 1:
        m = [sum(r[i] for r in results) / len(results) for i in range(6)]
        print(f"{'mean':>3} {a.backbone:16} {size:>4} {m[0]:>10.1f} {m[1]:>10.1f} {m[1] / m[0]:>7.2f}x   "
              f"{m[2]:>11.4f} / {m[3]:.4f} {m[4]:>11.4f} / {m[5]:.4f}", flush=True)
    shutil.rmtree(output, ignore_errors=True)
    if not a.data:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
