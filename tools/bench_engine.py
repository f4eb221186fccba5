#!/usr/bin/env python3
"""Engine throughput against PyTorch, side by side in one run on this machine.

For each backbone at its native resolution and batch 32 (as `finetune bench`): inference
images/s (ours: every layer frozen, BN folded; PyTorch: eval, channels_last, inference_mode)
and training-step images/s (forward, backward, SGD update, every layer trainable; PyTorch:
train mode, channels_last). Both use 2 threads. Ours and PyTorch's runs alternate per
backbone, and each side reports the median of --steps timed batches after one warm-up.

Run (needs torch and torchvision):
    python tools/bench_engine.py --finetune .build/release/finetune [--backbone resnet18 ...] [--steps 3]
"""
import argparse
import json
import statistics
import subprocess
import time

import torch
import torchvision

MODELS = {"resnet18": ("resnet18", 224), "mobilenet-v2": ("mobilenet_v2", 224),
          "efficientnet-b3": ("efficientnet_b3", 300)}


def timed(steps, body):
    body()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        body()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def torch_bench(name, batch, steps):
    tv, size = MODELS[name]
    model = getattr(torchvision.models, tv)(weights=None).to(memory_format=torch.channels_last)
    x = torch.randn(batch, 3, size, size).to(memory_format=torch.channels_last)
    labels = torch.arange(batch) % 1000
    model.eval()

    def infer():
        with torch.inference_mode():
            model(x)

    inference = timed(steps, infer)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)

    def step():
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), labels).backward()
        opt.step()

    training = timed(steps, step)
    return batch / inference, batch / training


def ours(finetune, name, batch, steps):
    out = subprocess.run([finetune, "bench", "--json", "--backbone", name, "--batch", str(batch),
                          "--steps", str(steps), "--threads", "2"], check=True, capture_output=True, text=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    return r["inference_images_per_second"], r["training_images_per_second"], r["forward_gflops_per_image"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--finetune", default=".build/release/finetune")
    p.add_argument("--backbone", action="append")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=3)
    a = p.parse_args()
    torch.set_num_threads(2)
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, batch {a.batch}, 2 threads, median of {a.steps}")
    print(f"{'backbone':16} {'inference img/s':>28} {'ratio':>6}   {'training img/s':>26} {'ratio':>6}   {'ours GFLOP/s inf/train':>22}")
    print(f"{'':16} {'finetune':>13} {'pytorch':>14} {'':>6}   {'finetune':>12} {'pytorch':>13}")
    for name in a.backbone or list(MODELS):
        oi, ot, gflop = ours(a.finetune, name, a.batch, a.steps)
        ti, tt = torch_bench(name, a.batch, a.steps)
        print(f"{name:16} {oi:13.1f} {ti:14.1f} {oi / ti:6.2f}x   {ot:12.2f} {tt:13.2f} {ot / tt:6.2f}x   "
              f"{oi * gflop:10.1f} {ot * 3 * gflop:10.1f}", flush=True)


if __name__ == "__main__":
    main()
