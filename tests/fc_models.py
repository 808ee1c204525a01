"""Small int8 FULLY_CONNECTED models written directly as TFLite flatbuffers (no TensorFlow needed).

The zoo's FC models (tests/models/zoo/fc_*.tflite) only have depths 12, 16 and 24. The kernel
variants (library/src/kernels/arm/) process 4 int8 at a time and 2 output channels per pass, so
their edge cases are depths that are not a multiple of 4 (1, 3, 5, 7, 250...), odd output depths
and several batches. `fc_chain` writes a chain of FC layers with exactly the depths asked for;
TFLite's own interpreter runs it as the reference, so these are as good a test as converted models.

Used by tests/test_variants.py and benchmarks/kernel_variants.py.
"""

from __future__ import annotations

from pathlib import Path

import flatbuffers
import numpy as np

from tflite_writer import Tables, fb, finish_model, operator, write_tensors

FULLY_CONNECTED = 9
INT8, INT32 = 9, 2
ACTIVATIONS = {"NONE": 0, "RELU": 1, "RELU_N1_TO_1": 2, "RELU6": 3}
FC_OPTIONS = 8  # BuiltinOptions.FullyConnectedOptions


def fc_chain(path: str | Path, batches: int, depths: list[int], seed: int = 0, per_channel: bool = False,
             activations: list[str] | None = None, extreme: bool = False, in_zp: int = -3) -> Path:
    """An int8 model: input [batches, depths[0]] -> FC -> ... -> output [batches, depths[-1]].

    Layer i maps depths[i] -> depths[i+1] (weights [depths[i+1], depths[i]], int32 bias). Weights
    are per-channel quantized when `per_channel`; `extreme` puts -128/127 weights in (TFLite's
    converter never emits -128, but the kernels must not care)."""
    rng = np.random.default_rng(seed)
    n = len(depths) - 1
    acts = activations or ["NONE"] * n
    assert len(acts) == n and n >= 1 and batches >= 1 and min(depths) >= 1
    b = flatbuffers.Builder(4096)
    FO = fb("FullyConnectedOptions")

    tables = Tables()
    tensor = tables.tensor

    in_scale = 0.05
    x = tensor("input", [batches, depths[0]], INT8, in_scale, in_zp)
    first = x
    ops = []
    # calibration: quantized activations of 256 random input rows, so each layer's output scale
    # spreads its values over the int8 range (not all saturated, not all one value)
    xq = rng.integers(-128, 128, size=(256, depths[0])).astype(np.int64)
    for i in range(n):
        d, o = depths[i], depths[i + 1]
        w = rng.integers(-127, 128, size=(o, d)).astype(np.int8)
        if extreme:
            w.flat[:: max(1, w.size // 7)] = -128
            w.flat[1:: max(2, w.size // 5)] = 127
        w_scale = (rng.uniform(0.002, 0.02, size=o) if per_channel else np.array([0.01])).astype(np.float32)
        bias_scale = in_scale * w_scale.astype(np.float64)
        bias = rng.integers(-4000, 4000, size=o).astype(np.int32)
        real = ((xq - in_zp) @ w.astype(np.int64).T + bias) * (in_scale * w_scale.astype(np.float64))
        if acts[i] == "NONE":
            lo, hi = min(np.percentile(real, 1), 0.0), max(np.percentile(real, 99), 0.0)  # 0 representable
            out_scale = max(hi - lo, 1e-3) / 240
            out_zp = int(np.clip(round(-128 - lo / out_scale) + 8, -128, 127))
        elif acts[i] == "RELU_N1_TO_1":
            out_scale, out_zp = 2.0 / 255, 0
        else:  # RELU, RELU6: [0, top] over the whole range
            top = max(float(np.percentile(real, 99)), 1e-3)
            out_scale, out_zp = (min(top, 6.0) if acts[i] == "RELU6" else top) / 250, -128
        out_scale = float(np.float32(out_scale))
        lo_q = {"NONE": -128, "RELU": out_zp, "RELU6": out_zp, "RELU_N1_TO_1": out_zp + round(-1 / out_scale)}[acts[i]]
        xq = np.clip(np.round(real / out_scale) + out_zp, max(lo_q, -128), 127).astype(np.int64)
        wt = tensor(f"w{i}", [o, d], INT8, w_scale, np.zeros(w_scale.size), w.tobytes())
        bt = tensor(f"b{i}", [o], INT32, bias_scale, np.zeros(bias_scale.size), bias.tobytes())
        y = tensor(f"y{i}", [batches, o], INT8, out_scale, out_zp)
        ops.append((x, wt, bt, y, ACTIVATIONS[acts[i]]))
        x, in_scale, in_zp = y, out_scale, out_zp

    # ---- serialize (children before parents) ----
    buf_offs, t_offs = write_tensors(b, tables)
    op_offs = []
    for (xi, wi, bi, yi, act) in ops:
        FO.FullyConnectedOptionsStart(b)
        FO.FullyConnectedOptionsAddFusedActivationFunction(b, act)
        opts = FO.FullyConnectedOptionsEnd(b)
        op_offs.append(operator(b, 0, [xi, wi, bi], [yi], FC_OPTIONS, opts))
    return finish_model(b, path, buf_offs, t_offs, op_offs, [(FULLY_CONNECTED, 5 if per_channel else 4)], [first], [x],
                        f"tinyml-pio test FC chain: batches {batches}, depths {depths}")


# The awkward shapes the DSP kernel must get right: depths 1, 3, 4, 5, 7, 250 (not multiples of 4,
# a tail only, exactly one word), odd and even output depths, odd batch counts, all activations,
# per-tensor and per-channel weights, -128 weights.
AWKWARD = {
    "fc_awkward_chain_b3": dict(batches=3, depths=[1, 5, 3, 7, 4, 250, 9, 1], seed=11, per_channel=True,
                                activations=["NONE", "RELU", "NONE", "RELU6", "RELU", "NONE", "NONE"]),
    "fc_awkward_wide_b1": dict(batches=1, depths=[250, 7, 5, 2, 3], seed=12, extreme=True,
                               activations=["RELU", "NONE", "RELU_N1_TO_1", "NONE"]),
    "fc_awkward_b5": dict(batches=5, depths=[7, 250, 13, 4], seed=13, per_channel=True, in_zp=5,
                          activations=["NONE", "RELU", "NONE"]),
}


def write_awkward(outdir: str | Path) -> list[Path]:
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    return [fc_chain(out / f"{name}.tflite", **kw) for name, kw in AWKWARD.items()]
