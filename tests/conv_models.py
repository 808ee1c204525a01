"""Small int8 CONV_2D / DEPTHWISE_CONV_2D models written directly as TFLite flatbuffers (no TensorFlow needed).

For randomized tests of the optimized conv and depthwise kernels: the zoo's converted models only
have the shapes their authors chose, while an optimized kernel (4 int8 at a time, 2 output channels
or pixels per pass, im2col buffers, special 1x1 / 3x3 / depth-multiplier paths...) goes wrong on
the awkward ones: odd and prime channel counts, widths that are not a multiple of 4, a single input
channel, strides, dilations, padding on every border, depth multipliers, several batches, -128
weights, clamps that bite. `conv_chain` writes a chain of such layers with exactly the shapes asked
for; TFLite's own interpreter (tflite-runtime's reference kernels) runs it as the reference, so
these are as good a test as converted models. `AWKWARD_CONV` names a set of chains covering the edge
cases; `write_awkward_conv` writes them all.

Each layer's output scale and zero point come from a calibration pass in numpy (random full-range
int8 inputs through the layers in float64), so outputs use the int8 range without everything
saturating, and the activation clamps (RELU's zero, RELU6's 6, RELU_N1_TO_1's +-1) fall inside the
int8 range, where a kernel that forgets them is caught.

Modelled on tests/fc_models.py (FULLY_CONNECTED chains).
"""

from __future__ import annotations

from pathlib import Path

import flatbuffers
import numpy as np

from tflite_writer import Tables, fb, finish_model, operator, write_tensors

CONV_2D, DEPTHWISE_CONV_2D = 3, 4
OPCODE_VERSION = {CONV_2D: 3, DEPTHWISE_CONV_2D: 3}  # int8 (per-channel) versions in TFLite's op_version.cc
INT8, INT32 = 9, 2
ACTIVATIONS = {"NONE": 0, "RELU": 1, "RELU_N1_TO_1": 2, "RELU6": 3}
PADDING = {"SAME": 0, "VALID": 1}
CONV_OPTIONS, DW_OPTIONS = 1, 2  # BuiltinOptions.Conv2DOptions, BuiltinOptions.DepthwiseConv2DOptions

DEFAULTS = dict(op="conv", kh=3, kw=3, out_c=8, mult=1, stride=(1, 1), dilation=(1, 1), padding="SAME",
                act="NONE", per_channel=True, bias=True, extreme=False)
CALIBRATION_IMAGES = 24


def compute_out_size(padding: str, image: int, filt: int, stride: int, dilation: int) -> int:
    """TFLite ComputeOutSize (same as tinyml_pio/ops/conv.py, restated so the writer does not trust the compiler)."""
    eff = (filt - 1) * dilation + 1
    return (image + stride - 1) // stride if padding == "SAME" else (image + stride - eff) // stride


def _pad_before_after(padding: str, image: int, filt: int, stride: int, dilation: int,
                      out_size: int) -> tuple[int, int]:
    """TFLite ComputePaddingWithOffset: the odd pixel goes after (bottom/right)."""
    if padding == "VALID":
        return 0, 0
    eff = (filt - 1) * dilation + 1
    total = max((out_size - 1) * stride + eff - image, 0)
    return total // 2, total - total // 2


def _layer(spec: dict) -> dict:
    unknown = set(spec) - set(DEFAULTS)
    assert not unknown, f"unknown layer keys {sorted(unknown)}"
    L = {**DEFAULTS, **spec}
    L["stride"], L["dilation"] = tuple(L["stride"]), tuple(L["dilation"])
    assert L["op"] in ("conv", "dw") and L["padding"] in PADDING and L["act"] in ACTIVATIONS, L
    assert min(L["kh"], L["kw"], *L["stride"], *L["dilation"], L["mult"], L["out_c"]) >= 1, L
    return L


def chain_shapes(input_shape, layers: list[dict]) -> list[dict]:
    """Per layer: input and output shapes [n, h, w, c], weight shape and MACs (raises on an empty output)."""
    n, h, w, c = input_shape
    rows = []
    for i, spec in enumerate(layers):
        L = _layer(spec)
        (sh, sw), (dh, dw) = L["stride"], L["dilation"]
        oh = compute_out_size(L["padding"], h, L["kh"], sh, dh)
        ow = compute_out_size(L["padding"], w, L["kw"], sw, dw)
        assert oh >= 1 and ow >= 1, f"layer {i}: empty output ({h}x{w} input, {L})"
        if L["op"] == "conv":
            oc, wshape = L["out_c"], [L["out_c"], L["kh"], L["kw"], c]
            macs = n * oh * ow * oc * L["kh"] * L["kw"] * c
        else:
            oc = c * L["mult"]
            wshape, macs = [1, L["kh"], L["kw"], oc], n * oh * ow * oc * L["kh"] * L["kw"]
        rows.append(dict(layer=L, input=[n, h, w, c], output=[n, oh, ow, oc], weights=wshape, macs=macs))
        h, w, c = oh, ow, oc
    return rows


def _accumulate(x: np.ndarray, w: np.ndarray, L: dict, out_hw: tuple[int, int]) -> np.ndarray:
    """Integer accumulators without bias: x is [N, H, W, C] with the zero point already subtracted
    (int64), padded taps contribute nothing (TFLite skips them). Returns [N, oh, ow, out_c] int64."""
    (sh, sw), (dh, dw) = L["stride"], L["dilation"]
    kh, kw = L["kh"], L["kw"]
    oh, ow = out_hw
    _, H, W, C = x.shape
    pt, pb = _pad_before_after(L["padding"], H, kh, sh, dh, oh)
    pl, pr = _pad_before_after(L["padding"], W, kw, sw, dw, ow)
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    acc = None
    for ky in range(kh):
        for kx in range(kw):
            y0, x0 = ky * dh, kx * dw
            tap = xp[:, y0:y0 + (oh - 1) * sh + 1:sh, x0:x0 + (ow - 1) * sw + 1:sw, :]
            assert tap.shape[1:3] == (oh, ow)
            if L["op"] == "conv":
                part = tap @ w[:, ky, kx, :].T  # [N, oh, ow, C] @ [C, out_c]
            else:
                part = np.repeat(tap, L["mult"], axis=-1) * w[0, ky, kx, :]  # output channel ic*mult + m
            acc = part if acc is None else acc + part
    return acc


def _activation_range(act: str, scale: float, zp: int) -> tuple[int, int]:
    """TFLite CalculateActivationRangeQuantized for int8."""
    q = lambda v: zp + int(np.floor(v / scale + 0.5)) if v >= 0 else zp - int(np.floor(-v / scale + 0.5))
    lo, hi = {"NONE": (-128, 127), "RELU": (q(0.0), 127), "RELU6": (q(0.0), q(6.0)),
              "RELU_N1_TO_1": (q(-1.0), q(1.0))}[act]
    return max(lo, -128), min(hi, 127)


# real-valued spread (99th percentile of |output|) aimed at per activation, so RELU6 and RELU_N1_TO_1 clamp some
# but not all values
_TARGET = {"NONE": 4.0, "RELU": 4.0, "RELU6": 9.0, "RELU_N1_TO_1": 1.6}


def _output_quant(act: str, real: np.ndarray, rng: np.random.Generator) -> tuple[float, int]:
    """Output scale and zero point from the calibration outputs. The clamps of RELU/RELU6/RELU_N1_TO_1 land
    strictly inside [-128, 127] so they are not hidden by int8 saturation."""
    if act == "NONE":
        lo, hi = min(np.percentile(real, 0.5), 0.0), max(np.percentile(real, 99.5), 0.0)  # 0 representable
        scale = max(hi - lo, 1e-3) / 240
        zp = int(np.clip(round(-128 - lo / scale) + 8, -128, 127))
    elif act == "RELU":
        zp = int(rng.integers(-124, -100))
        scale = max(float(np.percentile(real, 99.5)), 1e-3) / (127 - zp)
    elif act == "RELU6":
        zp = int(rng.integers(-124, -100))
        top = min(max(float(np.percentile(real, 99.5)), 1e-3), 6.0)
        scale = top / (118 - zp)  # 6.0 quantizes to 118 (or less when the outputs never reach 6)
    else:  # RELU_N1_TO_1: +-1 at zp -+ 100
        zp = int(rng.integers(-20, 21))
        scale = 1.0 / 100
    return float(np.float32(scale)), zp


def conv_chain(path: str | Path, input_shape, layers: list[dict], seed: int = 0, in_zp: int = -3) -> Path:
    """An int8 model: input `input_shape` [batches, h, w, c] -> layer 0 -> layer 1 -> ... -> output.

    Each layer is a dict (missing keys take DEFAULTS): op "conv" (CONV_2D, weights [out_c, kh, kw, in_c],
    quantized_dimension 0) or "dw" (DEPTHWISE_CONV_2D, weights [1, kh, kw, in_c * mult], quantized_dimension 3),
    stride (sh, sw), dilation (dh, dw), padding "SAME"/"VALID", act (fused activation), per_channel (one weight
    scale per output channel, else one per tensor), bias (int32 bias with scale in_scale * w_scale; False,
    depthwise only: the operator has only 2 inputs -- tflite-runtime 2.14 rejects a -1 bias input, and its
    CONV_2D requires a bias, so a conv without one raises ValueError),
    extreme (some weights -128 and 127: TFLite's converter never emits -128, but the kernels must not care).
    Weights are symmetric int8 in [-127, 127], per channel or per tensor."""
    rng = np.random.default_rng(seed)
    rows = chain_shapes(input_shape, layers)
    for i, row in enumerate(rows):
        if row["layer"]["op"] == "conv" and not row["layer"]["bias"]:
            raise ValueError(f"layer {i}: CONV_2D without a bias: tflite-runtime 2.14 refuses it "
                             "(conv.cc Prepare: 'has_bias was not true'), so it could not be the reference")
    assert len(rows) >= 1 and -128 <= in_zp <= 127
    b = flatbuffers.Builder(16384)
    CO, DO = fb("Conv2DOptions"), fb("DepthwiseConv2DOptions")

    tables = Tables()
    tensor = tables.tensor

    in_scale = 0.05
    x = tensor("input", rows[0]["input"], INT8, in_scale, in_zp)
    first = x
    ops = []
    # calibration: the quantized activations of random full-range int8 input images (what verify feeds)
    _, h0, w0, c0 = rows[0]["input"]
    xq = rng.integers(-128, 128, size=(CALIBRATION_IMAGES, h0, w0, c0)).astype(np.int64)
    for i, row in enumerate(rows):
        L = row["layer"]
        oc = row["output"][3]
        qdim = 0 if L["op"] == "conv" else 3
        w = rng.integers(-127, 128, size=row["weights"]).astype(np.int8)
        if L["extreme"]:
            w.flat[:: max(1, w.size // 7)] = -128
            w.flat[1:: max(2, w.size // 5)] = 127
            w.flat[-1] = -128
        acc = _accumulate(xq - in_zp, w.astype(np.int64), L, tuple(row["output"][1:3]))
        if L["bias"]:
            spread = np.maximum(acc.reshape(-1, oc).std(axis=0), 8.0)
            bias = np.round(rng.uniform(-0.6, 0.6, size=oc) * spread).astype(np.int32)
        else:
            bias = np.zeros(oc, np.int32)
        # weight scales: per channel a random factor (each channel its own multiplier), times one base
        # scale chosen so that the real outputs have the spread _TARGET asks for
        factor = np.exp(rng.uniform(np.log(0.3), np.log(3.0), size=oc)) if L["per_channel"] else np.ones(1)
        unit = (acc + bias) * in_scale * factor  # real outputs for base scale 1
        base = _TARGET[L["act"]] / max(float(np.percentile(np.abs(unit), 99)), 1e-12)
        w_scale = (base * factor).astype(np.float32)
        real = (acc + bias) * (in_scale * w_scale.astype(np.float64))
        out_scale, out_zp = _output_quant(L["act"], real, rng)
        lo_q, hi_q = _activation_range(L["act"], out_scale, out_zp)
        xq = np.clip(np.round(real / out_scale) + out_zp, lo_q, hi_q).astype(np.int64)

        wt = tensor(f"w{i}", row["weights"], INT8, w_scale, np.zeros(w_scale.size), w.tobytes(), qdim=qdim)
        bt = -1
        if L["bias"]:
            bias_scale = in_scale * w_scale.astype(np.float64)
            bt = tensor(f"b{i}", [oc], INT32, bias_scale, np.zeros(bias_scale.size), bias.tobytes())
        y = tensor(f"y{i}", row["output"], INT8, out_scale, out_zp)
        ops.append((L, x, wt, bt, y))
        x, in_scale, in_zp = y, out_scale, out_zp

    # ---- serialize (children before parents) ----
    buf_offs, t_offs = write_tensors(b, tables)
    codes = sorted({CONV_2D if L["op"] == "conv" else DEPTHWISE_CONV_2D for (L, *_) in ops})
    op_offs = []
    for (L, xi, wi, bi, yi) in ops:
        (sh, sw), (dh, dw) = L["stride"], L["dilation"]
        if L["op"] == "conv":
            code, opts_type = CONV_2D, CONV_OPTIONS
            CO.Conv2DOptionsStart(b)
            CO.Conv2DOptionsAddPadding(b, PADDING[L["padding"]])
            CO.Conv2DOptionsAddStrideW(b, sw)
            CO.Conv2DOptionsAddStrideH(b, sh)
            CO.Conv2DOptionsAddFusedActivationFunction(b, ACTIVATIONS[L["act"]])
            CO.Conv2DOptionsAddDilationWFactor(b, dw)
            CO.Conv2DOptionsAddDilationHFactor(b, dh)
            opts = CO.Conv2DOptionsEnd(b)
        else:
            code, opts_type = DEPTHWISE_CONV_2D, DW_OPTIONS
            DO.DepthwiseConv2DOptionsStart(b)
            DO.DepthwiseConv2DOptionsAddPadding(b, PADDING[L["padding"]])
            DO.DepthwiseConv2DOptionsAddStrideW(b, sw)
            DO.DepthwiseConv2DOptionsAddStrideH(b, sh)
            DO.DepthwiseConv2DOptionsAddDepthMultiplier(b, L["mult"])
            DO.DepthwiseConv2DOptionsAddFusedActivationFunction(b, ACTIVATIONS[L["act"]])
            DO.DepthwiseConv2DOptionsAddDilationWFactor(b, dw)
            DO.DepthwiseConv2DOptionsAddDilationHFactor(b, dh)
            opts = DO.DepthwiseConv2DOptionsEnd(b)
        op_offs.append(operator(b, codes.index(code), [xi, wi] + ([bi] if bi >= 0 else []), [yi], opts_type, opts))
    return finish_model(b, path, buf_offs, t_offs, op_offs, [(c, OPCODE_VERSION[c]) for c in codes], [first], [x],
                        f"tinyml-pio test conv chain: input {list(input_shape)}, {len(rows)} layers")


def _pw(out_c: int, **kw) -> dict:
    """A 1x1 stride-1 convolution (a matrix product over the pixels)."""
    return dict(op="conv", kh=1, kw=1, out_c=out_c, **kw)


# The awkward shapes the optimized kernels must get right. Each chain stays small (under ~300k MACs,
# every tensor under ~20 KB) so it runs quickly on an emulated Cortex-M.
AWKWARD_CONV: dict[str, dict] = {
    # KWS-style first layer: 1 input channel, a 10x4 filter, stride 2, then depthwise + pointwise; zp -128
    "conv_kws_in1": dict(input_shape=[1, 20, 9, 1], seed=21, in_zp=-128, layers=[
        dict(op="conv", kh=10, kw=4, out_c=8, stride=(2, 2), padding="SAME", act="RELU"),
        dict(op="dw", kh=3, kw=3, padding="SAME", act="RELU", per_channel=False),
        _pw(16, act="RELU6"),
        dict(op="conv", kh=10, kw=4, out_c=5, padding="VALID", act="NONE", extreme=True),
    ]),
    # 1x1 pointwise chain: in_c 3, 16, 32, 13, 5, 2 -> out_c 16, 32, 13, 5, 2, 1 on a 9x11 image; zp 0
    "pointwise_9x11": dict(input_shape=[1, 9, 11, 3], seed=22, in_zp=0, layers=[
        _pw(16, act="NONE"),
        _pw(32, act="RELU", per_channel=False),
        _pw(13, act="RELU6"),
        _pw(5, act="NONE"),
        _pw(2, act="RELU_N1_TO_1", extreme=True),
        _pw(1, act="NONE"),
    ]),
    # 3x3 convolutions, SAME/VALID, stride 1/2, channels 5 -> 7 -> 13 -> 17 -> 4 on 12x12; per-tensor; zp 5
    "conv3x3_12x12": dict(input_shape=[1, 12, 12, 5], seed=23, in_zp=5, layers=[
        dict(op="conv", out_c=7, padding="SAME", act="RELU", per_channel=False),
        dict(op="conv", out_c=13, stride=(2, 2), padding="VALID", act="NONE", per_channel=False),
        dict(op="conv", out_c=17, stride=(2, 2), padding="SAME", act="RELU6", per_channel=False, extreme=True),
        dict(op="conv", out_c=4, padding="VALID", act="RELU_N1_TO_1", per_channel=False),
    ]),
    # batch 2, dilation 2 (conv and depthwise, also mixed with stride / uneven), width 7
    "dilated_b2_13x7": dict(input_shape=[2, 13, 7, 3], seed=24, in_zp=-3, layers=[
        dict(op="conv", out_c=8, dilation=(2, 2), padding="SAME", act="RELU"),
        dict(op="dw", dilation=(2, 2), padding="VALID", act="NONE", extreme=True),
        dict(op="dw", mult=2, dilation=(2, 1), padding="SAME", act="RELU6", bias=False),
        dict(op="conv", out_c=5, dilation=(1, 2), stride=(2, 1), padding="SAME", act="NONE", per_channel=False),
        _pw(8, act="RELU"),
    ]),
    # 5x5 and 7x7 depthwise, SAME and VALID, stride 1 and 2, 7 channels (not a multiple of 4); zp -128
    "dw_large_12x12": dict(input_shape=[1, 12, 12, 7], seed=25, in_zp=-128, layers=[
        dict(op="dw", kh=5, kw=5, padding="SAME", act="NONE"),
        dict(op="dw", kh=7, kw=7, padding="SAME", act="RELU", per_channel=False),
        dict(op="dw", kh=7, kw=7, padding="VALID", act="NONE", bias=False),
        dict(op="dw", kh=5, kw=5, stride=(2, 2), padding="SAME", act="RELU6", extreme=True),
        dict(op="dw", padding="VALID", act="RELU_N1_TO_1"),
    ]),
    # 3x3 depthwise, stride 1 and 2, SAME and VALID, 13 channels on 13x11, then multiplier 2 (13 -> 26)
    "dw3x3_13x11": dict(input_shape=[1, 13, 11, 13], seed=26, in_zp=5, layers=[
        dict(op="dw", padding="SAME", act="RELU", per_channel=False),
        dict(op="dw", padding="VALID", act="NONE"),
        dict(op="dw", stride=(2, 2), padding="SAME", act="RELU_N1_TO_1", extreme=True),
        dict(op="dw", mult=2, padding="SAME", act="RELU6", bias=False),
        dict(op="dw", stride=(2, 2), padding="VALID", act="NONE", per_channel=False),
    ]),
    # MobileNet-like start: depthwise of 1 input channel with multiplier 8 (stride 2), multiplier 2, pointwise
    "mobilenet_in1_x8": dict(input_shape=[1, 12, 12, 1], seed=27, in_zp=0, layers=[
        dict(op="dw", mult=8, stride=(2, 2), padding="SAME", act="RELU6"),
        dict(op="dw", mult=2, padding="SAME", act="RELU6", per_channel=False),
        _pw(8, act="RELU6"),
        dict(op="dw", padding="SAME", act="RELU"),
        _pw(2, act="NONE", extreme=True),
    ]),
    # widths 9/13/7, 17 channels, 1x3 and 3x1 kernels, a 7x7 VALID depthwise, a 1x1 stride-2 (strided, not a matmul)
    "mixed_17ch_9x13": dict(input_shape=[1, 9, 13, 8], seed=28, in_zp=-128, layers=[
        _pw(5, act="RELU"),
        dict(op="conv", kh=1, kw=3, out_c=17, padding="SAME", act="NONE"),
        dict(op="dw", kh=7, kw=7, padding="VALID", act="RELU_N1_TO_1", extreme=True),
        dict(op="conv", kh=3, kw=1, out_c=13, padding="SAME", act="NONE"),
        dict(op="conv", kh=1, kw=1, out_c=16, stride=(2, 2), padding="VALID", act="RELU"),
        _pw(5, act="NONE"),
    ]),
    # 25 and 10 pixels: the last block of the 1x1 kernels holds 1 or 2 pixels (the one-pixel path), in place
    # growing (3 -> 16) and shrinking (16 -> 6) channels
    "pointwise_tail_5x5": dict(input_shape=[1, 5, 5, 3], seed=29, in_zp=7, layers=[
        _pw(16, act="RELU"),
        _pw(6, act="NONE", per_channel=False),
        dict(op="dw", kh=3, kw=3, stride=(2, 1), padding="SAME", act="RELU6"),
        _pw(11, act="NONE"),
    ]),
}


def _inverted_residual(expand: int, out_c: int, stride: int) -> list[dict]:
    """MobileNetV2's block without its residual ADD: 1x1 expand, 3x3 depthwise, 1x1 project."""
    return [_pw(expand, act="RELU6"), dict(op="dw", stride=(stride, stride), act="RELU6"), _pw(out_c)]


def mobilenet_v2_like(size: int = 144) -> dict:
    """conv_chain keyword arguments for a MobileNetV2-0.35-shaped chain at `size` px (channels
    16-8-8-8-16-16-24-24-32-56, expansion 6, the first blocks' strides), residual ADDs omitted:
    a chain, so patches can reach the end of the second block. Random weights: for memory
    figures (benchmarks/patches.py) and bit-exactness, not accuracy."""
    layers = [dict(op="conv", out_c=16, stride=(2, 2), act="RELU6"), dict(op="dw", act="RELU6"), _pw(8)]
    for expand, out_c, stride in ((48, 8, 2), (48, 8, 1), (48, 16, 2), (96, 16, 1), (96, 24, 2), (144, 24, 1),
                                  (144, 32, 1), (192, 56, 2)):
        layers += _inverted_residual(expand, out_c, stride)
    return dict(input_shape=[1, size, size, 3], layers=layers + [_pw(320, act="RELU6")], seed=1)


def write_awkward_conv(outdir: str | Path) -> list[Path]:
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    return [conv_chain(out / f"{name}.tflite", **kw) for name, kw in AWKWARD_CONV.items()]



def random_chain(seed: int) -> dict:
    """conv_chain keyword arguments for a random small chain (2-4 layers) of random shapes: 1x1,
    3x3, 5x5, 7x7 and 1xN/Nx1 convolutions, depthwise with multiplier 1, 2 or (on one input
    channel) 4/8, strides 1-2, dilations 1-2, SAME/VALID, every activation, per-tensor or
    per-channel, bias or not, extreme weights, any input zero point. Deterministic per seed, so a
    failing seed is a reproducible case."""
    rng = np.random.default_rng(seed)
    shape = [int(rng.choice([1, 1, 1, 2])), int(rng.integers(5, 15)), int(rng.integers(5, 15)),
             int(rng.choice([1, 2, 3, 4, 5, 7, 8, 13, 16, 17]))]
    layers: list[dict] = []
    for _ in range(int(rng.integers(2, 5))):
        common = dict(act=str(rng.choice(list(ACTIVATIONS))), per_channel=bool(rng.integers(2)),
                      extreme=bool(rng.integers(4) == 0), padding=str(rng.choice(["SAME", "VALID"])))
        window = dict(stride=tuple(int(s) for s in rng.integers(1, 3, size=2)),
                      dilation=tuple(int(d) for d in rng.choice([1, 1, 2], size=2)))
        c = chain_shapes(shape, layers)[-1]["output"][3] if layers else shape[3]
        kind = int(rng.integers(4))
        if kind == 0:
            spec = dict(op="conv", kh=1, kw=1, out_c=int(rng.integers(1, 34)), **dict(common, padding="SAME"))
        elif kind == 1:
            kh = int(rng.choice([1, 3, 3, 3, 5, 7]))
            mult = int(rng.choice([4, 8])) if c == 1 and rng.integers(2) else int(rng.choice([1, 1, 1, 2]))
            spec = dict(op="dw", kh=kh, kw=int(rng.choice([kh, kh, 1, 3])), mult=mult, bias=bool(rng.integers(4)),
                        **window, **common)
        else:
            kh = int(rng.choice([1, 3, 3, 5]))
            spec = dict(op="conv", kh=kh, kw=int(rng.choice([kh, 1, 3, 4])), out_c=int(rng.integers(1, 20)),
                        **window, **common)
        try:
            out = chain_shapes(shape, layers + [spec])[-1]["output"]
        except AssertionError:  # empty output: try another layer
            continue
        if int(np.prod(out)) <= 4096:
            layers.append(spec)
    if not layers:
        layers = [dict(op="conv", kh=1, kw=1, out_c=3)]
    return dict(input_shape=shape, layers=layers, seed=seed, in_zp=int(rng.integers(-128, 128)))
