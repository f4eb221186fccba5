#!/usr/bin/env python3
"""The README's recommended recipe next to the seed's plain one, on real images with imbalanced classes.

The images: scikit-learn's handwritten digits (1,797 real 8x8 scans shipped inside the package,
no download), as tools/bench_stage_change.py writes them: a backbone pretrained here in PyTorch
on the digits 0-4, fine-tuned on the digits 5-9, which it never saw. The training set is made
imbalanced by keeping a tenth of the images of the digits in --rare (default 8 and 9); the
validation set keeps every class whole, so balanced accuracy and macro-F1 show whether the rare
classes are found.

Each recipe runs `finetune train` with the same pretrained weights, input size, threads and
seed, then `finetune evaluate --json` on the validation images with the run's best model:
    plain         the seed recipe: two-stage, --freeze-epochs 4 --epochs 2 --lr 1e-3 --finetune-lr 1e-4
    plain-longer  the same rates over the recommended recipe's epochs (--freeze-epochs 2 --epochs 8)
    recommended   the README's: those epochs with --lr auto, the balanced sampler, best by balanced
                  accuracy and --ema 0.95
    (and any --recipe NAME="options" given)
The table gives each recipe's accuracy, balanced accuracy and macro-F1, mean and spread over the
seeds, and its wall time.

Run (needs torch, torchvision, scikit-learn, Pillow):
    python tools/bench_recipe.py --finetune .build/release/finetune [--backbone mobilenet-v2] [--size 64]
                                 [--seeds 3] [--rare 8 9] [--recipe NAME="options"]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_stage_change import TORCHVISION, make_dataset, pretrain  # noqa: E402

SEED = "--strategy two-stage --freeze-epochs 4 --epochs 2 --lr 1e-3 --finetune-lr 1e-4 --batch-size 32"
LONGER = "--strategy two-stage --freeze-epochs 2 --epochs 8 --finetune-lr 1e-4 --batch-size 32"
RECIPES = {
    "plain": SEED,
    "plain-longer": LONGER + " --lr 1e-3",
    "recommended": LONGER + " --lr auto --sampler balanced --best-metric balanced-accuracy --ema 0.95",
}


def imbalanced(root, rare, keep):
    """DIR/imbalanced/{train,val}: the digits 5-9, the rare digits' training images cut to `keep` of them."""
    out = os.path.join(root, "imbalanced")
    if os.path.exists(os.path.join(out, ".complete")):
        return out
    shutil.rmtree(out, ignore_errors=True)
    for split in ("train", "val"):
        for name in sorted(os.listdir(os.path.join(root, split))):
            files = sorted(os.listdir(os.path.join(root, split, name)))
            if split == "train" and int(name.split("-")[1]) in rare:
                files = files[:max(1, round(len(files) * keep))]
            os.makedirs(os.path.join(out, split, name))
            for f in files:
                shutil.copy(os.path.join(root, split, name, f), os.path.join(out, split, name, f))
    open(os.path.join(out, ".complete"), "w").close()
    return out


def run(finetune, data, weights, backbone, size, options, seed, output):
    shutil.rmtree(output, ignore_errors=True)
    command = [finetune, "train", "--backbone", backbone, "--data", data, "--weights", weights,
               "--input-size", str(size), "--threads", "2", "--seed", str(seed), "--output", output] + options.split()
    start = time.time()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    seconds = time.time() - start
    evaluated = subprocess.run([finetune, "evaluate", "--model", os.path.join(output, "best.safetensors"),
                                "--data", os.path.join(data, "val"), "--json"], check=True, capture_output=True, text=True)
    r = json.loads(evaluated.stdout)
    with open(os.path.join(output, "training-state.json")) as f:
        state = json.load(f)
    return {"accuracy": r["accuracy"], "balanced_accuracy": r["balanced_accuracy"], "macro_f1": r["macro_f1"],
            "seconds": seconds, "lr": state["options"]["lr"], "ema_best": bool(state.get("bestFromAverage"))}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--finetune", default=".build/release/finetune")
    p.add_argument("--backbone", choices=list(TORCHVISION), default="mobilenet-v2")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--pretrain-epochs", type=int, default=6)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--rare", type=int, nargs="+", default=[8, 9], help="digits (5-9) kept at --keep of their training images")
    p.add_argument("--keep", type=float, default=0.1)
    p.add_argument("--recipe", action="append", default=[], help='NAME="finetune train options" (replaces or adds one)')
    p.add_argument("--only", nargs="+", help="the recipes to run (default: all)")
    p.add_argument("--data", help="folder for the images and the pretrained weights, reused (default: a temporary one)")
    a = p.parse_args()
    torch.set_num_threads(2)
    recipes = dict(RECIPES)
    for r in a.recipe:
        name, _, options = r.partition("=")
        recipes[name] = options
    if a.only:
        recipes = {k: v for k, v in recipes.items() if k in a.only}
    root = a.data or tempfile.mkdtemp(prefix="recipe-")
    os.makedirs(root, exist_ok=True)
    make_dataset(root)
    weights = pretrain(root, a.backbone, a.size, a.pretrain_epochs)
    data = imbalanced(root, set(a.rare), a.keep)
    counts = {n: len(os.listdir(os.path.join(data, "train", n))) for n in sorted(os.listdir(os.path.join(data, "train")))}
    print(f"{a.backbone} pretrained on the digits 0-4 at {a.size} px; training images per class: {counts}", flush=True)
    output = tempfile.mkdtemp(prefix="recipe-run-")
    print(f"{'recipe':14} {'accuracy':>15} {'balanced acc.':>15} {'macro-F1':>15} {'seconds':>8}  lr per seed, best from EMA")
    for name, options in recipes.items():
        results = [run(a.finetune, data, weights, a.backbone, a.size, options, seed, output) for seed in range(a.seeds)]

        def stat(key):
            values = [r[key] for r in results]
            spread = statistics.stdev(values) if len(values) > 1 else 0
            return f"{statistics.mean(values):.3f} ± {spread:.3f}"
        lrs = " ".join(f"{r['lr']:.2g}{'*' if r['ema_best'] else ''}" for r in results)
        print(f"{name:14} {stat('accuracy'):>15} {stat('balanced_accuracy'):>15} {stat('macro_f1'):>15} "
              f"{statistics.mean(r['seconds'] for r in results):>8.1f}  {lrs}", flush=True)
        print(f"  {name}: finetune train {options}", flush=True)
    shutil.rmtree(output, ignore_errors=True)
    if not a.data:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
