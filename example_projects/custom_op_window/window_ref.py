"""The Python reference of src/signal_window.c, for host verification:

    tinyml-pio verify custom_model/window.tflite --custom-op SignalWindow=signal_window:128 \
        --custom-src src/signal_window.c --custom-ref window_ref.py:signal_window

`inputs` are the operator's input arrays (constants included), `options` its custom options blob,
`op` describes its tensors (shape, dtype, scale, zero_point); returns one array per output."""

import numpy as np


def signal_window(inputs, options, op):
    x, w = inputs
    shift = int(np.frombuffer(options, "<i4")[0])
    zp = op["inputs"][0]["zero_point"]
    v = ((x.astype(np.int64) - zp) * w.astype(np.int64) + (1 << (shift - 1))) >> shift
    return [np.clip(v + op["outputs"][0]["zero_point"], -128, 127).astype(np.int8)]
