#!/usr/bin/env python3
"""Reference outputs of torchvision's TrivialAugmentWide / RandAugment ops and RandomErasing.

Writes Tests/FineTuneCoreTests/Fixtures/augment-reference.json, which DataAutoAugmentTests
compares the Swift ops against:
- "inputs": small uint8 images (an RGB 24x18 and a 16x16 with smooth gradients, texture and a
  value range short of 0...255 so AutoContrast and Equalize change it; a gray 12x9; a constant
  4x4), pixels as hex, (H, W, C) row-major;
- "spaces": each policy's op list in torchvision's order with its magnitude bins (float32
  values, as torch.linspace gives them) for the RGB input's size;
- "cases": torchvision's `_apply_op(image, op, magnitude, NEAREST, fill=None)`, the function both
  policies call, with the op and signed magnitude fixed, on PIL images;
- "erasing": ToTensor -> Normalize(ImageNet) -> F.erase with a fixed box and value 0.

Usage: python tools/make_augment_fixtures.py   (needs torch, torchvision, numpy and Pillow)
"""

import json
import os

import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision.transforms import InterpolationMode, RandAugment, TrivialAugmentWide
from torchvision.transforms import functional as F
from torchvision.transforms.autoaugment import _apply_op

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "FineTuneCoreTests", "Fixtures")
BINS = 31


def textured(width, height, channels, seed):
    """Gradients plus seeded noise, kept inside 20...220."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    planes = [30 + 6 * x + 3 * y, 200 - 5 * y + 2 * x, 60 + 4 * ((x * y) % 23)][:channels]
    array = np.stack(planes, axis=2).astype(np.int64) + rng.integers(-12, 13, size=(height, width, channels))
    array = np.clip(array, 20, 220).astype(np.uint8)
    return Image.fromarray(array[:, :, 0] if channels == 1 else array, "L" if channels == 1 else "RGB")


def record(image):
    array = np.asarray(image)
    return {"width": image.width, "height": image.height, "channels": 1 if array.ndim == 2 else array.shape[2],
            "hex": array.reshape(-1).tobytes().hex()}


def space(policy, size):
    """Op names in torchvision's order, each with its float32 magnitude bins ([] for none) and sign."""
    if isinstance(policy, RandAugment):
        meta = policy._augmentation_space(BINS, size)
    else:
        meta = policy._augmentation_space(BINS)
    return [{"op": name, "signed": signed, "bins": [float(v) for v in magnitudes.reshape(-1).tolist()] if magnitudes.ndim > 0 else []}
            for name, (magnitudes, signed) in meta.items()]


def main():
    inputs = {"rgb": textured(24, 18, 3, 1), "square": textured(16, 16, 3, 2), "gray": textured(12, 9, 1, 3),
              "constant": Image.new("RGB", (4, 4), (90, 90, 90))}
    size = (inputs["rgb"].height, inputs["rgb"].width)
    trivial, rand = space(TrivialAugmentWide(), size), space(RandAugment(), size)

    cases = []

    def add(image_name, op, magnitude):
        out = _apply_op(inputs[image_name], op, magnitude, interpolation=InterpolationMode.NEAREST, fill=None)
        cases.append({"input": image_name, "op": op, "magnitude": magnitude, "output": record(out)})

    # Every op of both policies on the RGB input: TrivialAugmentWide's bins 7 (+) and 30 (-),
    # RandAugment's default magnitude 9 with both signs; unsigned ops at three bins.
    for entry in trivial:
        op, bins = entry["op"], entry["bins"]
        if not bins:
            add("rgb", op, 0.0)
        elif entry["signed"]:
            add("rgb", op, bins[7])
            add("rgb", op, -bins[30])
        else:
            for b in (0, 13, 30):
                add("rgb", op, bins[b])
    for entry in rand:
        if entry["bins"] and entry["signed"]:
            add("rgb", entry["op"], entry["bins"][9])
            add("rgb", entry["op"], -entry["bins"][9])
    for b in (9, 30):
        add("rgb", "Posterize", next(e for e in rand if e["op"] == "Posterize")["bins"][b])
    # PIL's rotate special cases: a right angle on a square image is a transpose, on a
    # non-square one an affine warp; 0 is a copy.
    add("square", "Rotate", 90.0)
    add("square", "Rotate", -90.0)
    add("square", "Rotate", 13.5)
    add("rgb", "Rotate", 90.0)
    add("rgb", "Rotate", 0.0)
    add("square", "ShearX", -0.99)
    add("square", "TranslateY", 16.0)
    # Gray images (PIL mode L) through the ops with per-band arithmetic.
    for op, magnitude in [("Equalize", 0.0), ("AutoContrast", 0.0), ("Sharpness", 0.7), ("Sharpness", -0.5),
                          ("Color", 0.5), ("Contrast", -0.4), ("Brightness", 0.3), ("Solarize", 102.0),
                          ("Posterize", 3.0), ("Rotate", -31.5), ("ShearY", 0.5), ("TranslateX", -5.0)]:
        add("gray", op, magnitude)
    # Degenerate histograms: one gray level everywhere.
    for op in ("Equalize", "AutoContrast", "Sharpness"):
        add("constant", op, 0.5 if op == "Sharpness" else 0.0)

    # RandomErasing's erase on the normalised tensor, (H, W, C) order as the Swift output.
    tensor = F.normalize(F.to_tensor(inputs["rgb"]), [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    top, left, h, w = 3, 5, 7, 11
    erased = F.erase(tensor, top, left, h, w, torch.tensor([0.0])[:, None, None])
    erasing = {"top": top, "left": left, "height": h, "width": w,
               "values": [round(v, 6) for v in erased.permute(1, 2, 0).reshape(-1).tolist()]}

    from PIL import __version__ as pillow
    write_json("augment-reference.json", {
        "inputs": {name: record(image) for name, image in inputs.items()},
        "spaces": {"trivial-wide": trivial, "rand-augment": rand, "size": list(size)},
        "cases": cases,
        "erasing": erasing,
        "versions": {"torch": torch.__version__, "torchvision": torchvision.__version__, "Pillow": pillow},
    })


def write_json(name, value):
    path = os.path.join(FIXTURES, name)
    with open(path, "w") as f:
        json.dump(value, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {name} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
