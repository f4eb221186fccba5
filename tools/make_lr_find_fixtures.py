#!/usr/bin/env python3
"""Reference values for the learning-rate finder tests (TrainingLearningRateFinderTests).

Writes Tests/FineTuneCoreTests/Fixtures/lr-find.json from fastai's own functions, fed a fixed
sequence of raw losses per case instead of a model:

- the rates: fastai.callback.schedule.SchedExp(start_lr, end_lr) at pos = train_iter / num_it,
  as LRFinder.before_batch sets them;
- the smoothed loss: fastai.learner.AvgSmoothLoss(beta=0.98).accumulate / .value, as the
  Recorder records it after each batch;
- the stop rule: LRFinder.after_batch, repeated below line for line (it runs inside a fit);
- the curve: Learner.lr_find's trimming, repeated below (`[num_it//10:-5]`, cut at the first
  NaN);
- the suggestions: fastai.callback.schedule.valley, steep and minimum on that curve, and on a
  few small curves directly (among them valley's negative index).

"sequence" cases feed each raw loss in turn; a NaN loss is followed by NaNs to num_it, as
fastai records them (a NaN never exceeds 4 times the best, so fastai trains on).

Usage: python tools/make_lr_find_fixtures.py   (needs fastai, torch and numpy)
"""

import json
import math
import os
import types

import numpy as np
import torch
from fastai.callback.schedule import SchedExp, minimum, steep, valley
from fastai.learner import AvgSmoothLoss

SUGGESTERS = {"valley": valley, "steep": steep, "minimum": minimum}


def number(x):
    x = float(x)
    return x if math.isfinite(x) else str(x)


def suggestions(lrs, losses, num_it):
    out = {}
    for name, func in SUGGESTERS.items():
        lr, (marked_lr, marked_loss) = func(lrs, losses, num_it)
        out[name] = {"lr": float(lr), "marked_lr": float(marked_lr), "marked_loss": float(marked_loss)}
    return out


def sweep(raw, start_lr, end_lr, num_it):
    """LRFinder + Recorder on `raw` losses: the recorded rates and smoothed losses."""
    sched = SchedExp(start_lr, end_lr)
    smooth = AvgSmoothLoss(beta=0.98)
    smooth.reset()
    learn = types.SimpleNamespace()
    lrs, losses = [], []
    best_loss = float("inf")
    train_iter = 0
    for loss in raw:
        lr = sched(train_iter / num_it)          # LRFinder.before_batch
        learn.loss = torch.tensor(loss)          # the batch's loss
        train_iter += 1                          # TrainEvalCallback.after_batch (order -10)
        smooth.accumulate(learn)                 # Recorder.after_batch (order 50)
        lrs.append(lr)
        losses.append(smooth.value)
        smooth_loss = smooth.value               # LRFinder.after_batch (order 60):
        if smooth_loss < best_loss: best_loss = smooth_loss
        if smooth_loss > 4 * best_loss: break    # stop_div
        if train_iter >= num_it: break
    return lrs, losses


def curve(lrs, losses, num_it):
    """Learner.lr_find's trimmed curve."""
    lrs, losses = torch.tensor(lrs[num_it // 10:-5]), torch.tensor(losses[num_it // 10:-5])
    nan_idxs = torch.nonzero(torch.isnan(losses.view(-1)))
    if len(nan_idxs) > 0:
        drop_idx = min(nan_idxs)
        lrs = lrs[:drop_idx]
        losses = losses[:drop_idx]
    return lrs, losses


def sequence_case(name, raw, start_lr=1e-7, end_lr=10.0, num_it=100):
    lrs, losses = sweep(raw, start_lr, end_lr, num_it)
    c_lrs, c_losses = curve(lrs, [l.reshape(()) for l in losses], num_it)
    return {
        "name": name, "start_lr": start_lr, "end_lr": end_lr, "num_it": num_it,
        "raw_losses": [number(x) for x in raw],
        "lrs": [float(x) for x in lrs], "smoothed": [number(x) for x in losses],
        "curve_lrs": [float(x) for x in c_lrs], "curve_losses": [float(x) for x in c_losses],
        "suggestions": suggestions(c_lrs, c_losses, num_it),
    }


def typical_losses(num_it, start_lr, end_lr, seed, blow_up=True):
    """A range test's usual shape: flat, falling, a valley, then (blow_up) a steep rise."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(num_it):
        x = math.log10(start_lr * (end_lr / start_lr) ** (i / num_it))
        loss = 2.3 - 1.6 / (1 + math.exp(-2.2 * (x + 3.5)))
        if blow_up: loss += math.exp(3 * (x + 1.0))
        out.append(float(np.float32(loss + rng.normal(0, 0.04))))
    return out


def main():
    cases = [
        sequence_case("diverges", typical_losses(100, 1e-7, 10.0, seed=1)),
        sequence_case("completes", typical_losses(60, 1e-6, 1e-1, seed=2, blow_up=False), 1e-6, 1e-1, 60),
    ]
    with_nan = typical_losses(100, 1e-7, 10.0, seed=3, blow_up=False)
    with_nan = with_nan[:72] + [float("nan")] * 28
    cases.append(sequence_case("not a number", with_nan))

    direct = []
    for losses in ([3.0, 2.0], [2.0, 1.5, 1.7, 1.2, 1.0, 1.1, 0.9, 1.4], [1.0, 0.9, 0.5, 0.5, 0.7, 0.2]):
        lrs = torch.tensor([1e-5 * 10 ** (k / 4) for k in range(len(losses))])
        t = torch.tensor(losses)
        direct.append({"lrs": [float(x) for x in lrs], "losses": losses, "suggestions": suggestions(lrs, t, 100)})

    path = os.path.join(os.path.dirname(__file__), "..", "Tests", "FineTuneCoreTests", "Fixtures", "lr-find.json")
    with open(path, "w") as f:
        json.dump({"sequences": cases, "direct": direct}, f, indent=1)
        f.write("\n")
    print("wrote", os.path.normpath(path))


if __name__ == "__main__":
    main()
