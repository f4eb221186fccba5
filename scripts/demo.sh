#!/usr/bin/env bash
# The demo: generate a small labelled image folder, fine-tune a built-in backbone on it in
# two stages, classify held-out images, and say where the model and the report are.
# Usage: scripts/demo.sh BIN_DIR   (make demo passes the release build folder)
set -euo pipefail
bin="${1:?usage: scripts/demo.sh BIN_DIR}"
ft="$bin/finetune"
work="${DEMO_DIR:-demo}"
rm -rf "$work/data" "$work/run"

echo "== Installed backbones"
"$ft" backbones
echo
echo "== A small dataset: three classes (checkers, disks, stripes) as JPEG and PNG files"
"$ft" demo-data "$work/data" --per-class 200
echo
echo "== Two-stage fine-tuning of resnet18 at 64 px: 2 epochs with the backbone frozen, then 6 of everything"
echo "   This demo passes no --weights (it needs no network), so the backbone starts from random initialisation."
echo "   From torchvision's ImageNet weights (taken from PyTorch's cache, or downloaded once) it would be:"
echo "     finetune train --backbone resnet18 --data DIR --weights imagenet --strategy two-stage --output runs/DIR"
"$ft" train --backbone resnet18 --data "$work/data" --strategy two-stage --freeze-epochs 2 --epochs 6 \
    --finetune-lr 1e-3 --input-size 64 --output "$work/run" --seed 1
echo
echo "== Classifying held-out images (their file names say what they are)"
"$ft" predict --model "$work/run/best.safetensors" --top-k 2 "$work/data/holdout"
echo
echo "Model:  $work/run/best.safetensors"
echo "Report: $work/run/report.html"
