#!/usr/bin/env python3
"""Reference values for the imbalanced-classes tests.

Writes Tests/FineTuneCoreTests/Fixtures/imbalance.json, which TrainingImbalanceTests compares
against:

- "cross_entropy": torch.nn.CrossEntropyLoss(weight=w, label_smoothing=e) (mean reduction) on
  a few float32 logits, in float64: the loss and its gradient with respect to the logits;
- "balanced_weights": sklearn.utils.class_weight.compute_class_weight("balanced") for a few
  label sets;
- "metrics": sklearn's accuracy_score, balanced_accuracy_score and
  f1_score(average="macro", zero_division=0) for a few label/prediction sets, among them a
  class never predicted and a class with neither images nor predictions (which scikit-learn
  leaves out of both means, as it takes the classes present in either list).

Usage: python tools/make_imbalance_fixtures.py   (needs torch, numpy and scikit-learn)
"""

import json
import os
import warnings

import numpy as np
import torch
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score
from sklearn.utils.class_weight import compute_class_weight


def cross_entropy_case(seed, n, classes, weights, smoothing):
    generator = torch.Generator().manual_seed(seed)
    logits = (torch.randn(n, classes, generator=generator) * 2).float()
    labels = torch.randint(0, classes, (n,), generator=generator)
    z = logits.double().requires_grad_()
    w = None if weights is None else torch.tensor(weights, dtype=torch.float64)
    loss = torch.nn.CrossEntropyLoss(weight=w, label_smoothing=smoothing)(z, labels)
    loss.backward()
    return {"classes": classes, "logits": logits.flatten().tolist(), "labels": labels.tolist(),
            "weights": weights, "label_smoothing": smoothing,
            "loss": loss.item(), "gradient": z.grad.flatten().tolist()}


def metrics_case(classes, labels, predictions):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn warns about the classes it leaves out
        return {"classes": classes, "labels": labels, "predictions": predictions,
                "accuracy": accuracy_score(labels, predictions),
                "balanced_accuracy": balanced_accuracy_score(labels, predictions),
                "macro_f1": f1_score(labels, predictions, average="macro", zero_division=0)}


def main():
    cross_entropy = [
        cross_entropy_case(1, 6, 3, None, 0.0),
        cross_entropy_case(2, 6, 3, [0.5, 2.0, 1.25], 0.0),
        cross_entropy_case(3, 8, 4, [3.0, 0.25, 1.0, 1.5], 0.1),
        cross_entropy_case(4, 5, 5, [1.0, 2.0, 0.5, 4.0, 0.75], 0.3),
    ]
    label_sets = [([0, 0, 0, 0, 1, 1, 2], 3), ([0, 1, 1, 1, 1, 1, 1, 1, 2, 2], 3), ([3, 3, 3, 0, 1, 2, 2, 2, 2], 4)]
    balanced = [{"classes": c, "labels": y,
                 "weights": compute_class_weight("balanced", classes=np.arange(c), y=np.array(y)).tolist()}
                for y, c in label_sets]
    metrics = [
        metrics_case(3, [0, 0, 0, 0, 1, 1, 2, 2], [0, 0, 1, 0, 1, 1, 2, 0]),
        # class 2 is never predicted
        metrics_case(3, [0, 0, 0, 0, 0, 0, 1, 1, 2, 2], [0, 0, 0, 0, 0, 1, 1, 1, 0, 1]),
        # class 3 has neither images nor predictions; class 2 is predicted but has no images
        metrics_case(4, [0, 0, 1, 1, 1, 0], [0, 2, 1, 1, 0, 0]),
        metrics_case(2, [1, 1, 1, 1], [1, 1, 1, 1]),
    ]
    fixture = {"cross_entropy": cross_entropy, "balanced_weights": balanced, "metrics": metrics}
    path = os.path.join(os.path.dirname(__file__), "..", "Tests", "FineTuneCoreTests", "Fixtures", "imbalance.json")
    with open(path, "w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")
    print("wrote", os.path.normpath(path))


if __name__ == "__main__":
    main()
