"""Fixtures for mixup, CutMix and the soft-target loss, from timm and PyTorch themselves.

Writes Tests/FineTuneCoreTests/Fixtures/mixup.json:
  - soft_loss: logits, timm's mixup_target soft targets, class weights; the loss and its gradient
    from torch.nn.functional.cross_entropy with probability targets (with and without weights)
  - mixup / cutmix: a batch (NHWC) mixed by timm's Mixup in batch mode with lam (and, for CutMix,
    the box centre) fixed, the mixed batch, the targets and the corrected lam.

Run: python tools/make_mixup_fixtures.py (needs torch, numpy and timm).
"""
import json
import pathlib

import numpy as np
import torch
import torch.nn.functional as F
import timm.data.mixup as mixup

OUT = pathlib.Path(__file__).resolve().parent.parent / "Tests/FineTuneCoreTests/Fixtures/mixup.json"
CLASSES, SMOOTHING = 5, 0.1


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def soft_loss():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(4, CLASSES, generator=g) * 2
    labels = torch.tensor([0, 3, 1, 3])
    targets = mixup.mixup_target(labels, CLASSES, lam=0.7, smoothing=SMOOTHING)
    weights = torch.rand(CLASSES, generator=g) + 0.5
    cases = []
    for w in (None, weights):
        x = logits.clone().requires_grad_(True)
        loss = F.cross_entropy(x, targets, weight=w)
        loss.backward()
        cases.append({"weights": None if w is None else flat(w), "loss": float(loss.detach()), "grad": flat(x.grad)})
    return {"logits": flat(logits), "targets": flat(targets), "labels": labels.tolist(), "cases": cases}


def mixed(lam, cutmix, centre=None):
    """timm's Mixup on a fixed batch with its draws fixed: lam, and CutMix's box centre."""
    g = torch.Generator().manual_seed(2)
    x = torch.rand(4, 3, 5, 6, generator=g)  # NCHW, as timm takes it
    labels = torch.tensor([2, 0, 4, 1])
    m = mixup.Mixup(mixup_alpha=0 if cutmix else 1.0, cutmix_alpha=1.0 if cutmix else 0,
                    label_smoothing=SMOOTHING, num_classes=CLASSES)
    m._params_per_batch = lambda: (lam, cutmix)
    draws = iter(centre or [])
    real_randint = np.random.randint
    np.random.randint = lambda low, high=None, size=None: next(draws)
    try:
        out, targets = m(x.clone(), labels)
        corrected = float(targets[0, labels[0]] - SMOOTHING / CLASSES) / (1 - SMOOTHING) if labels[0] != labels[3] else None
    finally:
        np.random.randint = real_randint
    return {"lam": lam, "centre": centre, "labels": labels.tolist(),
            "images": flat(x.permute(0, 2, 3, 1)), "mixed": flat(out.permute(0, 2, 3, 1)),
            "targets": flat(targets), "corrected_lam": corrected}


def main():
    fixture = {
        "classes": CLASSES, "smoothing": SMOOTHING, "height": 5, "width": 6,
        "soft_loss": soft_loss(),
        "mixup": [mixed(0.7, False), mixed(0.25, False)],
        "cutmix": [mixed(0.6, True, [2, 4]), mixed(0.1, True, [0, 0]), mixed(0.95, True, [4, 5]), mixed(0.5, True, [3, 1])],
    }
    OUT.write_text(json.dumps(fixture, indent=None, separators=(",", ":")) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
