#!/usr/bin/env python3
"""Reference parameter values and learning rates for the optimiser and schedule tests.

Writes Tests/FineTuneCoreTests/Fixtures/optimizers.json, which TrainingOptimizerTests compares
against. Both sides build the same inputs from formulas (every value exact in float32):

- two parameters, "a" of 6 values and "b" of 4, starting at
      a[i] = (i - 2.5) / 2,  b[i] = 0.5 + i / 4;
- at step t (from 1), gradient of parameter k (a: 0, b: 1) at index i:
      ((7 i + 3 t + 5 k) % 11 - 5) / 4 + 1/8;
- "b" has no gradient (grad None) before step JOIN, so it joins training late and its
  per-parameter step count (Adam's bias correction) starts then;
- "a" and "b" are separate parameter groups with learning rates LR_A and LR_B.

Schedules: each torch scheduler over TOTAL steps with base lr BASE_LR; "lrs" holds the rate
of steps 0..TOTAL-1 (get_last_lr() before each scheduler.step()).

Usage: python tools/make_optimizer_fixtures.py   (needs torch)
"""

import json
import os

import torch

STEPS, JOIN = 5, 3
LR_A, LR_B = 0.1, 0.05
TOTAL, BASE_LR = 20, 0.1

OPTIMIZERS = {
    "sgd": ("sgd", dict(momentum=0.9, weight_decay=0.01)),
    "sgd-nesterov": ("sgd", dict(momentum=0.9, nesterov=True, weight_decay=0.01)),
    "sgd-plain": ("sgd", dict(momentum=0.0, weight_decay=0.0)),
    "adam": ("adam", dict(weight_decay=0.01)),
    "adamw": ("adamw", dict(weight_decay=0.01)),
}


def gradient(k, t, n):
    return torch.tensor([((7 * i + 3 * t + 5 * k) % 11 - 5) / 4 + 0.125 for i in range(n)])


def run_optimizer(kind, options):
    a = torch.tensor([(i - 2.5) / 2 for i in range(6)], requires_grad=True)
    b = torch.tensor([0.5 + i / 4 for i in range(4)], requires_grad=True)
    groups = [{"params": [a], "lr": LR_A}, {"params": [b], "lr": LR_B}]
    make = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[kind]
    opt = make(groups, lr=LR_A, foreach=False, **options)
    steps = []
    for t in range(1, STEPS + 1):
        a.grad = gradient(0, t, 6)
        b.grad = gradient(1, t, 4) if t >= JOIN else None
        opt.step()
        steps.append({"a": a.detach().tolist(), "b": b.detach().tolist()})
    record = {"kind": kind, "steps": steps}
    record.update({key: float(value) if not isinstance(value, bool) else value for key, value in options.items()})
    return record


def schedule_lrs(make):
    param = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([param], lr=BASE_LR, momentum=0.9)
    scheduler = make(opt)
    lrs = []
    for _ in range(TOTAL):
        lrs.append(scheduler.get_last_lr()[0])
        opt.step()
        scheduler.step()
    return lrs


def warmed(make_inner, warmup, start_factor):
    def make(opt):
        linear = torch.optim.lr_scheduler.LinearLR(opt, start_factor=start_factor, total_iters=warmup)
        return torch.optim.lr_scheduler.SequentialLR(opt, [linear, make_inner(opt, TOTAL - warmup)],
                                                     milestones=[warmup])
    return make


def main():
    S = torch.optim.lr_scheduler
    cosine = lambda opt, total: S.CosineAnnealingLR(opt, T_max=total, eta_min=0.001)
    step = lambda opt, total: S.StepLR(opt, step_size=6, gamma=0.5)
    one_cycle = lambda opt, total: S.OneCycleLR(opt, max_lr=BASE_LR, total_steps=total, cycle_momentum=False)
    # "spec" is the text LearningRateSchedule parses; warm-up steps and start factor are separate.
    schedules = {
        "cosine": {"spec": "cosine:0.001", "lrs": schedule_lrs(lambda o: cosine(o, TOTAL))},
        "step": {"spec": "step:6:0.5", "lrs": schedule_lrs(lambda o: step(o, TOTAL))},
        "onecycle": {"spec": "onecycle", "lrs": schedule_lrs(lambda o: one_cycle(o, TOTAL))},
        "warmup-cosine": {"spec": "cosine:0.001", "warmup": 4, "start_factor": 0.25,
                          "lrs": schedule_lrs(warmed(cosine, 4, 0.25))},
        "warmup-step": {"spec": "step:6:0.5", "warmup": 3, "start_factor": 1 / 3,
                        "lrs": schedule_lrs(warmed(step, 3, 1 / 3))},
    }
    fixture = {
        "steps": STEPS, "join": JOIN, "lr_a": LR_A, "lr_b": LR_B,
        "optimizers": {name: run_optimizer(kind, options) for name, (kind, options) in OPTIMIZERS.items()},
        "total": TOTAL, "base_lr": BASE_LR, "schedules": schedules,
    }
    path = os.path.join(os.path.dirname(__file__), "..", "Tests", "FineTuneCoreTests", "Fixtures", "optimizers.json")
    with open(path, "w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")
    print("wrote", os.path.normpath(path))


if __name__ == "__main__":
    main()
