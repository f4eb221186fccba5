#!/usr/bin/env python3
"""Reference outputs of PIL + torchvision transforms for the data pipeline tests.

Writes into Tests/FineTuneCoreTests/Fixtures/:
- data-reference.json: transform outputs that DataTransformTests compares the Swift transforms
  against; inputs come from a formula both sides share: pixel (x, y) channel c =
  (x * 7 + y * 13 + c * 51) % 256;
- data-photo.jpg, a small JPEG written by PIL, and data-decode-reference.json: PIL's decoded
  pixels and torchvision's evaluation pipeline output for it.

Usage: python tools/data_reference.py   (needs torch, torchvision and Pillow)
"""

import json
import os

import numpy as np
import torchvision
from PIL import Image
from torchvision import transforms
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as F


def pattern(width, height, channels=3):
    y, x, c = np.meshgrid(np.arange(height), np.arange(width), np.arange(channels), indexing="ij")
    array = ((x * 7 + y * 13 + c * 51) % 256).astype(np.uint8)
    return Image.fromarray(array[:, :, 0] if channels == 1 else array, "L" if channels == 1 else "RGB")


def record(image):
    array = np.asarray(image)
    return {"width": image.width, "height": image.height,
            "channels": 1 if array.ndim == 2 else array.shape[2], "pixels": array.reshape(-1).tolist()}


def main():
    rgb = pattern(29, 21)
    small = pattern(12, 9)
    cases = {
        "resize_down": record(rgb.resize((12, 9), Image.BILINEAR)),
        "resize_up": record(pattern(13, 9).resize((20, 15), Image.BILINEAR)),
        "resize_crop": record(F.resized_crop(rgb, 3, 5, 12, 15, [7, 9], InterpolationMode.BILINEAR, antialias=True)),
        "resize_gray": record(pattern(29, 21, 1).resize((8, 14), Image.BILINEAR)),
        "resize_shorter_12": record(F.resize(rgb, 12, InterpolationMode.BILINEAR, antialias=True)),
        "bicubic_down": record(rgb.resize((12, 9), Image.BICUBIC)),
        "bicubic_up": record(pattern(13, 9).resize((20, 15), Image.BICUBIC)),
        "bicubic_crop": record(F.resized_crop(rgb, 3, 5, 12, 15, [7, 9], InterpolationMode.BICUBIC, antialias=True)),
        "bicubic_gray": record(pattern(29, 21, 1).resize((8, 14), Image.BICUBIC)),
        "center_crop_12": record(F.center_crop(rgb, [12, 12])),
        "center_crop_pad_8": record(F.center_crop(pattern(7, 4), [8, 8])),
        "brightness_1.3": record(F.adjust_brightness(small, 1.3)),
        "contrast_0.6": record(F.adjust_contrast(small, 0.6)),
        "saturation_1.7": record(F.adjust_saturation(small, 1.7)),
        "rotate_30": record(F.rotate(small, 30.0, InterpolationMode.NEAREST)),
        "shear_20": record(F.affine(small, angle=0.0, translate=[0, 0], scale=1.0, shear=[20.0, 0.0],
                                    interpolation=InterpolationMode.NEAREST)),
        "normalize": transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])(
            F.to_tensor(pattern(4, 3))).permute(1, 2, 0).reshape(-1).tolist(),
    }
    versions = {"torchvision": torchvision.__version__, "Pillow": Image.__version__}
    cases["versions"] = versions
    write_json("data-reference.json", cases)

    # Decoding and the whole evaluation pipeline, on a JPEG that PIL writes (4:2:0, quality 90).
    y, x = np.mgrid[0:30, 0:40]
    photo = np.stack([(x * 6 + y * 2) % 256, (x * y) % 256, (255 - y * 8 + x) % 256], axis=2).astype(np.uint8)
    jpeg_path = os.path.join(FIXTURES, "data-photo.jpg")
    Image.fromarray(photo, "RGB").save(jpeg_path, quality=90)
    decoded = Image.open(jpeg_path).convert("RGB")
    evaluation = transforms.Compose([
        transforms.Resize(16), transforms.CenterCrop(12), transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    bicubic = transforms.Compose([
        transforms.Resize(16, interpolation=InterpolationMode.BICUBIC), transforms.CenterCrop(12), transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    write_json("data-decode-reference.json", {
        "photo": record(decoded),
        "eval_16_12": [round(v, 6) for v in evaluation(decoded).permute(1, 2, 0).reshape(-1).tolist()],
        "eval_16_12_bicubic": [round(v, 6) for v in bicubic(decoded).permute(1, 2, 0).reshape(-1).tolist()],
        "versions": versions,
    })


FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "FineTuneCoreTests", "Fixtures")


def write_json(name, value):
    path = os.path.join(FIXTURES, name)
    with open(path, "w") as f:
        json.dump(value, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {name} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
