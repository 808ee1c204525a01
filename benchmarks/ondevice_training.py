"""On-device fine-tuning table (figures only, asserts nothing): `tinyml-pio hil train` per row.

    python benchmarks/ondevice_training.py [--board qemu_mps2_an386] [--seeds 3] [--epochs 3] [--test-samples N]

Models: example_projects/ondevice_finetune (DS-CNN-like, pretrained on one group of writers; target:
new writers' heavier, slanted digits, data/target.npz) and example_projects/digits_cnn (target:
the same digits with inverted contrast, shifted one pixel; made here from scikit-learn's digits).
Rows: schemes none, last, bias, bias+last, a sparse spec, auto:BYTES, last:2, full; then, on the
first model, the write-back rules and QAS off. Every run reports whether the board's parameters
equal the host build's replay; accuracies are means over --seeds sample orders (min..max).
Ticks are QEMU -icount SysTick ticks (0.8 per executed instruction at shift=5, 25 MHz SysTick).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tinyml_pio.hil.training import train_model  # noqa: E402
from tinyml_pio.tflite_import import load_model  # noqa: E402
from tinyml_pio.training import resolve_update, trainable_ops  # noqa: E402

FT = ROOT / "example_projects" / "ondevice_finetune" / "models" / "ft.tflite"
FT_DATA = ROOT / "example_projects" / "ondevice_finetune" / "data" / "target.npz"
DIGITS = ROOT / "example_projects" / "digits_cnn" / "models" / "digits_cnn.tflite"


def digits_data(tmp: Path) -> Path:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (1.0 - np.roll(d.images / 16.0, 1, axis=2))[..., None].astype(np.float32)
    idx = np.random.default_rng(0).permutation(len(x))
    p = tmp / "digits_inverted.npz"
    np.savez(p, x_train=x[idx[:600]], y_train=d.target[idx[:600]], x_test=x[idx[600:960]], y_test=d.target[idx[600:960]])
    return p


def sparse(model: Path, tmp: Path) -> str:
    ops = [o.index for o in trainable_ops(load_model(model))]
    f = tmp / f"{model.stem}_sparse.toml"
    f.write_text(f"bias_last = {min(3, len(ops))}\n[[weights]]\nop = {ops[-1]}\nchannels = 1.0\n"
                 f"[[weights]]\nop = {ops[-2]}\nchannels = 0.25\n")
    return str(f)


def row(model: Path, data: Path, scheme: str, board: str, seeds: int, epochs: int, lr: float,
        rounding: str | None = None, qas: bool = True, n_test: int | None = None) -> str:
    before, after, rec = [], [], None
    for seed in range(seeds):
        g = load_model(model)
        if scheme == "none":
            spec = resolve_update("last", g, None)
            ep, rate = 1, 1e-30  # the same firmware, a step too small to change anything: the pretrained model
        else:
            spec = resolve_update(scheme, g, None)
            ep, rate = epochs, lr
        if rounding:
            spec.rounding = rounding
        spec.qas = qas
        rec = train_model(model, board, spec, data, epochs=ep, lr=rate, seed=seed, limit_test=n_test)
        before.append(rec["accuracy_before"])
        after.append(rec["accuracy_after"] if scheme != "none" else rec["accuracy_before"])
    m = rec["memory"]
    name = "sparse" if scheme.endswith(".toml") else scheme
    extra = m["arena_bytes"] + m["params_bytes"] - m["inference_arena_bytes"]
    if scheme == "none":  # inference only: its arena, no step
        return (f"| {model.stem} | none | - | - | {np.mean(before):.3f} | {np.mean(after):.3f} | "
                f"{m['inference_arena_bytes']:,} | 0 | - | - |")
    return (f"| {model.stem} | {name} | {rec['rounding']} | {'on' if qas else 'off'} | {np.mean(before):.3f} | "
            f"{np.mean(after):.3f} ({min(after):.3f}..{max(after):.3f}) | {m['arena_bytes'] + m['params_bytes']:,} | "
            f"{extra:,} | {rec['counter_ticks']['step_median']:,} | {'yes' if rec['params_identical'] else 'NO'} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--board", default="qemu_mps2_an386")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--lr", type=float, default=0.005)
    ap.add_argument("--models", default="ft,digits")
    ap.add_argument("--test-samples", type=int, default=None, help="score on the first N test samples only")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        cases = {"ft": (FT, FT_DATA), "digits": (DIGITS, digits_data(t))}
        print("| model | scheme | write-back | QAS | accuracy before | accuracy after | training SRAM (B) | "
              "extra over inference (B) | ticks per step (median) | params = host |")
        print("|---|---|---|---|---:|---:|---:|---:|---:|---|")
        for i, key in enumerate(a.models.split(",")):
            model, data = cases[key]
            for scheme in ["none", "last", "bias", "bias+last", sparse(model, t), "auto:6k", "last:2", "full"]:
                print(row(model, data, scheme, a.board, a.seeds, a.epochs, a.lr, n_test=a.test_samples), flush=True)
            if i == 0:
                for rounding in ("trunc", "nearest", "master"):
                    print(row(model, data, "bias+last", a.board, a.seeds, a.epochs, a.lr, rounding=rounding,
                              n_test=a.test_samples), flush=True)
                print(row(model, data, "bias+last", a.board, a.seeds, a.epochs, a.lr, qas=False, n_test=a.test_samples),
                      flush=True)


if __name__ == "__main__":
    main()
