#!/usr/bin/env python3
"""Data pipeline benchmark: finetune's loader against PIL + torchvision, on the same files.

Runs `finetune bench-data --folder DIR --json` (which writes 500x375 JPEGs and 300x300 gray
PNGs into DIR and times its own loader), then times the classic PyTorch pipeline on those files:

    PIL.Image.open(f).convert("RGB") -> RandomResizedCrop(224) -> RandomHorizontalFlip()
    -> ToTensor() -> Normalize(ImageNet mean, std)

through a torch DataLoader with the same number of workers, batch size 32, one warm-up epoch,
then the same number of timed epochs. The two take turns for --rounds rounds (each keeps its
best, so a busy machine penalises neither). Prints both figures and the ratio.

--auto-augment trivial-wide|rand-augment adds TrivialAugmentWide() / RandAugment() after the
flip and --random-erasing P adds RandomErasing(P) after Normalize, on both sides.

Usage:
    python tools/bench_data.py --finetune "$(swift build -c release --show-bin-path)/finetune"
Needs torch, torchvision and Pillow.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms


KINDS = [("jpeg 500x375", ".jpg"), ("png 300x300 gray", ".png")]


class Files(Dataset):
    """The files of one kind with torchvision's default loader (PIL, convert to RGB)."""

    def __init__(self, paths, transform):
        self.paths = paths
        self.transform = transform

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        with open(self.paths[index], "rb") as f:
            image = Image.open(f).convert("RGB")
        return self.transform(image), 0


POLICIES = {"none": [], "trivial-wide": [transforms.TrivialAugmentWide()], "rand-augment": [transforms.RandAugment()]}


def time_torchvision(paths, size, workers, epochs, auto_augment, random_erasing, batch_size=32):
    transform = transforms.Compose(
        [transforms.RandomResizedCrop(size), transforms.RandomHorizontalFlip()] + POLICIES[auto_augment]
        + [transforms.ToTensor(), transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])]
        + ([transforms.RandomErasing(random_erasing)] if random_erasing > 0 else []))
    loader = DataLoader(Files(paths, transform), batch_size=batch_size, shuffle=True,
                        num_workers=workers, persistent_workers=workers > 0)
    for _ in loader:  # warm-up: starts the workers
        pass
    images = 0
    start = time.perf_counter()
    for _ in range(epochs):
        for batch, _ in loader:
            images += batch.shape[0]
    return images / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--finetune", default="finetune", help="path of the finetune executable")
    parser.add_argument("--count", type=int, default=200, help="images of each kind")
    parser.add_argument("--threads", type=int, default=2, help="decoding threads / DataLoader workers")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs")
    parser.add_argument("--size", type=int, default=224, help="crop size")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds; each side keeps its best")
    parser.add_argument("--auto-augment", choices=sorted(POLICIES), default="none", help="automatic augmentation policy")
    parser.add_argument("--random-erasing", type=float, default=0.0, help="random erasing probability")
    args = parser.parse_args()
    torch.set_num_threads(1)

    # Other work on the machine skews a single measurement, so the two pipelines take turns for
    # --rounds rounds and each keeps its best figure.
    best = {}
    with tempfile.TemporaryDirectory(prefix="finetune-bench-data-") as folder:
        for _ in range(args.rounds):
            output = subprocess.run(
                [args.finetune, "bench-data", "--folder", folder, "--json", "--count", str(args.count),
                 "--threads", str(args.threads), "--epochs", str(args.epochs), "--size", str(args.size),
                 "--auto-augment", args.auto_augment, "--random-erasing", str(args.random_erasing)],
                check=True, capture_output=True, text=True).stdout
            names = sorted(os.listdir(folder))
            for kind, suffix in KINDS:
                paths = [os.path.join(folder, n) for n in names if n.endswith(suffix)]
                theirs = time_torchvision(paths, args.size, args.threads, args.epochs, args.auto_augment, args.random_erasing)
                ours = json.loads(output)[kind]
                old = best.get(kind, (0.0, 0.0))
                best[kind] = (max(old[0], ours), max(old[1], theirs))
    extras = (f" + {args.auto_augment}" if args.auto_augment != "none" else "") + (
        f" + erasing {args.random_erasing}" if args.random_erasing > 0 else "")
    print(f"decode + RandomResizedCrop({args.size}) + flip{extras} + normalise, {args.threads} threads, "
          f"{args.count} files of each kind, {args.epochs} timed epochs, best of {args.rounds} rounds")
    print(f"  {'files':<18} {'finetune':>13} {'PIL+torchvision':>16} {'ratio':>7}")
    for kind, _ in KINDS:
        ours, theirs = best[kind]
        print(f"  {kind:<18} {ours:>8.1f} im/s {theirs:>11.1f} im/s {ours / theirs:>6.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
