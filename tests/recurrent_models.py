"""Recurrent test models written as TFLite flatbuffers (tests/op_models.py's Net): SVDF with an
int16 state tensor. Keras has no SVDF layer, so the model is built by hand the way TFLite's
quantized SVDF looks (int8 input/feature weights, int16 time weights and state, int32 bias)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from op_models import Net


def svdf_int8(path: str | Path, batches: int = 1, input_size: int = 12, units: int = 4, rank: int = 2,
              memory: int = 5, bias: bool = True, seed: int = 0, in_q=(0.05, -7), out_q=(0.08, 5),
              state_scale: float = 0.01, tail: bool = False) -> Path:
    """input [batches, input_size] -> SVDF -> output [batches, units]; `tail` adds a FULLY_CONNECTED
    after it (the SVDF output feeding another layer, as in TFLM's keyword models)."""
    rng = np.random.default_rng(seed)
    filters = units * rank
    n = Net()
    n.input("x", [batches, input_size], scale=in_q[0], zp=in_q[1])
    wf = n.const("w_feature", rng.integers(-127, 128, size=(filters, input_size)), "int8", scale=0.02, zp=0)
    wt = n.const("w_time", rng.integers(-32767, 32768, size=(filters, memory)), "int16", scale=3e-5, zp=0)
    ins = ["x", wf, wt]
    ins.append(n.tensor("bias", [units], "int32", data=rng.integers(-2000, 2000, size=units)) if bias else "")
    ins.append(n.tensor("state", [batches, memory * filters], "int16", scale=state_scale, zp=0, variable=True))
    n.op("SVDF", ins, [n.tensor("y", [batches, units], scale=out_q[0], zp=out_q[1])], rank=rank,
         fused_activation_function=1)
    outs = ["y"]
    if tail:
        w = n.const("w_fc", rng.integers(-127, 128, size=(3, units)), "int8", scale=0.01, zp=0)
        n.op("FULLY_CONNECTED", ["y", w, ""], [n.tensor("z", [batches, 3], scale=0.05, zp=-2)],
             fused_activation_function=0)
        outs = ["z"]
    return n.write(path, outs, "tinyml-pio SVDF int8 / int16 state")
