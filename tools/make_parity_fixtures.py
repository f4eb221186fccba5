#!/usr/bin/env python3
"""Reference outputs from torchvision for the engine's parity tests.

For each backbone in CASES below (torchvision's resnet18, mobilenet_v2, efficientnet_b3, ...) with
a 10-class linear head, at a reduced input size, this script:
  - fills every parameter and BN buffer from a counter-based generator that the Swift tests
    reproduce bit for bit (SplitMix64's mix of seed ^ FNV-1a(name) + (i+1) * golden ratio),
  - runs eval mode: the logits;
  - runs one training-mode forward and backward (stochastic depth off, as the Swift side):
    the logits, the cross-entropy loss, every parameter's gradient (its L2 norm and 32
    sampled entries), and sampled running statistics after the batch.
It writes Tests/FineTuneCoreTests/Fixtures/parity.json (the first three, a few hundred KB) and
parity-<backbone>.json for each later one, so adding a backbone leaves the others' files alone.

Run (needs torch and torchvision):  python tools/make_parity_fixtures.py [BACKBONE ...]
(default: every file; naming a backbone rewrites the file that holds it)
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torchvision

SEED = 2024
GOLDEN = np.uint64(0x9E3779B97F4A7C15)
MASK64 = (1 << 64) - 1
# Input sizes where the training-mode gradients and the eval logits are well conditioned: torch's
# own float32 result agrees with its float64 result within 2e-4 (printed as "conditioning" below). With
# batch statistics over only a few values per channel, some sizes amplify rounding to 1e-2,
# which would test rounding rather than the implementation.
CASES = [("resnet18", "resnet18", "fc", 64), ("mobilenet-v2", "mobilenet_v2", "classifier", 160),
         ("efficientnet-b3", "efficientnet_b3", "classifier", 64),
         ("shufflenet-v2-x1.0", "shufflenet_v2_x1_0", "fc", 96), ("resnet34", "resnet34", "fc", 64),
         ("efficientnet-b0", "efficientnet_b0", "classifier", 64), ("regnet-y-800mf", "regnet_y_800mf", "fc", 64),
         ("efficientnet-v2-s", "efficientnet_v2_s", "classifier", 128),
         ("mobilenet-v3-large", "mobilenet_v3_large", "classifier.3", 64),
         ("convnext-tiny", "convnext_tiny", "classifier.2", 64)]
# resnet50 and densenet121 are not here: with batch statistics over 2 samples their float32
# gradients stay 3e-3 to 6e-2 from float64 at every size tried (resnet50 32 to 160 px, batch 2 and
# 4; densenet121 64 to 160 px); make_frozen_bn_fixtures.py covers them.
SHARED_FILE = ("resnet18", "mobilenet-v2", "efficientnet-b3")  # parity.json; later backbones get their own
BATCH, CLASSES, SAMPLES = 2, 10, 32
LABELS = [3, 7]


def fnv1a(text):
    h = 0xCBF29CE484222325
    for b in text.encode():
        h = ((h ^ b) * 0x100000001B3) & MASK64
    return h


def uniform(key, count):
    """count floats in [0, 1) with 24 random bits, from (SEED, key)."""
    with np.errstate(over="ignore"):
        z = np.uint64(SEED ^ fnv1a(key)) + (np.arange(count, dtype=np.uint64) + np.uint64(1)) * GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(40)).astype(np.float32) * np.float32(1.0 / 16777216)


def symmetric(key, count, scale):
    """Uniform in [-scale, scale), computed in float32 exactly as the Swift side does."""
    return (np.float32(2) * uniform(key, count) - np.float32(1)) * np.float32(scale)


def tensor_values(name, shape):
    count = int(np.prod(shape)) if shape else 1
    if name.endswith("num_batches_tracked"):
        return None
    if name.endswith("running_var"):
        return np.float32(0.5) + uniform(name, count)
    if name.endswith("running_mean") or name.endswith(".bias"):
        return symmetric(name, count, 0.1)
    if len(shape) == 1:  # BN weight
        return np.float32(0.5) + uniform(name, count)
    fan_in = int(np.prod(shape[1:]))
    return symmetric(name, count, math.sqrt(6.0 / fan_in))


def sample_indices(name, count):
    u = uniform(name + "#sample", SAMPLES)
    return sorted(set(int(x) for x in (u.astype(np.float64) * count).astype(np.int64)))


def summarise(name, t):
    flat = t.detach().reshape(-1).double()
    idx = sample_indices(name, flat.numel())
    return {"norm": float(flat.norm()), "index": idx, "value": [float(flat[i]) for i in idx]}


def reference_model_and_input(tv_name, head_attr, size, dtype):
    """The model filled from the counter-based generator, and the input batch, in `dtype`."""
    model = build(tv_name, head_attr)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            v = tensor_values(ours(name, head_attr), list(t.shape))
            if v is not None:
                t.copy_(torch.from_numpy(v).reshape(t.shape))
    model = model.to(dtype)
    # NCHW for torch; the Swift side fills NHWC from the same (n, c, h, w)-ordered values.
    x = torch.from_numpy(symmetric("input", BATCH * 3 * size * size, 1.0)).reshape(BATCH, 3, size, size).to(dtype)
    return model, x


def run(tv_name, head_attr, size, dtype):
    """Eval logits, then one training-mode forward and backward, in `dtype`."""
    model, x = reference_model_and_input(tv_name, head_attr, size, dtype)
    model.eval()
    with torch.no_grad():
        eval_logits = model(x)
    model.train()
    logits = model(x)
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor(LABELS))
    loss.backward()
    return model, eval_logits.detach(), logits.detach(), float(loss.detach())


def build(tv_name, head_attr):
    """The model with a new 10-class classifier in place of `head_attr`: `fc`, `classifier` (a
    Linear, or a Sequential whose Dropout and Linear it replaces), or `classifier.K` (the last layer
    alone: MobileNetV3's classifier.3, ConvNeXt's classifier.2; the layers before it belong to the
    backbone). Random layers are off."""
    model = getattr(torchvision.models, tv_name)(weights=None)
    if head_attr == "fc":
        model.fc = torch.nn.Linear(model.fc.in_features, CLASSES)
    elif head_attr.startswith("classifier."):  # the layers before it belong to the backbone
        k = int(head_attr.split(".")[1])
        model.classifier[k] = torch.nn.Linear(model.classifier[k].in_features, CLASSES)
    elif isinstance(model.classifier, torch.nn.Linear):  # DenseNet
        model.classifier = torch.nn.Linear(model.classifier.in_features, CLASSES)
    else:
        model.classifier = torch.nn.Sequential(torch.nn.Identity(), torch.nn.Linear(model.classifier[1].in_features, CLASSES))
    for m in model.modules():
        if type(m).__name__ == "StochasticDepth" or isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    return model


def ours(name, head_attr):
    """Our tensor name for a torchvision key: the new classifier is head.*."""
    for prefix in (head_attr + ".1.", head_attr + "."):
        if name.startswith(prefix):
            return "head." + name[len(prefix):]
    return name


def fixture_files(cases, shared, stem, requested):
    """{file name: its cases} for the files that hold the `requested` backbones (all when none):
    STEM.json holds the `shared` ones, STEM-<backbone>.json each later one."""
    def name(key):
        return f"{stem}.json" if key in shared else f"{stem}-{key}.json"
    known = [case[0] for case in cases]
    unknown = [k for k in requested if k not in known]
    if unknown:
        sys.exit(f"unknown backbone {', '.join(unknown)}; known: {', '.join(known)}")
    files = {name(k) for k in requested or known}
    return {f: [case for case in cases if name(case[0]) == f] for f in sorted(files)}


def main():
    torch.set_num_threads(2)
    for name, cases in fixture_files(CASES, SHARED_FILE, "parity", sys.argv[1:]).items():
        write_fixture(reference(cases), name)


def reference(cases):
    """The fixture's contents for `cases`."""
    out = {"seed": SEED, "batch": BATCH, "classes": CLASSES, "torch": torch.__version__,
           "torchvision": torchvision.__version__, "models": {}}
    for key, tv_name, head_attr, size in cases:
        model, eval_logits, logits, loss = run(tv_name, head_attr, size, torch.float64)
        single_model, single_eval = run(tv_name, head_attr, size, torch.float32)[:2]
        single = dict(single_model.named_parameters())
        # Eval logits condition on their own: deep nets in eval mode can amplify float32 rounding
        # (efficientnet-v2-s at 96 px: torch's float32 logits 38% from its float64 ones).
        eval_conditioning = float((single_eval.double() - eval_logits).abs().max() / eval_logits.abs().max())
        largest = max(float(p.grad.norm()) for p in model.parameters())
        conditioning = max(float((single[n].grad.double() - p.grad).norm()) / max(float(p.grad.norm()), 1e-3 * largest)
                           for n, p in model.named_parameters())
        grads = {ours(n, head_attr): summarise(ours(n, head_attr), p.grad) for n, p in model.named_parameters()}
        buffers = {ours(n, head_attr): summarise(ours(n, head_attr), b) for n, b in model.named_buffers()
                   if n.endswith("running_mean") or n.endswith("running_var")}
        out["models"][key] = {
            "input_size": size, "labels": LABELS,
            "eval_logits": eval_logits.reshape(-1).tolist(),
            "train_logits": logits.detach().reshape(-1).tolist(),
            "train_loss": loss,
            "gradients": grads,
            "running_stats": buffers,
        }
        print(f"{key}: loss {loss:.6f}, {len(grads)} gradients, conditioning {conditioning:.1e} "
              f"(eval logits {eval_conditioning:.1e})", file=sys.stderr)
    return out


def write_fixture(out, name):
    """Writes `out` as compact JSON to Tests/FineTuneCoreTests/Fixtures/`name`."""
    path = os.path.join(os.path.dirname(__file__), "..", "Tests", "FineTuneCoreTests", "Fixtures", name)
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
    print(f"wrote {os.path.normpath(path)} ({os.path.getsize(path)} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
