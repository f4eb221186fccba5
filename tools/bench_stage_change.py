#!/usr/bin/env python3
"""The stage change of two-stage training on real images: the loss at the boundary, the best and
final validation accuracy and the second stage's images/s, for each `--bn` choice.

The images: scikit-learn's handwritten digits (1,797 real 8x8 grayscale scans, shipped inside
the package, no download), written as PNG files. The backbone is pretrained here, in PyTorch, on
the digits 0-4, or with --pretrain-data on another image folder (e.g. colour images, as ImageNet
weights come to grayscale data), with torchvision's model, `--pretrain-epochs` of full training at
`--size` px, BN in train mode as a PyTorch script does; saved as a torchvision-keyed .pth, its
running statistics are those of real training. The fine-tuning task is then the other five digits, 5-9
(DIR/train and DIR/val, 80/20, stratified), which that backbone never saw: a pretrained backbone
moved to new classes, as a user's run is.

For each `--bn` value the script runs
    finetune train --strategy two-stage --freeze-epochs 4 --epochs 2 --lr 1e-3 --finetune-lr 1e-4
                   --batch-size 32 --threads 2 --log-every 1 --weights PRETRAINED.pth ...
and reads metrics.jsonl: the freeze stage's last epoch loss, the second stage's first logged steps
(each one step, --log-every 1) and their ratio to it, the validation accuracy per epoch, the
best and last, and the second stage's images/s (its epoch records).

Run (needs torch, torchvision, scikit-learn, Pillow):
    python tools/bench_stage_change.py --finetune .build/release/finetune [--backbone mobilenet-v2]
                                       [--size 64] [--bn train frozen] [--data DIR] [--args="..."]
"""
import argparse
import json
import os
import shutil
import subprocess
import tempfile

import numpy as np
import torch
import torchvision
from PIL import Image
from sklearn.datasets import load_digits
from torchvision import transforms

TORCHVISION = {"resnet18": ("resnet18", ("fc",)), "mobilenet-v2": ("mobilenet_v2", ("classifier", 1)),
               "efficientnet-b3": ("efficientnet_b3", ("classifier", 1))}
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def make_dataset(root):
    """DIR/pretrain/<digit> (0-4, all images) and DIR/{train,val}/<digit> (5-9, 80/20 per class)."""
    marker = os.path.join(root, ".complete")
    if os.path.exists(marker):
        return
    digits = load_digits()
    rng = np.random.default_rng(7)
    for label in range(10):
        indices = np.flatnonzero(digits.target == label)
        rng.shuffle(indices)
        cut = int(round(0.8 * len(indices)))
        for i, index in enumerate(indices):
            split = "pretrain" if label < 5 else ("train" if i < cut else "val")
            folder = os.path.join(root, split, f"digit-{label}")
            os.makedirs(folder, exist_ok=True)
            pixels = (digits.images[index] * (255 / 16)).clip(0, 255).astype(np.uint8)  # 0..16 -> 0..255
            Image.fromarray(pixels, "L").save(os.path.join(folder, f"{label}-{index:04d}.png"))
    open(marker, "w").close()


def pretrain(root, backbone, size, epochs, source=None):
    """The backbone trained on `source` (an image folder; default DIR/pretrain, the digits 0-4) as
    a PyTorch script does; returns the .pth path."""
    source = source or os.path.join(root, "pretrain")
    tag = "digits0to4" if source == os.path.join(root, "pretrain") else os.path.basename(os.path.normpath(source))
    path = os.path.join(root, f"{backbone}-{size}px-{tag}.pth")
    if os.path.exists(path):
        return path
    constructor, head_path = TORCHVISION[backbone]
    torch.manual_seed(0)
    data = torchvision.datasets.ImageFolder(source, transforms.Compose([
        transforms.RandomResizedCrop(size, scale=(0.6, 1)), transforms.ToTensor(),
        transforms.Normalize(MEAN, STD)]))
    model = getattr(torchvision.models, constructor)(weights=None, num_classes=len(data.classes))
    loader = torch.utils.data.DataLoader(data, batch_size=32, shuffle=True, num_workers=1)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    for epoch in range(epochs):
        total = correct = seen = 0
        for images, labels in loader:
            optimizer.zero_grad()
            logits = model(images)
            loss = torch.nn.functional.cross_entropy(logits, labels)
            loss.backward()
            optimizer.step()
            total += float(loss) * len(labels)
            correct += int((logits.argmax(1) == labels).sum())
            seen += len(labels)
        print(f"  pretraining epoch {epoch + 1}: loss {total / seen:.3f}, accuracy {correct / seen:.3f}", flush=True)
    torch.save(model.state_dict(), path)
    return path


def run(finetune, root, weights, backbone, size, bn, output, extra):
    shutil.rmtree(output, ignore_errors=True)
    command = [finetune, "train", "--backbone", backbone, "--data", root, "--weights", weights,
               "--strategy", "two-stage", "--freeze-epochs", "4", "--epochs", "2", "--lr", "1e-3", "--finetune-lr", "1e-4",
               "--batch-size", "32", "--threads", "2", "--input-size", str(size), "--log-every", "1",
               "--seed", "0", "--output", output] + (["--bn", bn] if bn != "default" else []) + list(extra)
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(output, "metrics.jsonl")) as f:
        records = [json.loads(line) for line in f if line.strip()]
    epochs = [r for r in records if r["kind"] == "epoch"]
    steps = [r for r in records if r["kind"] == "step" and r["stage"] == "finetune"]
    last_freeze = [r for r in epochs if r["stage"] == "freeze"][-1]["loss"]
    second = [r for r in epochs if r["stage"] == "finetune"]
    accuracies = [r["val_accuracy"] for r in epochs]
    return {"bn": bn, "freeze_last_loss": last_freeze, "first_steps": [r["loss"] for r in steps[:4]],
            "ratio": steps[0]["loss"] / last_freeze, "val": accuracies,
            "stage2_images_per_second": sum(r["images_per_second"] for r in second) / len(second)}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--finetune", default=".build/release/finetune")
    p.add_argument("--backbone", choices=list(TORCHVISION), default="mobilenet-v2")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--pretrain-epochs", type=int, default=6)
    p.add_argument("--pretrain-data", help="image folder (DIR/<class>/...) to pretrain on instead of the digits 0-4, "
                                           "e.g. colour images, for a backbone from another domain")
    p.add_argument("--bn", nargs="+", default=["train", "frozen"], help="--bn values to compare ('default': none given)")
    p.add_argument("--args", default="", help="more options for finetune train, space-separated")
    p.add_argument("--data", help="folder for the images and the pretrained weights, reused (default: a temporary one)")
    a = p.parse_args()
    torch.set_num_threads(2)
    root = a.data or tempfile.mkdtemp(prefix="stage-change-")
    os.makedirs(root, exist_ok=True)
    make_dataset(root)
    print(f"{root}: {a.pretrain_data or 'digits 0-4'} pretrain {a.backbone} at {a.size} px; two-stage on digits 5-9", flush=True)
    weights = pretrain(root, a.backbone, a.size, a.pretrain_epochs, a.pretrain_data)
    output = tempfile.mkdtemp(prefix="stage-change-run-")
    print(f"{'--bn':8} {'freeze last':>11} {'first finetune steps':>28} {'ratio':>6}   {'val acc per epoch':40} "
          f"{'best':>6} {'last':>6} {'stage 2 img/s':>13}")
    for bn in a.bn:
        r = run(a.finetune, root, weights, a.backbone, a.size, bn, output, a.args.split())
        print(f"{bn:8} {r['freeze_last_loss']:>11.3f} {' '.join(f'{v:.3f}' for v in r['first_steps']):>28} "
              f"{r['ratio']:>5.2f}x   {' '.join(f'{v:.3f}' for v in r['val']):40} {max(r['val']):>6.3f} "
              f"{r['val'][-1]:>6.3f} {r['stage2_images_per_second']:>13.1f}", flush=True)
    shutil.rmtree(output, ignore_errors=True)
    if not a.data:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
