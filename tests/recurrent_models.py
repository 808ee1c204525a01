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


def lstm_int8(path: str | Path, batches: int = 1, time: int = 5, n_input: int = 6, n_cell: int = 8,
              n_output: int | None = None, time_major: bool = False, cell_exp: int = -11, cell_clip: float = 0.0,
              proj_clip: float = 0.0, proj_bias: bool = True, seed: int = 0, hidden_q=(0.007, 4),
              state_q=(0.02, -6), cifg: bool = False, peephole: bool = False, layer_norm: bool = False) -> Path:
    """TFLite's 8x8_16 integer UNIDIRECTIONAL_SEQUENCE_LSTM written by hand, for what Keras does not
    make: a projection (`n_output` outputs from `n_cell` cells), other power-of-two cell scales
    (2^cell_exp) and active cell / projection clipping. The quantization is only plausible:
    tflite-runtime's kernel is the reference whatever it is. `cifg`, `peephole` and `layer_norm`
    make the variants tinyml-pio refuses."""
    rng = np.random.default_rng(seed)
    proj = n_output is not None
    n_out = n_output if proj else n_cell
    n = Net()
    shape = [time, batches, n_input] if time_major else [batches, time, n_input]
    n.input("x", shape, scale=0.05, zp=-3)
    ins = ["x"]
    for kind, cols in (("in", n_input), ("rec", n_out)):
        for g in ("input", "forget", "cell", "output"):
            ins.append(n.const(f"{kind}_{g}_w", rng.integers(-127, 128, size=(n_cell, cols)), "int8",
                               scale=float(rng.uniform(0.004, 0.02)), zp=0))
    if cifg:
        ins[1] = ins[5] = ""
    for g in ("input", "forget", "output"):
        ins.append(n.const(f"peep_{g}", rng.integers(-300, 300, size=n_cell), "int16", scale=1e-3, zp=0)
                   if peephole and not (cifg and g == "input") else "")
    for g in ("input", "forget", "cell", "output"):
        ins.append("" if cifg and g == "input" else
                   n.tensor(f"{g}_bias", [n_cell], "int32", data=rng.integers(-3000, 3000, size=n_cell)))
    if proj:
        ins.append(n.const("proj_w", rng.integers(-127, 128, size=(n_out, n_cell)), "int8", scale=0.01, zp=0))
        ins.append(n.tensor("proj_bias", [n_out], "int32", data=rng.integers(-500, 500, size=n_out))
                   if proj_bias else "")
    else:
        ins += ["", ""]
    ins.append(n.tensor("output_state", [batches, n_out], scale=state_q[0], zp=state_q[1], variable=True))
    ins.append(n.tensor("cell_state", [batches, n_cell], "int16", scale=2.0 ** cell_exp, zp=0, variable=True))
    for g in ("input", "forget", "cell", "output"):
        ins.append(n.const(f"ln_{g}", rng.integers(1000, 30000, size=n_cell), "int16", scale=1e-4, zp=0)
                   if layer_norm else "")
    mids = [n.tensor(f"mid{i}", [0], "float32") for i in range(4)]
    mids.append(n.tensor("hidden", [0], scale=hidden_q[0], zp=hidden_q[1]))
    out_shape = shape[:2] + [n_out]
    n.op("UNIDIRECTIONAL_SEQUENCE_LSTM", ins, [n.tensor("y", out_shape, scale=state_q[0], zp=state_q[1])],
         intermediates=mids, fused_activation_function=4, cell_clip=cell_clip, proj_clip=proj_clip,
         time_major=time_major)
    return n.write(path, ["y"], "tinyml-pio integer LSTM (8x8_16)")


def svdf_float(path: str | Path, batches: int = 1, input_size: int = 10, units: int = 4, rank: int = 2,
               memory: int = 6, activation: int = 1, bias: bool = True, seed: int = 0) -> Path:
    """int8 input -> DEQUANTIZE -> float32 SVDF (float weights, bias and state) -> float32 output:
    the float variant as a float island; `activation` is the fused one (1 RELU, 3 RELU6, 0 none)."""
    rng = np.random.default_rng(seed)
    filters = units * rank
    n = Net()
    n.input("x", [batches, input_size], scale=0.05, zp=-7)
    n.op("DEQUANTIZE", ["x"], [n.tensor("xf", [batches, input_size], "float32")])
    wf = n.const("w_feature", rng.normal(0, 0.3, size=(filters, input_size)).astype(np.float32), "float32")
    wt = n.const("w_time", rng.normal(0, 0.5, size=(filters, memory)).astype(np.float32), "float32")
    b = n.const("bias", rng.normal(0, 0.2, size=units).astype(np.float32), "float32") if bias else ""
    state = n.tensor("state", [batches, memory * filters], "float32", variable=True)
    n.op("SVDF", ["xf", wf, wt, b, state], [n.tensor("y", [batches, units], "float32")], rank=rank,
         fused_activation_function=activation)
    return n.write(path, ["y"], "tinyml-pio SVDF float32")
