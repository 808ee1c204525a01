"""Stream the target domain to the ondevice_finetune firmware and watch it learn.

    python stream.py --port socket://127.0.0.1:4386 [--data data/target.npz] [--epochs 3]

Scores the board on x_test ('P' commands), trains it on x_train ('T', one sample at a time, a
fresh shuffle per epoch), scores it again, and asks it to save its parameters ('S'). The images
are quantized here with the model's input scale and zero point (read from models/ft.tflite).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import serial

HERE = Path(__file__).resolve().parent


def quantize(x: np.ndarray, model: Path) -> np.ndarray:
    from tinyml_pio.tflite_import import load_model

    g = load_model(model)
    t = g.t(g.inputs[0])
    s, zp = float(t.quant.s), int(t.quant.zp)
    return np.clip(np.round(x / s) + zp, -128, 127).astype(np.int8).reshape(len(x), -1)


class Board:
    def __init__(self, url: str, timeout: float = 30.0):
        self.ser = serial.serial_for_url(url, baudrate=115200, timeout=timeout)
        self.buf = b""

    def line(self, prefix: str) -> str:
        """The next line starting with `prefix` (other output is passed through)."""
        while True:
            while b"\n" not in self.buf:
                chunk = self.ser.read(max(1, self.ser.in_waiting))
                if not chunk:
                    raise TimeoutError(f"no '{prefix}' line from the board")
                self.buf += chunk
            raw, self.buf = self.buf.split(b"\n", 1)
            text = raw.decode(errors="replace").strip()
            if text.startswith(prefix):
                return text

    def predict(self, x: np.ndarray) -> int:
        self.ser.write(b"P" + x.tobytes())
        return int(self.line("class ").split()[1])

    def train(self, x: np.ndarray, label: int) -> float:
        self.ser.write(b"T" + bytes([int(label)]) + x.tobytes())
        return int(self.line("loss ").split()[1]) / 1e6

    def save(self) -> str:
        self.ser.write(b"S")
        return self.line("saved ")

    def quit(self) -> None:
        self.ser.write(b"Q")
        self.line("bye")
        self.ser.close()


def run(url: str, data: Path = HERE / "data" / "target.npz", model: Path = HERE / "models" / "ft.tflite",
        epochs: int = 3, seed: int = 0, n_train: int | None = None, n_test: int | None = None,
        log=print) -> dict:
    with np.load(data) as f:
        xtr, ytr, xte, yte = (f[k] for k in ("x_train", "y_train", "x_test", "y_test"))
    xtr, xte = quantize(xtr[:n_train], model), quantize(xte[:n_test], model)
    ytr, yte = ytr[:n_train], yte[:n_test]
    b = Board(url)
    b.line("ready")

    def accuracy() -> float:
        return float(np.mean([b.predict(x) == y for x, y in zip(xte, yte)]))

    before = accuracy()
    log(f"before: accuracy {before:.3f} on {len(xte)} target samples")
    rng = np.random.default_rng(seed)
    order = []
    for e in range(epochs):
        perm = rng.permutation(len(xtr))
        order.extend(perm.tolist())
        losses = [b.train(xtr[i], ytr[i]) for i in perm]
        log(f"epoch {e + 1}: mean loss {np.mean(losses):.4f}, accuracy {accuracy():.3f}")
    after = accuracy()
    saved = b.save()
    log(saved)
    b.quit()
    return dict(before=before, after=after, saved=saved, order=order)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", required=True, help="pyserial URL of the board (socket://127.0.0.1:4386 for QEMU)")
    ap.add_argument("--data", type=Path, default=HERE / "data" / "target.npz")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    r = run(a.port, a.data, epochs=a.epochs, seed=a.seed)
    return 0 if r["after"] > r["before"] else 1


if __name__ == "__main__":
    sys.exit(main())
