#!/usr/bin/env python3
"""Reference gradients for the gradient-clipping test (train --clip-grad).

Writes Tests/FineTuneCoreTests/Fixtures/clip-grad.json, which TrainingGradientClippingTests
compares against. Both sides build the same inputs from formulas (every value exact in float32):

- two parameters, "a" of 6 values and "b" of 4 (as tools/make_optimizer_fixtures.py);
- at step t (from 1), gradient of parameter k (a: 0, b: 1) at index i:
      SCALE * (((7 i + 3 t + 5 k) % 11 - 5) / 4 + 1/8);
- each case clips them with torch.nn.utils.clip_grad_norm_(max_norm, norm_type=2), which
  scales every gradient by max_norm / (total_norm + 1e-6) when the total norm is over max_norm,
  and records the total norm it returns and the gradients after clipping.

Usage: python tools/make_clip_accumulate_fixtures.py   (needs torch)
"""

import json
import os

import torch

STEPS = 3
CASES = {
    "clipped": {"scale": 4.0, "max_norm": 1.5},
    "around": {"scale": 1.0, "max_norm": 2.55},
    "under": {"scale": 0.25, "max_norm": 5.0},
}


def gradient(k, t, n, scale):
    return torch.tensor([scale * (((7 * i + 3 * t + 5 * k) % 11 - 5) / 4 + 0.125) for i in range(n)])


def run_case(scale, max_norm):
    a = torch.zeros(6, requires_grad=True)
    b = torch.zeros(4, requires_grad=True)
    steps = []
    for t in range(1, STEPS + 1):
        a.grad = gradient(0, t, 6, scale)
        b.grad = gradient(1, t, 4, scale)
        norm = torch.nn.utils.clip_grad_norm_([a, b], max_norm=max_norm, norm_type=2.0, foreach=False)
        steps.append({"norm": float(norm), "a": a.grad.tolist(), "b": b.grad.tolist()})
    return {"scale": scale, "max_norm": max_norm, "steps": steps}


def main():
    fixture = {"steps": STEPS, "cases": {name: run_case(**case) for name, case in CASES.items()}}
    path = os.path.join(os.path.dirname(__file__), "..", "Tests", "FineTuneCoreTests", "Fixtures", "clip-grad.json")
    with open(path, "w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")
    print("wrote", os.path.normpath(path))


if __name__ == "__main__":
    main()
