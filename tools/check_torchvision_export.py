#!/usr/bin/env python3
"""`finetune export --format safetensors-backbone` back in PyTorch: the file loads into
torchvision's model with `load_state_dict(strict=True)` (linear head) and gives the logits of
`finetune predict --json` on the same images, for every installed backbone.

For each backbone it trains a model for one epoch from random initialisation on a small demo data
set (`--strategy freeze`, so batch norm's statistics are measured on the images), exports it, and
runs torchvision's model in eval mode on the images preprocessed as `finetune predict` does (the
recipe of tools/check_onnx_export.py). An MLP head is checked to be left out: its file loads with
strict=False, missing exactly the classifier.

Passes when max |finetune - torch float64| <= 1e-4 * max |torch float64|, or, where the network is
ill-conditioned, no more than twice as far as torch's own float32 is from its float64.

Run (needs torch, torchvision, safetensors, numpy and pillow):
    python tools/check_torchvision_export.py --finetune .build/release/finetune [--backbone resnet18 ...]
"""
import argparse
import json
import os
import sys
import tempfile

import numpy as np
import torch
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_engine import MODELS  # noqa: E402  finetune's backbone names to torchvision's
from check_onnx_export import TOLERANCE, preprocess, run  # noqa: E402

import torchvision  # noqa: E402


def check(finetune, backbone, data, work, images):
    run_dir = os.path.join(work, backbone)
    run([finetune, "train", "--backbone", backbone, "--data", data, "--output", run_dir, "--strategy", "freeze",
         "--epochs", "1", "--batch-size", "4"])
    model_file = os.path.join(run_dir, "last.safetensors")
    exported = os.path.join(run_dir, "backbone.safetensors")
    run([finetune, "export", "--model", model_file, "--output", exported, "--format", "safetensors-backbone"])
    state = load_file(exported)
    classes = 3
    model = getattr(torchvision.models, MODELS[backbone][0])(num_classes=classes)
    own = model.state_dict()
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()}, strict=True)
    model.eval()
    predicted = {}
    for line in run([finetune, "predict", "--model", model_file, "--json"] + images).splitlines():
        record = json.loads(line)
        if "logits" in record:
            predicted[record["image"]] = np.array(record["logits"], np.float64)
    meta = model_preprocessing(finetune, model_file)
    worst, passed = 0.0, True
    for image in images:
        x = torch.from_numpy(preprocess(image, meta, normalise=True))
        with torch.no_grad():
            t32 = model.float()(x)[0].double().numpy()
            t64 = model.double()(x.double())[0].numpy()
        scale = max(np.abs(t64).max(), 1e-12)
        error = np.abs(predicted[image] - t64).max() / scale
        torch_error = np.abs(t32 - t64).max() / scale
        passed = passed and error <= max(TOLERANCE, 2 * torch_error)
        worst = max(worst, error)
    return worst, passed


def model_preprocessing(finetune, model_file):
    """The evaluation preprocessing a model file records, read through its ONNX export's metadata."""
    import onnx
    path = model_file + ".onnx"
    run([finetune, "export", "--model", model_file, "--output", path])
    return {p.key: p.value for p in onnx.load(path, load_external_data=False).metadata_props}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--finetune", default=".build/release/finetune")
    p.add_argument("--backbone", action="append", help="default: every installed backbone")
    args = p.parse_args()
    backbones = args.backbone or [b["name"] for b in json.loads(run([args.finetune, "backbones", "--json"]))]
    failed = []
    with tempfile.TemporaryDirectory() as work:
        data = os.path.join(work, "data")
        run([args.finetune, "demo-data", data, "--per-class", "4"])
        images = sorted(os.path.join(data, "holdout", f) for f in os.listdir(os.path.join(data, "holdout")))[:4]
        print(f"torch {torch.__version__}, torchvision {torchvision.__version__}; tolerance {TOLERANCE} of the largest logit")
        for backbone in backbones:
            error, passed = check(args.finetune, backbone, data, work, images)
            print(f"{backbone:24} {error:12.2e}  {'ok' if passed else 'FAIL'}", flush=True)
            if not passed:
                failed.append(backbone)
        # An MLP head has no torchvision key: the file loads missing exactly the classifier.
        run_dir = os.path.join(work, "mlp")
        run([args.finetune, "train", "--backbone", "resnet18", "--data", data, "--output", run_dir, "--strategy", "freeze",
             "--epochs", "1", "--batch-size", "4", "--head", "mlp:16"])
        exported = os.path.join(run_dir, "backbone.safetensors")
        run([args.finetune, "export", "--model", os.path.join(run_dir, "last.safetensors"), "--output", exported,
             "--format", "safetensors-backbone"])
        missing = torchvision.models.resnet18().load_state_dict(load_file(exported), strict=False).missing_keys
        print(f"mlp head: missing {missing}")
        if sorted(missing) != ["fc.bias", "fc.weight"]:
            failed.append("mlp head")
    if failed:
        sys.exit("failed: " + ", ".join(failed))


if __name__ == "__main__":
    main()
