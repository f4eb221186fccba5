#!/usr/bin/env python3
"""Reference gradients of a training step with frozen batch-norm statistics (`--bn frozen`).

torchvision's mobilenet_v2, resnet18, resnet50 and densenet121 with a 10-class linear head, filled exactly as
tools/make_parity_fixtures.py fills them (the Swift tests reproduce the values bit for bit), are
put in eval mode with every parameter still requiring gradients: BN normalises with its running
statistics while its weight and bias train. One forward and backward of the cross-entropy loss
gives the logits, the loss and every parameter's gradient (its L2 norm and 32 sampled entries);
the running statistics stay as they were. The input sizes are ones where torch's own float32
gradients agree with its float64 ones within 2e-4 ("conditioning", printed), as in
make_parity_fixtures.py.
It writes Tests/FineTuneCoreTests/Fixtures/parity-frozen-bn.json (the first two) and
parity-frozen-bn-<backbone>.json for each later one.

Run (needs torch and torchvision):  python tools/make_frozen_bn_fixtures.py [BACKBONE ...]
"""
import os
import sys

import torch
import torchvision

sys.path.insert(0, os.path.dirname(__file__))
from make_parity_fixtures import (BATCH, CLASSES, LABELS, SEED, fixture_files, ours,  # noqa: E402
                                  reference_model_and_input, summarise, write_fixture)

CASES = [("resnet18", "resnet18", "fc", 64), ("mobilenet-v2", "mobilenet_v2", "classifier", 64),
         ("resnet50", "resnet50", "fc", 64), ("densenet121", "densenet121", "classifier", 64)]
SHARED_FILE = ("resnet18", "mobilenet-v2")


def run(tv_name, head_attr, size, dtype=torch.float64):
    model, x = reference_model_and_input(tv_name, head_attr, size, dtype)
    model.eval()  # running statistics; parameters still require gradients
    logits = model(x)
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor(LABELS))
    loss.backward()
    return model, logits.detach(), float(loss.detach())


def main():
    torch.set_num_threads(2)
    for name, cases in fixture_files(CASES, SHARED_FILE, "parity-frozen-bn", sys.argv[1:]).items():
        write_fixture(reference(cases), name)


def reference(cases):
    out = {"seed": SEED, "batch": BATCH, "classes": CLASSES, "torch": torch.__version__,
           "torchvision": torchvision.__version__, "models": {}}
    for key, tv_name, head_attr, size in cases:
        model, logits, loss = run(tv_name, head_attr, size)
        single = dict(run(tv_name, head_attr, size, torch.float32)[0].named_parameters())
        largest = max(float(p.grad.norm()) for p in model.parameters())
        conditioning = max(float((single[n].grad.double() - p.grad).norm()) / max(float(p.grad.norm()), 1e-2 * largest)
                           for n, p in model.named_parameters())
        grads = {ours(n, head_attr): summarise(ours(n, head_attr), p.grad) for n, p in model.named_parameters()}
        out["models"][key] = {"input_size": size, "labels": LABELS, "logits": logits.reshape(-1).tolist(),
                              "loss": loss, "gradients": grads}
        print(f"{key}: loss {loss:.6f}, {len(grads)} gradients, conditioning {conditioning:.1e}", file=sys.stderr)
    return out


if __name__ == "__main__":
    main()
