"""Accuracy of the generated code on real data, on the host and on an emulated board, beside the
TFLite int8 reference and the float model: the README's table.

    python benchmarks/accuracy.py [--board qemu_mps2_an386] [--samples N]

Data: the held-out quarter of scikit-learn's digits (bundled with scikit-learn, no download; the
zoo's accuracy_digits_mlp was trained on the other three quarters, tests/models/zoo_specs/accuracy.py)
written to a temporary digits.npz, then `tinyml-pio verify --data` and `tinyml-pio hil run --data`
exactly as a user runs them. Prints their output; asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tinyml_pio.cli import main as cli  # noqa: E402

MODEL = ROOT / "tests" / "models" / "zoo" / "accuracy_digits_mlp.tflite"
FLOAT = ROOT / "tests" / "models" / "zoo" / "float" / "accuracy_digits_mlp.tflite"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--board", default="qemu_mps2_an386", help="the board of the hil run (default qemu_mps2_an386)")
    ap.add_argument("--samples", type=int, default=None, help="only the first N test samples (default: all 450)")
    a = ap.parse_args()
    d = load_digits()
    x = (d.images.astype(np.float32) / 16.0)[..., None]
    _, x_test, _, y_test = train_test_split(x, d.target, test_size=0.25, random_state=0, stratify=d.target)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "digits.npz"
        np.savez(data, x=x_test, y=y_test)
        limit = ["--inputs", str(a.samples)] if a.samples else []
        common = ["--data", str(data), "--float-model", str(FLOAT), *limit]
        print(f"$ tinyml-pio verify {MODEL.name} --data digits.npz --float-model float/{FLOAT.name}")
        rc = cli(["verify", str(MODEL), *common])
        print(f"\n$ tinyml-pio hil run --board {a.board} --model {MODEL.name} --data digits.npz --float-model float/{FLOAT.name}")
        return rc or cli(["hil", "run", "--board", a.board, "--model", str(MODEL), *common])


if __name__ == "__main__":
    sys.exit(main())
