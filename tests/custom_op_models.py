"""A model with a real CUSTOM operator, written directly as a TFLite flatbuffer (TensorFlow cannot
export an arbitrary custom op): input [1, 16] -> FULLY_CONNECTED -> CUSTOM "SignalWindow" -> FULLY_CONNECTED
-> output [1, 4].

SignalWindow multiplies each value by a Q15 window coefficient (a constant int16 second input, a Hann
window) and shifts right by the int32 in its options blob, rounding half up, around the zero point
(input and output share one quantization). example_projects/custom_op_window/ holds the model
(written by `python tests/custom_op_models.py example_projects/custom_op_window/custom_model/window.tflite`),
its C kernel (src/signal_window.c) and its Python reference (window_ref.py).
"""

from __future__ import annotations

import struct
from pathlib import Path

import flatbuffers
import numpy as np

from tflite_writer import Tables, fb, finish_model, operator, write_tensors

FULLY_CONNECTED, CUSTOM = 9, 32
INT8, INT16, INT32 = 9, 7, 2
FC_OPTIONS = 8


def hann_q15(n: int) -> np.ndarray:
    return np.round(32767 * 0.5 * (1 - np.cos(2 * np.pi * np.arange(n) / (n - 1)))).astype(np.int16)


def window_model(path: str | Path, n_in: int = 16, width: int = 32, n_out: int = 4, shift: int = 14,
                 seed: int = 0) -> Path:
    """The model above; the window's gain is 2^(15 - shift) (shift 14: twice, so it saturates too)."""
    rng = np.random.default_rng(seed)
    b = flatbuffers.Builder(4096)
    FO = fb("FullyConnectedOptions")
    tables = Tables()
    tensor = tables.tensor
    x = tensor("input", [1, n_in], INT8, 0.05, -3)
    w0 = tensor("w0", [width, n_in], INT8, 0.01, 0, rng.integers(-127, 128, (width, n_in)).astype(np.int8).tobytes())
    b0 = tensor("b0", [width], INT32, 0.0005, 0, rng.integers(-2000, 2000, width).astype(np.int32).tobytes())
    h = tensor("fc0", [1, width], INT8, 0.25, 5)
    win = tensor("window", [width], INT16, 1.0 / 32768, 0, hann_q15(width).tobytes())
    hw = tensor("windowed", [1, width], INT8, 0.25, 5)
    w1 = tensor("w1", [n_out, width], INT8, 0.01, 0, rng.integers(-127, 128, (n_out, width)).astype(np.int8).tobytes())
    b1 = tensor("b1", [n_out], INT32, 0.0008, 0, rng.integers(-2000, 2000, n_out).astype(np.int32).tobytes())
    y = tensor("output", [1, n_out], INT8, 0.8, -10)
    buf_offs, t_offs = write_tensors(b, tables)
    ops = []
    for xi, wi, bi, yi in ((x, w0, b0, h), (hw, w1, b1, y)):
        FO.FullyConnectedOptionsStart(b)
        opts = FO.FullyConnectedOptionsEnd(b)
        ops.append((xi, wi, bi, yi, opts))
    op_offs = [operator(b, 0, list(ops[0][:3]), [h], FC_OPTIONS, ops[0][4]),
               operator(b, 1, [h, win], [hw], 0, None, custom_options=struct.pack("<i", shift)),
               operator(b, 0, list(ops[1][:3]), [y], FC_OPTIONS, ops[1][4])]
    return finish_model(b, path, buf_offs, t_offs, op_offs, [(FULLY_CONNECTED, 4), (CUSTOM, 1, "SignalWindow")],
                        [x], [y], "tinyml-pio test: a CUSTOM SignalWindow between two FULLY_CONNECTED")


if __name__ == "__main__":  # regenerate the example's model: python tests/custom_op_models.py OUT.tflite
    import sys

    print(window_model(sys.argv[1]))
