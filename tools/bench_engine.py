#!/usr/bin/env python3
"""Engine throughput against PyTorch, side by side in one run on this machine.

For each backbone at its native resolution and batch 32 (as `finetune bench`): inference
images/s (ours: every layer frozen, BN folded; PyTorch: eval, channels_last, inference_mode)
and training-step images/s (forward, backward, SGD update, every layer trainable; PyTorch:
train mode, channels_last). Both use 2 threads. Ours and PyTorch's runs alternate per
backbone, and each side reports the median of --steps timed batches after one warm-up. The
last column is what finetune's data loader supplies at the backbone's size (500x375 JPEGs
decoded, randomly resized and cropped, flipped, normalised; train's default workers): above the
engine's images/s, decoding keeps it fed.

--memory: peak resident memory of a full training step (warm-up step plus one timed step) at
--batch, each side in a fresh process: ours `finetune bench --only training`, PyTorch this script
with --torch-memory. --scaling: images/s at 1 and 2 threads and at batch 8, 32 and 64.

Run (needs torch and torchvision):
    python tools/bench_engine.py --finetune .build/release/finetune [--backbone resnet18 ...] [--steps 3]
    python tools/bench_engine.py --finetune .build/release/finetune --memory
    python tools/bench_engine.py --finetune .build/release/finetune --scaling [--steps 2]
"""
import argparse
import json
import resource
import sys
import statistics
import subprocess
import time

import torch
import torchvision

MODELS = {"resnet18": ("resnet18", 224), "mobilenet-v2": ("mobilenet_v2", 224),
          "efficientnet-b3": ("efficientnet_b3", 300), "shufflenet-v2-x1.0": ("shufflenet_v2_x1_0", 224),
          "resnet34": ("resnet34", 224), "resnet50": ("resnet50", 224), "efficientnet-b0": ("efficientnet_b0", 224),
          "regnet-y-800mf": ("regnet_y_800mf", 224), "efficientnet-v2-s": ("efficientnet_v2_s", 384),
          "densenet121": ("densenet121", 224), "mobilenet-v3-large": ("mobilenet_v3_large", 224),
          "convnext-tiny": ("convnext_tiny", 224)}


def timed(steps, body):
    body()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        body()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def torch_bench(name, batch, steps, threads=2, modes=("inference", "training")):
    torch.set_num_threads(threads)
    tv, size = MODELS[name]
    model = getattr(torchvision.models, tv)(weights=None).to(memory_format=torch.channels_last)
    x = torch.randn(batch, 3, size, size).to(memory_format=torch.channels_last)
    labels = torch.arange(batch) % 1000
    model.eval()

    def infer():
        with torch.inference_mode():
            model(x)

    inference = timed(steps, infer) if "inference" in modes else None
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)

    def step():
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), labels).backward()
        opt.step()

    training = timed(steps, step) if "training" in modes else None
    return (batch / inference if inference else None), (batch / training if training else None)


def ours(finetune, name, batch, steps, threads=2, only=None, data=False):
    """finetune bench's JSON; with `data`, also what its data loader supplies at the backbone's size."""
    cmd = [finetune, "bench", "--json", "--backbone", name, "--batch", str(batch),
           "--steps", str(steps), "--threads", str(threads)] + ([] if data else ["--workers", "0"])
    if only:
        cmd += ["--only", only]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def speed(a):
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, batch {a.batch}, 2 threads, median of {a.steps}")
    print(f"{'backbone':16} {'inference img/s':>28} {'ratio':>6}   {'training img/s':>26} {'ratio':>6}   {'ours GFLOP/s inf/train':>22}"
          f"   {'data img/s':>10}")
    print(f"{'':16} {'finetune':>13} {'pytorch':>14} {'':>6}   {'finetune':>12} {'pytorch':>13}")
    for name in a.backbone or list(MODELS):
        r = ours(a.finetune, name, a.batch, a.steps, data=True)
        oi, ot = r["inference_images_per_second"], r["training_images_per_second"]
        ti, tt = torch_bench(name, a.batch, a.steps)
        print(f"{name:16} {oi:13.1f} {ti:14.1f} {oi / ti:6.2f}x   {ot:12.2f} {tt:13.2f} {ot / tt:6.2f}x   "
              f"{r['inference_gflops_per_second']:10.1f} {r['training_gflops_per_second']:10.1f}"
              f"   {r['data_images_per_second']:10.1f}", flush=True)


def torch_memory(name, batch):
    """One warm-up and one timed training step in this (fresh) process; prints peak RSS in bytes."""
    torch_bench(name, batch, 1, modes=("training",))
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)


def memory(a):
    print(f"peak RSS of a full training step (every layer trainable), batch {a.batch}, 2 threads, fresh process each")
    print(f"{'backbone':16} {'finetune GB':>12} {'pytorch GB':>11} {'ratio':>6}")
    for name in a.backbone or list(MODELS):
        mine = ours(a.finetune, name, a.batch, 1, only="training")["peak_rss_bytes"]
        out = subprocess.run([sys.executable, __file__, "--torch-memory", name, "--batch", str(a.batch)],
                             check=True, capture_output=True, text=True)
        theirs = int(out.stdout.strip().splitlines()[-1])
        print(f"{name:16} {mine / 1e9:12.2f} {theirs / 1e9:11.2f} {mine / theirs:6.2f}x", flush=True)


def scaling(a):
    print(f"images/s by threads and batch, median of {a.steps} (ratio = finetune / pytorch)")
    print(f"{'backbone':16} {'thr':>3} {'batch':>5}   {'inference':>9} {'pytorch':>8} {'ratio':>6}   {'training':>8} {'pytorch':>8} {'ratio':>6}")
    for name in a.backbone or list(MODELS):
        for threads in (1, 2):
            for batch in (8, 32, 64):
                r = ours(a.finetune, name, batch, a.steps, threads=threads)
                oi, ot = r["inference_images_per_second"], r["training_images_per_second"]
                ti, tt = torch_bench(name, batch, a.steps, threads=threads)
                print(f"{name:16} {threads:3d} {batch:5d}   {oi:9.1f} {ti:8.1f} {oi / ti:5.2f}x   "
                      f"{ot:8.2f} {tt:8.2f} {ot / tt:5.2f}x", flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--finetune", default=".build/release/finetune")
    p.add_argument("--backbone", action="append")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--memory", action="store_true", help="peak RSS of a training step instead of speed")
    p.add_argument("--scaling", action="store_true", help="threads 1 and 2 by batch 8, 32 and 64")
    p.add_argument("--torch-memory", metavar="BACKBONE", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.torch_memory:
        torch_memory(a.torch_memory, a.batch)
    elif a.memory:
        memory(a)
    elif a.scaling:
        scaling(a)
    else:
        speed(a)


if __name__ == "__main__":
    main()
