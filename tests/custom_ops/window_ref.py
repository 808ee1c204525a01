"""The Python reference of tests/custom_ops/window.c (verify --custom-ref window_ref.py:signal_window)."""

import numpy as np


def signal_window(inputs, options, op):
    x, w = inputs
    shift = int(np.frombuffer(options, "<i4")[0])
    zp = op["inputs"][0]["zero_point"]
    v = ((x.astype(np.int64) - zp) * w.astype(np.int64) + (1 << (shift - 1))) >> shift
    return [np.clip(v + op["outputs"][0]["zero_point"], -128, 127).astype(np.int8)]
