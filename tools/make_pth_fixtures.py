#!/usr/bin/env python3
"""Write the weight-file fixtures the IO tests read (Tests/FineTuneCoreTests/Fixtures/io-*).

Every fixture is small (a few KB) and written with torch.save, so the tests check the reader
against what PyTorch really writes. Each .pth that holds tensors comes with a
``<name>.expected.safetensors`` holding the same tensors as contiguous Float32 (written by hand
below, not by the reader under test), which the tests compare value for value.

    io-tiny.pth             state_dict of a tiny ResNet-shaped model (conv1, bn1, layer1.0.*,
                            fc): float32 parameters, BN running statistics after one training
                            step, int64 num_batches_tracked; the tests build the same graph
    io-views.pth            an nn.Parameter, a transposed view, a view at a storage offset,
                            two views sharing one storage, a stride-0 expanded view, float16,
                            bfloat16 and float64 tensors, an int64 scalar (pickle protocol 2)
    io-views-p4.pth         the same with pickle protocol 4 (FRAME, STACK_GLOBAL, MEMOIZE)
    io-views-zip64.pth      io-views.pth rewritten as a zip64 archive
    io-compressed.pth       io-tiny.pth with deflated entries, which torch never writes
    io-legacy.pth           the io-views tensors in the pre-1.6 (non-zip) format
    io-whole-model.pth      torch.save of a module itself rather than its state_dict
    io-malicious.pth        a state_dict whose pickle calls os.system("touch io-malicious-ran")
    io-malicious-eval.pth   the same idea through builtins.eval with pickle protocol 4
    io-halfs.safetensors    F16, BF16, F64 and I64 tensors next to their exact F32 values

The malicious command creates ``io-malicious-ran`` in the current folder if it ever runs; the
tests load the file from a fresh empty folder and check that the marker never appears.

Run it from anywhere, with a Python that has torch installed:

    python tools/make_pth_fixtures.py            # writes into the repository's fixtures
    python tools/make_pth_fixtures.py OUT_DIR    # or into another folder
"""

import builtins
import json
import os
import pathlib
import struct
import sys
import zipfile

import torch
from torch import nn

DEFAULT_OUT = pathlib.Path(__file__).resolve().parent.parent / "Tests" / "FineTuneCoreTests" / "Fixtures"
MARKER = "io-malicious-ran"
SAFETENSORS_DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
                      torch.float64: "F64", torch.int64: "I64"}


def write_safetensors(path, tensors, metadata=None):
    """The safetensors format by hand: u64 LE header length, JSON header, raw LE data."""
    header, chunks, offset = {}, [], 0
    for name, t in tensors.items():
        raw = t.detach().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
        header[name] = {"dtype": SAFETENSORS_DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header, sort_keys=True).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(chunks))


def write_expected(out, name, state_dict):
    """<name>.expected.safetensors: every tensor as contiguous Float32."""
    expected = {k: v.detach().to(torch.float32).contiguous() for k, v in state_dict.items()}
    write_safetensors(out / f"{name}.expected.safetensors", expected)


class Block(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)


class Tiny(nn.Module):
    """conv1 3->4 (3x3) + bn1, layer1.0 (conv1 4->4 3x3 + bn1), fc 4->5: torchvision's names."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.layer1 = nn.Sequential(Block(4))
        self.fc = nn.Linear(4, 5)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        b = self.layer1[0]
        x = x + b.bn1(b.conv1(x))
        return self.fc(x.mean((2, 3)))


def tiny_state_dict():
    torch.manual_seed(0)
    model = Tiny()
    model.train()
    model(torch.randn(2, 3, 6, 6))  # running statistics move; num_batches_tracked becomes 1
    return model.state_dict()


def views_state_dict():
    torch.manual_seed(1)
    base = torch.randn(6, 5)
    shared = torch.arange(12, dtype=torch.float32)
    return {
        "parameter": nn.Parameter(torch.randn(3, 2)),
        "transposed": base.t(),                     # strides (1, 5)
        "offset": base[2:4, 1:4],                   # storage offset 11, strides (5, 1)
        "shared_a": shared[:6].view(2, 3),          # two tensors, one storage
        "shared_b": shared[6:],
        "expanded": torch.tensor([1.5, -2.0]).expand(3, 2),  # stride 0
        "half": torch.tensor([1.0, -0.5, 65504.0, 2.0 ** -24], dtype=torch.float16),
        "bfloat16": torch.tensor([[1.0, -3.5], [1e30, 0.0078125]], dtype=torch.bfloat16),
        "double": torch.tensor([0.1, -2.5], dtype=torch.float64),
        "num_batches_tracked": torch.tensor(7, dtype=torch.int64),
    }


class RunsCommand:
    """Pickles as a call to os.system: what a booby-trapped checkpoint does."""

    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


class RunsEval:
    def __reduce__(self):
        return (builtins.eval, (f"open('{MARKER}', 'w').close()",))


def rewrite(source, target, compression=zipfile.ZIP_STORED):
    """The same entries in a new archive."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", compression) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))


def rewrite_as_zip64(source, target):
    """The same entries, with zip64 records forced by lowering zipfile's limits."""
    saved = zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT
    zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = 0, 0
    try:
        rewrite(source, target)
    finally:
        zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = saved


def main():
    out = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT
    out.mkdir(parents=True, exist_ok=True)

    tiny = tiny_state_dict()
    torch.save(tiny, out / "io-tiny.pth")
    write_expected(out, "io-tiny", tiny)
    rewrite(out / "io-tiny.pth", out / "io-compressed.pth", zipfile.ZIP_DEFLATED)

    views = views_state_dict()
    torch.save(views, out / "io-views.pth")
    torch.save(views, out / "io-views-p4.pth", pickle_protocol=4)
    write_expected(out, "io-views", views)
    rewrite_as_zip64(out / "io-views.pth", out / "io-views-zip64.pth")

    torch.save(views, out / "io-legacy.pth", _use_new_zipfile_serialization=False)

    torch.save(nn.Conv2d(1, 1, 1), out / "io-whole-model.pth")
    torch.save({"conv1.weight": torch.zeros(1), "payload": RunsCommand()}, out / "io-malicious.pth")
    torch.save({"payload": RunsEval()}, out / "io-malicious-eval.pth", pickle_protocol=4)

    exact = torch.tensor([1.0, -0.5, 65504.0, 2.0 ** -24, float("inf"), -0.0, 3.140625])
    write_safetensors(out / "io-halfs.safetensors", {
        "f16": exact.to(torch.float16), "bf16": exact[[0, 1, 4, 5]].to(torch.bfloat16),
        "f64": exact.to(torch.float64), "i64": torch.tensor([[3, -4], [1 << 20, 0]]),
        "f16.f32": exact, "bf16.f32": exact[[0, 1, 4, 5]], "f64.f32": exact,
        "i64.f32": torch.tensor([[3.0, -4.0], [float(1 << 20), 0.0]]),
    }, metadata={"note": "each X.f32 holds the exact Float32 values of X"})

    for path in sorted(out.glob("io-*")):
        print(f"{path.name}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
