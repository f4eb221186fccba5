#!/usr/bin/env python3
"""Durability of a training run under kill -9 (SIGKILL).

Trains a small run (synthetic demo data, mobilenet-v2 at 32 px, two-stage), kills it with
SIGKILL at random moments at least --kills times, resuming it each time, and checks after every
kill that the run folder is the state after some whole epoch:

- every file is complete and parses (training-state.json, last/best/optimizer.safetensors);
- the files agree: optimizer.safetensors belongs to the state's commit, last.safetensors is
  from the state's last finished epoch, best.safetensors from its best epoch with its accuracy;
- metrics.jsonl, up to the length the state records, lists each finished epoch once, in order
  (lines past it are from the lost epoch; a resumed run cuts them off).

A pending commit (the `.commit` folder: killed while its files were moved into place) is read
as a resumed run reads it: its files over the folder's. Every run that reaches its end (and,
after the last kill, the run is resumed to its end) is compared with an uninterrupted run (same
seed and threads): metrics.jsonl lists each epoch once, and last.safetensors holds the same
tensors bit for bit. A run that ends is started again from scratch (--overwrite).

Python 3 standard library only. Usage:
    swift build -c release && tools/kill_test.py [--finetune .build/release/finetune] [--kills 20]
"""
import argparse
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time


def safetensors(path):
    """(header, metadata, {name: bytes}) of a safetensors file, checking its sizes."""
    with open(path, "rb") as f:
        data = f.read()
    (length,) = struct.unpack("<Q", data[:8])
    assert 8 + length <= len(data), f"{path}: header runs past the file"
    header = json.loads(data[8:8 + length])
    metadata = header.pop("__metadata__", {})
    body = data[8 + length:]
    tensors = {}
    end = 0
    for name, entry in header.items():
        begin, stop = entry["data_offsets"]
        count = 1
        for n in entry["shape"]:
            count *= n
        assert entry["dtype"] == "F32" and stop - begin == 4 * count, f"{path}: {name} has a wrong size"
        tensors[name] = body[begin:stop]
        end = max(end, stop)
    assert end == len(body), f"{path}: {len(body)} data bytes, the header covers {end}"
    return header, metadata, tensors


def committed_view(run):
    """The files a resumed run reads: a pending commit's over the folder's."""
    view = {}
    for name in ["best.safetensors", "last.safetensors", "optimizer.safetensors", "training-state.json"]:
        pending = os.path.join(run, ".commit", name)
        view[name] = pending if os.path.exists(pending) else os.path.join(run, name)
    return view


def check(run, stage_epochs):
    """Checks the run folder after a kill; returns the number of finished epochs."""
    view = committed_view(run)
    if not os.path.exists(view["training-state.json"]):
        return 0  # nothing committed yet: a new run (with --overwrite) starts again
    with open(view["training-state.json"]) as f:
        state = json.load(f)
    done = sum(stage_epochs[:state["stage"]]) + state["epochInStage"]
    assert state["batchInEpoch"] == 0, "a kill can only leave a state saved at an epoch's end"
    _, meta, _ = safetensors(view["optimizer.safetensors"])
    assert int(meta["generation"]) == state["generation"], \
        f"optimizer from commit {meta['generation']}, state from {state['generation']}"
    _, meta, _ = safetensors(view["last.safetensors"])
    last_epoch = json.loads(meta["provenance"])["epoch"]
    assert last_epoch == done, f"last.safetensors is from epoch {last_epoch}, the state has {done} finished"
    _, meta, _ = safetensors(view["best.safetensors"])
    best = json.loads(meta["provenance"])
    assert best["epoch"] == state["bestEpoch"], f"best.safetensors is epoch {best['epoch']}, the state says {state['bestEpoch']}"
    assert best["metrics"]["val_accuracy"] == state["bestAccuracy"], "best accuracy disagrees with best.safetensors"
    with open(os.path.join(run, "metrics.jsonl"), "rb") as f:
        log = f.read()
    assert len(log) >= state["metricsBytes"], "metrics.jsonl is shorter than the state records"
    epochs = [r["epoch"] for r in map(json.loads, log[:state["metricsBytes"]].splitlines()) if r["kind"] == "epoch"]
    assert epochs == list(range(1, done + 1)), f"metrics.jsonl lists epochs {epochs}, the state has {done} finished"
    return done


def compare(reference, run, epochs):
    """(tensors that differ, largest difference) between the two runs' last.safetensors, after
    checking that the run's metrics.jsonl lists every epoch once."""
    with open(os.path.join(run, "metrics.jsonl")) as f:
        listed = [r["epoch"] for r in map(json.loads, f) if r["kind"] == "epoch"]
    assert listed == list(range(1, epochs + 1)), f"metrics.jsonl lists epochs {listed}"
    _, _, x = safetensors(os.path.join(reference, "last.safetensors"))
    _, _, y = safetensors(os.path.join(run, "last.safetensors"))
    assert x.keys() == y.keys()
    differing = [n for n in x if x[n] != y[n]]
    worst = 0.0
    for n in differing:
        a = struct.unpack(f"<{len(x[n]) // 4}f", x[n])
        b = struct.unpack(f"<{len(y[n]) // 4}f", y[n])
        worst = max(worst, max(abs(p - q) for p, q in zip(a, b)))
    return len(differing), worst


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--finetune", default=".build/release/finetune")
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1, help="seed of the kill moments")
    parser.add_argument("--max-delay", type=float, default=4.0, help="longest wait before a kill, in seconds")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    finetune = os.path.abspath(args.finetune)
    rng = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="finetune-kill-")
    data, reference, run = (os.path.join(work, n) for n in ["data", "reference", "run"])
    subprocess.run([finetune, "demo-data", data, "--per-class", "12"], check=True, stdout=subprocess.DEVNULL)
    freeze, finetune_epochs = 3, 17
    stage_epochs = [freeze, finetune_epochs]
    common = ["--backbone", "mobilenet-v2", "--data", data, "--strategy", "two-stage",
              "--freeze-epochs", str(freeze), "--epochs", str(finetune_epochs), "--input-size", "32",
              "--batch-size", "8", "--threads", "1", "--seed", "5"]

    started = time.time()
    subprocess.run([finetune, "train", *common, "--output", reference], check=True, stdout=subprocess.DEVNULL)
    print(f"uninterrupted run: {time.time() - started:.1f} s")

    kills, progress, round_kills = 0, [], 0
    in_commit = {".commit-staging": 0, ".commit": 0}  # kills that landed inside a commit
    compared = []  # (kills in the run, tensors differing, largest difference) of each finished run
    command = [finetune, "train", *common, "--output", run]
    while True:  # until a run ends after the last kill
        p = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        delay = rng.uniform(0.05, args.max_delay) if kills < args.kills else 1e9
        try:
            p.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            p.kill()  # SIGKILL
            p.wait()
            kills += 1
            round_kills += 1
            for name in in_commit:
                in_commit[name] += os.path.isdir(os.path.join(run, name))
            done = check(run, stage_epochs)
            progress.append(done)
            print(f"kill {kills:2d} after {delay:.2f} s: folder consistent at epoch {done}")
            resumable = os.path.exists(committed_view(run)["training-state.json"])
            command = [finetune, "train", "--resume", run] if resumable else \
                [finetune, "train", *common, "--output", run, "--overwrite"]
            continue
        if p.returncode != 0:
            sys.exit(f"the run failed (status {p.returncode}): {p.stderr.read().decode()}")
        # The run ended: check it, compare it with the uninterrupted one, start again from scratch.
        assert check(run, stage_epochs) == sum(stage_epochs)
        differing, worst = compare(reference, run, sum(stage_epochs))
        compared.append((round_kills, differing, worst))
        print(f"the run ended after {round_kills} kill(s): {differing} tensors differ from the uninterrupted run's")
        if kills >= args.kills:
            break
        command = [finetune, "train", *common, "--output", run, "--overwrite"]
        round_kills = 0

    print(f"{kills} kills; epochs saved when killed: {progress}")
    print(f"kills inside a commit: {in_commit['.commit-staging']} while staging, {in_commit['.commit']} after its commit point")
    killed = [c for c in compared if c[0] > 0]
    print(f"{len(killed)} killed and resumed runs ran to their end ({sum(c[0] for c in killed)} kills); "
          f"last.safetensors differs from the uninterrupted run's in {sum(c[1] for c in killed)} tensors "
          f"(largest difference {max([c[2] for c in killed] + [0.0]):g})")
    if args.keep:
        print(f"kept {work}")
    else:
        shutil.rmtree(work)
    sys.exit(1 if any(c[1] for c in compared) else 0)


if __name__ == "__main__":
    main()
