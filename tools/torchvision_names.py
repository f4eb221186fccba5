#!/usr/bin/env python3
"""Write the reference tensor lists the built-in backbone plugins are tested against.

For each backbone in BACKBONES below (torchvision's models built
with weights=None, so nothing is downloaded), this writes

    Tests/FineTuneCoreTests/Fixtures/<backbone>.names.txt      (<backbone>: finetune's name for it)

with one line per state_dict entry of the backbone, in state_dict order, leaving out the
classifier (``fc.*``, ``classifier.*``; MobileNetV3's ``classifier.3.*`` and ConvNeXt's ``classifier.2.*`` alone), which the host
attaches itself:

    <key> <kind> <shape>

where kind is ``param`` (a trainable parameter) or ``buffer`` (running statistics), and shape is
the comma-separated dimensions, or ``-`` for a scalar (``num_batches_tracked``). The first line is
a comment: ``# torchvision <version>; backbone parameters: <count>``, the parameter count without
the classifier.

Run it from anywhere, with a Python that has torch and torchvision installed:

    python tools/torchvision_names.py            # writes into the repository's fixtures
    python tools/torchvision_names.py OUT_DIR    # or into another folder
"""

import pathlib
import sys

import torchvision
from torchvision import models

# backbone name used by finetune -> torchvision constructor
BACKBONES = {
    "resnet18": models.resnet18,
    "mobilenet-v2": models.mobilenet_v2,
    "efficientnet-b3": models.efficientnet_b3,
    "shufflenet-v2-x1.0": models.shufflenet_v2_x1_0,
    "resnet34": models.resnet34,
    "resnet50": models.resnet50,
    "efficientnet-b0": models.efficientnet_b0,
    "regnet-y-800mf": models.regnet_y_800mf,
    "efficientnet-v2-s": models.efficientnet_v2_s,
    "densenet121": models.densenet121,
    "mobilenet-v3-large": models.mobilenet_v3_large,
    "convnext-tiny": models.convnext_tiny,
}
CLASSIFIER_PREFIXES = ("fc.", "classifier.")
# MobileNetV3's classifier.0 (nn.Linear 960 -> 1280) and ConvNeXt's classifier.0 (LayerNorm2d)
# belong to the pretrained backbone.
OWN_CLASSIFIER_PREFIXES = {"mobilenet-v3-large": ("classifier.3.",), "convnext-tiny": ("classifier.2.",)}
DEFAULT_OUT = pathlib.Path(__file__).resolve().parent.parent / "Tests" / "FineTuneCoreTests" / "Fixtures"


def backbone_lines(model, classifier_prefixes=CLASSIFIER_PREFIXES):
    """The fixture lines (without the header) and the backbone's parameter count."""
    parameter_names = {name for name, _ in model.named_parameters()}
    lines, count = [], 0
    for key, tensor in model.state_dict().items():
        if key.startswith(classifier_prefixes):
            continue
        kind = "param" if key in parameter_names else "buffer"
        shape = ",".join(str(d) for d in tensor.shape) or "-"
        lines.append(f"{key} {kind} {shape}")
        if kind == "param":
            count += tensor.numel()
    return lines, count


def main():
    out = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT
    out.mkdir(parents=True, exist_ok=True)
    for name, constructor in BACKBONES.items():
        lines, count = backbone_lines(constructor(weights=None), OWN_CLASSIFIER_PREFIXES.get(name, CLASSIFIER_PREFIXES))
        path = out / f"{name}.names.txt"
        header = f"# torchvision {torchvision.__version__}; backbone parameters: {count}"
        path.write_text("\n".join([header] + lines) + "\n")
        print(f"{path}: {len(lines)} tensors, {count} parameters")


if __name__ == "__main__":
    main()
