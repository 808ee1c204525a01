"""On-device training benchmarks (figures only, asserts nothing).

    python benchmarks/training.py memory [MODEL ...]      # SRAM per update scheme (train-plan's figures)
    python benchmarks/training.py writeback [--seeds N]   # digits transfer on the host training simulator

`memory`: for each model, every scheme's total training SRAM (arena + trainable parameters in RAM
+ optimizer state + context), the inference arena and the extra over it; schemes are last, bias,
bias+last, last:K for K = 1..4, a sparse spec (biases of the last 6 layers, the classifier's
weights, 1/4 and 1/8 of the input channels of the two layers before it) and auto:256k.

`writeback`: the digits example's model (pretrained on upright scikit-learn digits) meets a new
"writer": the same digits with inverted contrast, shifted one pixel. It is fine-tuned for 3
passes over 1200 of them and scored on the other 597, on the host training simulator (the
generated training C compiled for the host, the same C the device runs: tests/test_training.py
checks that QEMU reproduces it bit for bit). Rows: scheme x write-back rule x QAS.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tinyml_pio.errors import TinymlError  # noqa: E402
from tinyml_pio.tflite_import import load_model  # noqa: E402
from tinyml_pio.training import ROUNDINGS, resolve_update, trainable_ops  # noqa: E402
from tinyml_pio.training.report import build  # noqa: E402

DIGITS = ROOT / "example_projects" / "digits_cnn" / "models" / "digits_cnn.tflite"


def sparse_spec(path: Path, tmp: Path) -> str | None:
    ops = [o.index for o in trainable_ops(load_model(path))]
    if len(ops) < 3:
        return None
    f = tmp / f"{path.stem}_sparse.toml"
    f.write_text(f"bias_last = {min(6, len(ops))}\n[[weights]]\nop = {ops[-1]}\nchannels = 1.0\n"
                 f"[[weights]]\nop = {ops[-2]}\nchannels = 0.25\n[[weights]]\nop = {ops[-3]}\nchannels = 0.125\n")
    return str(f)


def memory(paths: list[Path]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        print("| model | scheme | training SRAM (B) | inference arena (B) | extra over inference (B) | trainable params (B) |")
        print("|---|---|---:|---:|---:|---:|")
        for p in paths:
            schemes = ["last", "bias", "bias+last", "last:1", "last:2", "last:3", "last:4"]
            sp = sparse_spec(p, Path(tmp))
            if sp:
                schemes.append(sp)
            schemes.append("auto:256k")
            for s in schemes:
                try:
                    r = build(str(p), s)
                except TinymlError as e:
                    print(f"| {p.stem} | {s} | error: {str(e).splitlines()[0][:80]} | | | |")
                    continue
                name = "sparse" if s.endswith(".toml") else s
                print(f"| {p.stem} | {name} | {r.peak_bytes:,} | {r.inference_arena:,} | {r.extra_bytes:,} | "
                      f"{r.params_bytes:,} |")


def digits_transfer(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = 1.0 - np.roll(d.images / 16.0, 1, axis=2)
    q = np.clip(np.round(x / 0.00392157) - 128, -128, 127).astype(np.int8)[..., None]
    idx = np.random.default_rng(seed).permutation(len(q))
    return q[idx[:1200]], d.target[idx[:1200]], q[idx[1200:]], d.target[idx[1200:]]


def writeback(seeds: int, schemes: list[str]) -> None:
    from tinyml_pio.pipeline import compile_model
    from tinyml_pio.training.simulate import simulate

    g = load_model(DIGITS)
    print("| scheme | write-back | QAS | accuracy before | accuracy after (mean of seeds) | min..max |")
    print("|---|---|---|---:|---:|---|")
    for scheme in schemes:
        for qas in (True, False):
            for rounding in ROUNDINGS:
                if not qas and rounding != "stochastic":
                    continue  # QAS ablation on the default write-back only
                before, after = [], []
                for seed in range(seeds):
                    xtr, ytr, xte, yte = digits_transfer(seed)
                    spec = resolve_update(scheme, g, None)
                    spec.rounding, spec.qas = rounding, qas
                    c = compile_model(DIGITS, "dg", train=spec)
                    r0 = simulate(c, xtr[:0], ytr[:0], 0.005, xte)
                    x3, y3 = np.concatenate([xtr] * 3), np.concatenate([ytr] * 3)
                    perm = np.random.default_rng(100 + seed).permutation(len(x3))
                    r = simulate(c, x3[perm], y3[perm], 0.005, xte)
                    before.append(np.mean([int(np.argmax(o)) for o in r0.outputs] == yte))
                    after.append(np.mean([int(np.argmax(o)) for o in r.outputs] == yte))
                print(f"| {scheme} | {rounding} | {'on' if qas else 'off'} | {np.mean(before):.3f} | "
                      f"{np.mean(after):.3f} | {min(after):.3f}..{max(after):.3f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("memory")
    m.add_argument("models", nargs="*")
    w = sub.add_parser("writeback")
    w.add_argument("--seeds", type=int, default=3)
    w.add_argument("--schemes", default="last,bias,bias+last,last:2,full")
    a = ap.parse_args()
    if a.cmd == "memory":
        paths = [Path(p) for p in a.models] or (sorted((ROOT.parent / "shared" / "models").glob("*.tflite"))
                                                 + sorted((ROOT / "example_projects").glob("*/models/*.tflite")))
        memory(paths)
    else:
        writeback(a.seeds, a.schemes.split(","))


if __name__ == "__main__":
    main()
