"""Optimized convolution kernels (library/src/kernels/*_opt.c): the build-time half of their work.

The reference conv/depthwise kernels apply `w * (x + input_offset)` per tap, skip padded taps and
requantize with TFLite's 64-bit arithmetic. Knowing every shape and constant at generation time,
the optimized kernels do less on the device, because this module did it here:

- the input zero point is folded into the bias (b' = b - zp * sum(w), wrapped to int32; padded
  taps read the zero point, so they contribute w * zp, which b' cancels: exact);
- each output channel's requantization constants sit in one `tinyml_chanq_t`;
- `fast_rq`: when every channel provably keeps |acc| * 2^left_shift below 2^30 (the bound is
  |b| + max|x - zp| * sum|w| over the int8 range) and right-shifts by at least 1, the kernel uses
  the 32-bit form of TFLite's requantization (see library/include/tinyml/opt.h for the proof);
- depthwise weights are repacked into blocks of four channels, tap after tap, so the device loop
  reads them with one word load and a post-increment (no flash growth: zero-padding to a multiple
  of four channels only);
- FULLY_CONNECTED runs on its own kernel with the weights interleaved four filters at a time (with
  Helium: on the matrix kernel, whose one-pixel path needs no scratch), and
  MAX_POOL_2D and AVERAGE_POOL_2D on kernels that walk the window once for four channels (SSUB8/SEL
  and SXTAB16 with DSP);
- a same-shape ADD gets its constants in the form of an exact 32-bit computation (SMMULR, offsets
  pre-shifted, the output zero point inside the rounding), proven here for the layer
  (tinyml/elementwise_opt.h), or keeps the reference kernel;
- a depthwise layer with one input channel (MobileNet's first layer, multiplier M) is an ordinary
  convolution with M filters: its weights are transposed here and it runs on the matrix kernel.

Scratch sizes are the twins of the C macros in tinyml/conv_opt.h and tinyml/depthwise_conv_opt.h;
the planner places scratch in the arena like any buffer (the generated arena size includes it). The same
functions compile for every CPU (DSP, MVE, or plain C), so a layer is specialized for any known
microcontroller target; host verification with `CpuFeatures.host_optimized()` runs the plain-C
path against TFLite.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..cpu import CpuFeatures
from ..ir import Graph
from ..ops import ConstArg, Layer, ScratchArg, TensorArg

CHANQ_FIELDS = ("bias", "mult", "rnd", "shift")  # tinyml_chanq_t
OPT_PIXELS = 4  # TINYML_OPT_PIXELS
MAX_DW_FILTER_H = 16  # the depthwise kernel's row-pointer table


def mat_scratch(k: int, target: CpuFeatures, pixels: int = OPT_PIXELS, in_place: bool = True) -> int:
    """TINYML_MAT_SCRATCH_DSP / _C: four widened (or copied) rows of k int8 values; with at most two
    pixels the kernel takes its one-pixel path, which needs scratch only to copy a pixel in place."""
    if pixels <= 2:
        return k if in_place else 0
    return (k // 4) * 32 + 48 if _simd(target) else 4 * k


def im2col_scratch(k: int, target: CpuFeatures, pixels: int) -> int:
    """tinyml_conv2d_s8_opt: four im2col rows, and with DSP their widening (none for <= 2 pixels)."""
    return 4 * k + (mat_scratch(k, target, pixels, in_place=False) if _simd(target) and pixels > 2 else 0)


def _simd(target: CpuFeatures) -> bool:
    return target.dsp or target.mve


def chanq(bias: np.ndarray, wsum: np.ndarray, wabs: np.ndarray, in_zp: int, out_zp: int, mult: np.ndarray,
          shift: np.ndarray) -> tuple[np.ndarray, bool]:
    """Per-channel [bias', mult, rnd, shift] (tinyml_chanq_t, int32, flattened) and whether `fast_rq` is exact."""
    bias = bias.astype(np.int64)
    folded = bias - int(in_zp) * wsum.astype(np.int64)
    wrapped = ((folded + (1 << 31)) % (1 << 32)) - (1 << 31)
    xmax = max(127 - int(in_zp), int(in_zp) + 128)  # max |x - zp| over int8 x
    bound = np.abs(bias) + xmax * wabs.astype(np.int64)
    shift = shift.astype(np.int64)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    fast = bool(np.all(right >= 1) and np.all(right <= 31) and np.all((bound << left) < (1 << 30)))
    if fast:
        rnd = (np.int64(1) << (right - 1)) + int(out_zp) * (np.int64(1) << right)
        fast = bool(np.all(np.abs(rnd) < (1 << 30)))
    n = bias.size
    q = np.zeros((n, len(CHANQ_FIELDS)), np.int64)
    q[:, 0] = wrapped
    q[:, 1] = mult
    if fast:  # right >= 1 for every channel, so the left shift is 0
        q[:, 2] = rnd
        q[:, 3] = right
    else:
        q[:, 3] = shift
    return q.astype(np.int32).reshape(-1), fast


def _bias_values(g: Graph, layer: Layer, n: int) -> np.ndarray:
    b = layer.args[2]
    if isinstance(b, TensorArg):
        return g.t(b.tensor).data.astype(np.int64).reshape(n)
    return np.zeros(n, np.int64)


def _q_arg() -> ConstArg:
    return ConstArg("q", cast="const tinyml_chanq_t *")


def _common(g: Graph, layer: Layer, w: np.ndarray) -> tuple[np.ndarray, bool]:
    """w: [out_c, taps] int64 filter rows (output channel by output channel)."""
    p = layer.params
    n = w.shape[0]
    return chanq(_bias_values(g, layer, n), w.sum(axis=1), np.abs(w).sum(axis=1), -p["input_offset"],
                 p["output_offset"], layer.consts["mult"], layer.consts["shift"])


def specialize_conv(layer: Layer, g: Graph, target: CpuFeatures) -> Layer | None:
    """CONV_2D (groups 1) -> tinyml_conv1x1_s8_opt (pointwise) or tinyml_conv2d_s8_opt (im2col)."""
    p = layer.params
    if p["filter_c"] != p["in_c"]:
        return None  # grouped convolution: the reference kernel
    x, wt, y = layer.args[0], layer.args[1], layer.args[-1]
    w = g.t(wt.tensor).data.astype(np.int64).reshape(p["out_c"], -1)
    q, fast = _common(g, layer, w)
    pointwise = (p["filter_h"], p["filter_w"], p["stride_h"], p["stride_w"], p["pad_h"], p["pad_w"]) == (1, 1, 1, 1, 0, 0)
    k = w.shape[1]
    pixels = p["batches"] * p["out_h"] * p["out_w"]
    if pointwise:
        func, scratch = "tinyml_conv1x1_s8_opt", mat_scratch(k, target, pixels)
    else:
        func, scratch = "tinyml_conv2d_s8_opt", im2col_scratch(k, target, pixels)
    return _rebuild(layer, func, "tinyml/conv_opt.h", "tinyml_conv2d_params_t", dict(p, fast_rq=int(fast)),
                    [x, wt, _q_arg(), y, ScratchArg()], {"q": q}, scratch, pointwise)


def specialize_depthwise(layer: Layer, g: Graph, target: CpuFeatures) -> Layer | None:
    """DEPTHWISE_CONV_2D -> tinyml_depthwise_conv2d_s8_opt (multiplier 1), or, with one input
    channel, tinyml_conv2d_s8_opt on the transposed filter."""
    p = layer.params
    x, wt, y = layer.args[0], layer.args[1], layer.args[-1]
    fh, fw, c = p["filter_h"], p["filter_w"], p["out_c"]
    taps = g.t(wt.tensor).data.astype(np.int64).reshape(fh * fw, c)  # [tap][channel]
    w = taps.T  # [channel][tap]
    q, fast = _common(g, layer, w)
    if p["in_c"] == 1 and p["depth_multiplier"] > 1:
        # the same fields, but for the multiplier: tinyml_conv2d_params_t with filter_c = in_c = 1
        conv = {k: v for k, v in p.items() if k != "depth_multiplier"}
        conv.update(filter_c=1, fast_rq=int(fast))
        scratch = im2col_scratch(fh * fw, target, p["batches"] * p["out_h"] * p["out_w"])
        new = _rebuild(layer, "tinyml_conv2d_s8_opt", "tinyml/conv_opt.h", "tinyml_conv2d_params_t", conv,
                       [x, ConstArg("w"), _q_arg(), y, ScratchArg()], {"q": q, "w": w.astype(np.int8).reshape(-1)},
                       scratch, False)
        return _noted(new, "as a convolution with one input channel")
    if p["depth_multiplier"] != 1 or fh > MAX_DW_FILTER_H:
        return None
    blocks = (c + 3) // 4
    packed = np.zeros((blocks * 4, fh * fw), np.int64)
    packed[:c] = w
    packed = packed.reshape(blocks, 4, fh * fw).transpose(0, 2, 1)  # [block][tap][lane]
    ring_rows = (fh - 1) * p["dilation_h"] + 1
    ring_w = (p["out_w"] - 1) * p["stride_w"] + (fw - 1) * p["dilation_w"] + 1
    scratch = ring_rows * ring_w * c + 4
    return _rebuild(layer, "tinyml_depthwise_conv2d_s8_opt", "tinyml/depthwise_conv_opt.h", "tinyml_dwconv2d_params_t",
                    dict(p, fast_rq=int(fast)), [x, ConstArg("w"), _q_arg(), y, ScratchArg()],
                    {"q": q, "w": packed.astype(np.int8).reshape(-1)}, scratch, p["batches"] == 1)


def fc_weights(w: np.ndarray) -> np.ndarray:
    """[out, k] int8 weights in tinyml_fully_connected_s8_opt's order (tinyml/fully_connected_opt.h): for each
    group of four filters, block by block of four inputs, the four filters' words; then each group's k % 4
    last weights, input by input; then the out % 4 last filters row-major. Same bytes, reordered."""
    out, k = w.shape
    groups, kb = out // 4, k // 4
    g = w[: 4 * groups].reshape(groups, 4, k)
    main = g[:, :, : 4 * kb].reshape(groups, 4, kb, 4).transpose(0, 2, 1, 3)  # [group][block][filter][4]
    tails = g[:, :, 4 * kb:].transpose(0, 2, 1)  # [group][input][filter]
    return np.concatenate([main.reshape(-1), tails.reshape(-1), w[4 * groups:].reshape(-1)])


FC_WIDEN_K = (64, 1024)  # input depths for which the FC kernel widens its input row once (2k bytes of scratch)


def fc_widen(k: int, out: int, target: CpuFeatures) -> bool:
    """Whether the FC kernel widens its input row into scratch (TINYML_FC_SCRATCH_DSP): with DSP, when four
    groups of four filters or more share it (widening a block costs about five instructions once, and saves
    two per group: one LDRD instead of LDR + 2 SXTB16), the row is long enough for that to matter, and its
    2k bytes of arena stay small (below 64 inputs the tiny MLPs would double their arena for a few ticks)."""
    return bool(target.dsp) and out >= 16 and FC_WIDEN_K[0] <= k <= FC_WIDEN_K[1]


def specialize_fc(layer: Layer, g: Graph, target: CpuFeatures) -> Layer | None:
    """FULLY_CONNECTED -> tinyml_fully_connected_s8_opt on interleaved weights, or with Helium the matrix kernel
    (tinyml_conv1x1_s8_opt: `batches` pixels of `in_depth` values; one or two batches take its one-pixel path)."""
    p = layer.params
    if p["out_depth"] * p["batches"] < 4:
        return None  # one to three outputs: the portable loop has less to set up
    x, wt, y = layer.args[0], layer.args[1], layer.args[-1]
    w = g.t(wt.tensor).data.astype(np.int64).reshape(p["out_depth"], p["in_depth"])
    in_zp = g.t(x.tensor).quant.zp
    raw_bias = layer.consts["bias"].astype(np.int64) + int(in_zp) * w.sum(axis=1)  # the lowering folded it
    q, fast = chanq(raw_bias, w.sum(axis=1), np.abs(w).sum(axis=1), in_zp, p["output_offset"], layer.consts["mult"],
                    layer.consts["shift"])
    if not target.mve:
        widen = fc_widen(p["in_depth"], p["out_depth"], target)
        fc = dict(batches=p["batches"], in_depth=p["in_depth"], out_depth=p["out_depth"],
                  output_offset=p["output_offset"], act_min=p["act_min"], act_max=p["act_max"], fast_rq=int(fast),
                  widen=int(widen))
        return _rebuild(layer, "tinyml_fully_connected_s8_opt", "tinyml/fully_connected_opt.h", "tinyml_fc_opt_params_t",
                        fc, [x, ConstArg("w"), _q_arg(), y, ScratchArg()], {"q": q, "w": fc_weights(w).astype(np.int8)},
                        8 * (p["in_depth"] // 4) if widen else 0, False)  # TINYML_FC_SCRATCH_DSP
    conv = dict(batches=1, in_h=1, in_w=p["batches"], in_c=p["in_depth"], out_h=1, out_w=p["batches"],
                out_c=p["out_depth"], filter_h=1, filter_w=1, filter_c=p["in_depth"], stride_h=1, stride_w=1,
                dilation_h=1, dilation_w=1, pad_h=0, pad_w=0, input_offset=-int(in_zp),
                output_offset=p["output_offset"], act_min=p["act_min"], act_max=p["act_max"], fast_rq=int(fast))
    return _rebuild(layer, "tinyml_conv1x1_s8_opt", "tinyml/conv_opt.h", "tinyml_conv2d_params_t", conv,
                    [x, wt, _q_arg(), y, ScratchArg()], {"q": q},
                    mat_scratch(p["in_depth"], target, p["batches"], in_place=False), False)


def _rebuild(layer: Layer, func: str, header: str, params_type: str, params: dict, args: list, consts: dict,
             scratch: int, in_place: bool) -> Layer:
    """The layer calling `func`; in place (when the planner chooses it) is the same call with the
    output pointer equal to the input pointer, so no separate in-place kernel or scratch."""
    fast = "fast requantization" if params.get("fast_rq") else "64-bit requantization"
    return dataclasses.replace(
        layer, func=func, header=header, params_type=params_type, params=params, args=args, consts=consts,
        scratch_bytes=int(scratch), inplace=layer.inplace if in_place else None, inplace_scratch_bytes=0,
        inplace_grow=layer.inplace_grow if in_place else False, inplace_func=None, inplace_args=None,
        comment=_noted(layer, f"optimized kernel, {fast}").comment)


def _noted(layer: Layer, note: str) -> Layer:
    """The layer with `note` appended to the comment printed above its call."""
    return dataclasses.replace(layer, comment=(layer.comment + ", " if layer.comment else "") + note)


def specialize_maxpool(layer: Layer, g: Graph, target: CpuFeatures) -> Layer | None:
    """MAX_POOL_2D -> tinyml_maxpool_s8_opt: the same call, channels inside the window loops."""
    return _noted(dataclasses.replace(layer, func="tinyml_maxpool_s8_opt", header="tinyml/pool_opt.h"),
                  "optimized kernel")


def specialize_avgpool(layer: Layer, g: Graph, target: CpuFeatures) -> Layer | None:
    """AVERAGE_POOL_2D -> tinyml_avgpool_s8_opt: the same call, four channels per walk of the window."""
    return _noted(dataclasses.replace(layer, func="tinyml_avgpool_s8_opt", header="tinyml/pool_opt.h"),
                  "optimized kernel")


HALF = 1 << 30  # Q31 multiplier 1/2 (shift 0): what TFLite gives the ADD input with the larger scale


def add_constants(p: dict) -> tuple[dict, bool] | None:
    """tinyml_add_opt_params_t fields (without count) for ADD parameters `p` (add_params), and whether
    the inputs swap (the kernel takes the input with multiplier 1/2 first); None when the 32-bit
    form is not exact for them (tinyml/elementwise_opt.h)."""
    ins = [(p["input1_offset"], p["input1_multiplier"], p["input1_shift"]),
           (p["input2_offset"], p["input2_multiplier"], p["input2_shift"])]
    halves = [m == HALF and s == 0 for _, m, s in ins]
    if p["left_shift"] != 20 or not any(halves) or not all(-255 <= o <= 255 for o, _, _ in ins):
        return None
    swap = not halves[0]
    (half_off, _, _), (off, mult, shift) = ins[::-1] if swap else ins
    if mult == HALF and shift == 0:
        base, rnd, e = off << 19, 0, 0
    elif 1 <= -shift <= 31 and 0 <= mult < (1 << 31):
        base, e = off << 21, -shift
        rnd = 1 << (e - 1)
    else:
        return None
    out_e = -p["output_shift"]
    if not 1 <= out_e <= 31:
        return None
    out_rnd = (1 << (out_e - 1)) + p["output_offset"] * (1 << out_e)
    # |scaled input| < 255 * 2^20 / 2 (e >= 1, or the 1/2 input): |sum| < 2^29, its SMMULR result < 2^28
    if abs(out_rnd) + (1 << 28) >= 1 << 31:
        return None
    return dict(half_base=half_off << 19, base=base, mult=mult, rnd=rnd, shift=e, out_mult=p["output_multiplier"],
                out_rnd=out_rnd, out_shift=out_e, act_min=p["act_min"], act_max=p["act_max"]), swap


def specialize_add(layer: Layer, g: Graph, target: CpuFeatures) -> Layer | None:
    """Same-shape int8 ADD -> tinyml_add_s8_opt, when its 32-bit form is exact (tinyml/elementwise_opt.h)."""
    x1, x2, y = layer.args[:3]
    if not g.t(x1.tensor).shape == g.t(x2.tensor).shape == g.t(y.tensor).shape:
        return None
    found = add_constants(layer.params)
    if found is None:
        return None
    consts, swap = found
    return _noted(dataclasses.replace(layer, func="tinyml_add_s8_opt", header="tinyml/elementwise_opt.h",
                                      params_type="tinyml_add_opt_params_t",
                                      params=dict(count=int(g.t(y.tensor).size), **consts),
                                      args=[x2, x1, y] if swap else [x1, x2, y]),
                  "optimized kernel, 32-bit requantization" + (", inputs swapped" if swap else ""))


SPECIALIZERS = {
    "tinyml_conv2d_s8": specialize_conv,
    "tinyml_depthwise_conv2d_s8": specialize_depthwise,
    "tinyml_fully_connected_s8": specialize_fc,
    "tinyml_maxpool_s8": specialize_maxpool,
    "tinyml_avgpool_s8": specialize_avgpool,
    "tinyml_add_s8": specialize_add,
}
