#!/usr/bin/env bash
# The demo: lists the installed backbones and prints one as a layer table.
# Usage: scripts/demo.sh BIN_DIR   (make demo passes the release build folder)
set -euo pipefail
bin="${1:?usage: scripts/demo.sh BIN_DIR}"
echo "== Installed backbones"
"$bin/finetune" backbones
echo
echo "== resnet18 with a 3-class head"
"$bin/finetune" summary --backbone resnet18 --num-classes 3 | tail -12
