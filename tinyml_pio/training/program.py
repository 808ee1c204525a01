"""The training program, derived at build time: forward, loss, pruned backward, one planned arena.

Given the lowered model and an update scheme, this module
- finds the loss (softmax cross-entropy on the logits feeding a final SOFTMAX/LOG_SOFTMAX, else
  mean squared error on the output; a DEQUANTIZE tail is looked through),
- keeps only the backward steps gradients need: an operator gets one when its output depends on
  a trainable layer; an input gets a gradient only if it depends on one too (so nothing is
  computed below the earliest trainable layer, and frozen weights get no gradient),
- keeps for the backward pass only what it reads: the input slice of each layer whose weights
  update (a copy of the first channels for a sparse update, the tensor itself for a full one),
  bit masks of clamping fused activations, max-pool inputs,
- emits one Layer per step (the forward ones are the inference layers) and plans them all,
  over the joint schedule, in one arena with the existing planner. Updates run inside each
  layer's backward kernel, so no weight-gradient buffer exists.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from .. import quant
from ..errors import TinymlError
from ..ir import Graph, Op, Tensor
from ..ops import ConstArg, Layer, TensorArg, shape4
from ..ops.conv import compute_padding
from ..planner import Plan, plan_memory
from .spec import ROUNDINGS, UpdateSpec

BACKWARD_TYPES = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "AVERAGE_POOL_2D", "MAX_POOL_2D",
                  "MEAN", "PAD", "RESHAPE", "SQUEEZE", "RELU", "RELU6", "QUANTIZE")
_ALIAS_TYPES = ("RESHAPE", "SQUEEZE")
_BLOCKING = {"RELU": (True, False), "RELU6": (True, True), "RELU_N1_TO_1": (True, True)}  # (lower, upper) blocks


@dataclass
class Param:
    """One trainable array in RAM (a field of <prefix>_params_t): a weight or bias tensor, an FC's
    folded-bias constant, or a float master copy."""

    key: str  # field name: "w<tensor>", "l<op>_bias", "m_<key>"
    dtype: str
    data: np.ndarray
    op: int
    role: str  # "weights", "bias", "folded_bias", "master"

    @property
    def nbytes(self) -> int:
        return int(self.data.nbytes)


@dataclass
class TrainProgram:
    graph: Graph  # the model graph plus gradient, mask and saved-slice tensors
    layers: list[Layer]  # forward, saves, loss, backward: the schedule
    plan: Plan
    spec: UpdateSpec
    loss: str  # "xent" or "mse"
    loss_tensor: int  # logits (xent) or output (mse), int8
    params: list[Param]
    steps: list[str]  # one line per backward/update step, for train-plan
    n_forward: int  # model ops run forward during training
    earliest: int  # earliest trainable operator
    tensor_kind: dict[int, str] = field(default_factory=dict)  # added tensor -> "gradient"/"mask"/"saved"
    backward_of: dict[int, int] = field(default_factory=dict)  # backward step's op index -> its forward op

    @property
    def params_bytes(self) -> int:
        """sizeof(<prefix>_params_t): 4-byte fields first, then int8, padded to 4."""
        n = sum(p.nbytes for p in self.params)
        return (n + 3) // 4 * 4

    @property
    def optimizer_bytes(self) -> int:
        """Optimizer state: float master copies and momentum velocities."""
        return sum(p.nbytes for p in self.params if p.role in ("master", "momentum"))

    @property
    def trainable_tensors(self) -> set[int]:
        return {int(p.key[1:]) for p in self.params if p.key.startswith("w")}

    @property
    def trainable_consts(self) -> set[tuple[int, str]]:
        return {(p.op, p.key.split("_", 1)[1]) for p in self.params if p.role == "folded_bias"}

    def layout(self) -> list[tuple[Param, int]]:
        """(param, byte offset) in the params struct."""
        res, off = [], 0
        for p in self.params:
            res.append((p, off))
            off += p.nbytes
        return res


def _ordered_params(params: list[Param]) -> list[Param]:
    return sorted(params, key=lambda p: (p.data.itemsize != 4, p.key.startswith("w"), p.op, p.key))


def find_loss(g: Graph) -> tuple[str, int, list[int]]:
    """(loss kind, int8 tensor the loss reads, tail op indices after it)."""
    if len(g.outputs) != 1 or len(g.inputs) != 1:
        raise TinymlError(f"training supports models with one input and one output; this one has {len(g.inputs)} "
                          f"input(s) and {len(g.outputs)} output(s).", path=g.path,
                          hint="export a single-input, single-output model for on-device training.")
    t, tail = g.outputs[0], []

    def through_dequantize(t: int) -> int:
        p = g.producer(t)
        if p is not None and p.type == "DEQUANTIZE":
            tail.append(p.index)
            return p.inputs[0]
        return t

    t = through_dequantize(t)
    kind = "mse"
    p = g.producer(t)
    if p is not None and p.type in ("SOFTMAX", "LOG_SOFTMAX"):
        tail.append(p.index)
        kind = "xent"
        t = through_dequantize(p.inputs[0])
    if g.t(t).dtype != "int8" or g.t(t).quant is None:
        raise TinymlError(f"the loss would read tensor {t} '{g.t(t).name}' ({g.t(t).dtype}); training needs int8 "
                          "logits or outputs.", path=g.path, hint="quantize the model to int8 end to end.")
    return kind, t, tail


def ancestors(g: Graph, t: int) -> list[int]:
    """Op indices the tensor depends on, in model order."""
    need, todo = set(), [t]
    while todo:
        p = g.producer(todo.pop())
        if p is not None and p.index not in need:
            need.add(p.index)
            todo.extend(i for i in p.inputs if i >= 0 and not g.t(i).is_const)
    return sorted(need)


class _Builder:
    def __init__(self, g: Graph, layers: list[Layer], spec: UpdateSpec, prefix: str):
        self.src = g
        self.g = copy.copy(g)
        self.g.tensors = list(g.tensors)
        self.g.ops = list(g.ops)
        self.g.outputs = []
        self.by_op = {l.op.index: l for l in layers}
        self.spec = spec
        self.prefix = prefix
        self.kind: dict[int, str] = {}
        self.grad: dict[int, int] = {}  # forward tensor -> its gradient tensor
        self.written: set[int] = set()  # gradient tensors already written once in the backward order
        self.next_op = len(g.ops)
        self.params: list[Param] = []
        self.steps: list[str] = []
        self.backward_of: dict[int, int] = {}

    def tensor(self, name: str, shape: tuple[int, ...], dtype: str, kind: str) -> Tensor:
        t = Tensor(index=len(self.g.tensors), name=name, shape=tuple(int(s) for s in shape), dtype=dtype)
        self.g.tensors.append(t)
        self.kind[t.index] = kind
        return t

    def op(self, kind: str, inputs: list[int], outputs: list[int]) -> Op:
        o = Op(index=self.next_op, type=f"TRAIN:{kind}", inputs=inputs, outputs=outputs)
        self.next_op += 1
        return o

    def ref(self, key: str) -> str:
        return f"{self.prefix}_params_data.{key}"

    def param(self, key: str, dtype: str, data: np.ndarray, op: int, role: str) -> str:
        if not any(p.key == key for p in self.params):
            self.params.append(Param(key, dtype, data, op, role))
        return self.ref(key)

    def master(self, key: str, data: np.ndarray, op: int) -> str:
        if self.spec.rounding != "master":
            return "NULL"
        return self.param(f"m_{key}", "float32", data.astype(np.float32).reshape(-1), op, "master")

    def velocity(self, key: str, size: int, op: int) -> str:
        if not self.spec.momentum:
            return "NULL"
        return self.param(f"v_{key}", "float32", np.zeros(size, np.float32), op, "momentum")

    def accumulate(self, gt: int) -> str:
        first = gt not in self.written
        self.written.add(gt)
        return "0" if first else "1"


def build_program(g: Graph, layers: list[Layer], spec: UpdateSpec, prefix: str = "model") -> TrainProgram:
    """The training program for `layers` (the inference layers: portable kernels on every operator
    a backward step reads the weights or constants of)."""
    if spec.rounding not in ROUNDINGS:
        raise TinymlError(f"unknown rounding {spec.rounding!r}.", hint=f"use one of {', '.join(ROUNDINGS)}.")
    loss, loss_t, _tail = find_loss(g)
    fwd_ops = ancestors(g, loss_t)
    fwd_set = set(fwd_ops)
    for op_index in spec.ops:
        if op_index not in fwd_set:
            o = g.ops[op_index]
            raise TinymlError(f"{o.describe()} is not on the path to the loss, so it cannot be trained.", path=g.path,
                              hint="choose layers before the model's output.")
    b = _Builder(g, layers, spec, prefix)
    trainable = set(spec.ops)
    down: set[int] = set()  # tensors that depend on a trainable layer's output (they need gradients)
    for i in fwd_ops:
        o = g.ops[i]
        if i in trainable or any(t in down for t in o.inputs if t >= 0):
            down.update(o.outputs)
    back_ops = [i for i in reversed(fwd_ops) if any(t in down for t in g.ops[i].outputs)]
    unsupported = [g.ops[i] for i in back_ops if g.ops[i].type not in BACKWARD_TYPES]
    if unsupported:
        raise TinymlError("no backward pass for " + ", ".join(o.describe() for o in unsupported)
                          + ", which lies between the loss and the trainable layers.", path=g.path,
                          hint="train only layers after it (e.g. --update last), or open an issue naming the operator. "
                          f"Backward exists for {', '.join(BACKWARD_TYPES)}.")
    earliest = min(trainable)
    for t in down:
        tt = g.t(t)
        b.grad[t] = b.tensor(f"grad:{tt.name}", tt.shape, "float32", "gradient").index

    saves: dict[int, list[Layer]] = {}  # forward op index (-1: before the first) -> save layers after it
    back_layers: list[Layer] = []
    loss_layer = _loss_layer(b, loss, loss_t)
    for i in back_ops:
        back_layers.append(_backward_layer(b, g.ops[i], saves, down))
        b.backward_of[back_layers[-1].op.index] = i
    schedule: list[Layer] = list(saves.get(-1, []))
    for i in fwd_ops:
        schedule.append(b.by_op[i])
        schedule.extend(saves.get(i, []))
    schedule.append(loss_layer)
    schedule.extend(back_layers)
    plan = plan_memory(b.g, schedule, reorder=False)
    return TrainProgram(graph=b.g, layers=schedule, plan=plan, spec=spec, loss=loss, loss_tensor=loss_t,
                        params=_ordered_params(b.params), steps=b.steps, n_forward=len(fwd_ops), earliest=earliest,
                        tensor_kind=b.kind, backward_of=b.backward_of)


def _loss_layer(b: _Builder, loss: str, t: int) -> Layer:
    x = b.g.t(t)
    gt = b.grad[t]
    b.written.add(gt)
    op = b.op("LOSS", [t], [gt])
    target = "label" if loss == "xent" else "target"
    func = "tinyml_train_xent_s8" if loss == "xent" else "tinyml_train_mse_s8"
    b.steps.append(f"loss: {'softmax cross-entropy' if loss == 'xent' else 'mean squared error'} on t{t} "
                   f"{list(x.shape)} -> grad t{t} ({x.size * 4} B float)")
    return Layer(op=op, func=func, header="tinyml/train.h",
                 args=[TensorArg(t), str(x.size), _f(x.quant.s), str(x.quant.zp), target,
                       TensorArg(gt, const=False), "&loss"], comment="loss")


def _f(v: float) -> str:
    from ..codegen import c_literal

    return c_literal(float(v))


def _mask_arg(b: _Builder, o: Op, saves: dict[int, list[Layer]], act: str) -> object:
    """The argument for a bit mask of where `o`'s fused activation did not clamp, saved right after
    `o` runs; "NULL" when the activation blocks no gradient."""
    lo_blocks, hi_blocks = _BLOCKING.get(act, (False, False))
    if not (lo_blocks or hi_blocks):
        return "NULL"
    y = b.g.t(o.outputs[0])
    lo, hi = quant.activation_range(act, y.quant.s, y.quant.zp)
    lo, hi = (lo if lo_blocks else -129), (hi if hi_blocks else 128)
    m = b.tensor(f"mask:{y.name}", ((y.size + 7) // 8,), "uint8", "mask")
    layer = Layer(op=b.op("MASK", [y.index], [m.index]), func="tinyml_train_mask_s8", header="tinyml/train.h",
                  args=[TensorArg(y.index), TensorArg(m.index, const=False), str(y.size), str(lo), str(hi)],
                  comment=f"mask of op {o.index}'s {act}")
    saves.setdefault(o.index, []).append(layer)
    return TensorArg(m.index)


def _g_in(b: _Builder, t: int, down: set[int]) -> tuple[object, str]:
    """(argument, accumulate flag) for the gradient of forward tensor t, or ("NULL", "0")."""
    if t < 0 or t not in down:
        return "NULL", "0"
    gt = b.grad[t]
    return TensorArg(gt, const=False), b.accumulate(gt)


def _saved_input(b: _Builder, o: Op, x: Tensor, keep: int, channels: int, saves: dict[int, list[Layer]]) -> int:
    """The tensor the backward step reads its input from: x itself, or a copy of x's first `keep`
    channels made right after x is produced."""
    if keep >= channels:
        return x.index
    pixels = x.size // channels
    s = b.tensor(f"saved:{x.name}[..{keep}]", (pixels, keep), "int8", "saved")
    p = b.src.producer(x.index)
    layer = Layer(op=b.op("SAVE", [x.index], [s.index]), func="tinyml_train_slice_s8", header="tinyml/train.h",
                  args=[TensorArg(x.index), TensorArg(s.index, const=False), str(pixels), str(channels), str(keep)],
                  comment=f"channels 0..{keep - 1} of t{x.index} for op {o.index}'s update")
    saves.setdefault(p.index if p is not None else -1, []).append(layer)
    return s.index


def _backward_layer(b: _Builder, o: Op, saves: dict[int, list[Layer]], down: set[int]) -> Layer:
    g = b.src
    y = g.t(o.outputs[0])
    gy = b.grad[y.index]
    act = o.options.get("fused_activation_function", "NONE") or "NONE"
    if o.type in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
        return _layer_backward(b, o, saves, down, act)
    x_idx = o.inputs[0]
    n = str(y.size)
    if o.type != "ADD":  # ADD marks both of its inputs' gradients itself
        gin, acc = _g_in(b, x_idx, down)
    if o.type in _ALIAS_TYPES:
        if gin == "NULL":
            raise AssertionError("reshape on the gradient path without an input gradient")
        # RESHAPE/SQUEEZE: same bytes; a copy keeps accumulation simple when the input has other readers
        b.steps.append(f"op {o.index} {o.type}: grad t{y.index} -> grad t{x_idx} (copy)")
        return Layer(op=b.op(f"BACKWARD:{o.type}", [gy], [gin.tensor]), func="tinyml_train_copy_backward",
                     header="tinyml/train.h", args=[TensorArg(gy, const=False), "NULL", gin, n, acc])
    if o.type in ("RELU", "RELU6", "QUANTIZE"):
        mask = _mask_arg(b, o, saves, o.type if o.type != "QUANTIZE" else "NONE")
        b.steps.append(f"op {o.index} {o.type}: grad t{y.index} -> grad t{x_idx}" + (" (masked)" if mask != "NULL" else ""))
        return Layer(op=b.op(f"BACKWARD:{o.type}", _ins(gy, mask), [gin.tensor]), func="tinyml_train_copy_backward",
                     header="tinyml/train.h", args=[TensorArg(gy, const=False), mask, gin, n, acc])
    if o.type == "ADD":
        a_t, b_t = o.inputs[0], o.inputs[1]
        if g.t(a_t).shape != y.shape or g.t(b_t).shape != y.shape:
            raise TinymlError(f"{o.describe()}: backward of a broadcasting ADD is not supported.", path=g.path,
                              hint="train only layers after it.")
        mask = _mask_arg(b, o, saves, act)
        ga, acc_a = _g_in(b, a_t, down)
        if a_t == b_t:
            gb_, acc_b = ga, "1"
        else:
            gb_, acc_b = _g_in(b, b_t, down)
        outs = [a.tensor for a in (ga, gb_) if isinstance(a, TensorArg)]
        b.steps.append(f"op {o.index} ADD: grad t{y.index} -> " + ", ".join(f"grad t{t}" for t in (a_t, b_t) if t in down))
        return Layer(op=b.op("BACKWARD:ADD", _ins(gy, mask), outs), func="tinyml_train_add_backward",
                     header="tinyml/train.h", args=[TensorArg(gy, const=False), mask, ga, acc_a, gb_, acc_b, n])
    if o.type in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        params = _pool_params(g, o)
        mask = _mask_arg(b, o, saves, act)
        is_max = o.type == "MAX_POOL_2D"
        b.steps.append(f"op {o.index} {o.type}: grad t{y.index} -> grad t{x_idx}" + (" (reads t%d)" % x_idx if is_max else ""))
        args = ([TensorArg(x_idx)] if is_max else []) + [TensorArg(gy, const=False), mask, gin, acc]
        return Layer(op=b.op(f"BACKWARD:{o.type}", _ins(gy, mask) + ([x_idx] if is_max else []), [gin.tensor]),
                     func="tinyml_train_maxpool_backward" if is_max else "tinyml_train_avgpool_backward",
                     header="tinyml/train.h", params_type="tinyml_pool_params_t", params=params, args=args)
    if o.type == "MEAN":
        x = g.t(x_idx)
        axes = sorted(int(a) % 4 for a in np.asarray(g.t(o.inputs[1]).data).reshape(-1)) if len(x.shape) == 4 else []
        if axes != [1, 2]:
            raise TinymlError(f"{o.describe()}: backward of MEAN is supported over height and width only.",
                              path=g.path, hint="train only layers after it.")
        nb, h, w, c = x.shape
        b.steps.append(f"op {o.index} MEAN: grad t{y.index} -> grad t{x_idx}")
        return Layer(op=b.op("BACKWARD:MEAN", [gy], [gin.tensor]), func="tinyml_train_mean_backward",
                     header="tinyml/train.h", args=[str(nb), str(h), str(w), str(c), TensorArg(gy, const=False), gin, acc])
    if o.type == "PAD":
        x = g.t(x_idx)
        pads = np.asarray(g.t(o.inputs[1]).data).reshape(-1, 2)
        before = [0] * (4 - len(pads)) + [int(p) for p in pads[:, 0]]
        b.steps.append(f"op {o.index} PAD: grad t{y.index} -> grad t{x_idx}")
        return Layer(op=b.op("BACKWARD:PAD", [gy], [gin.tensor]), func="tinyml_train_pad_backward",
                     header="tinyml/train.h",
                     consts={"in_dims": np.array(shape4(x.shape), np.int32), "out_dims": np.array(shape4(y.shape), np.int32),
                             "before": np.array(before, np.int32)},
                     args=[ConstArg("in_dims"), ConstArg("out_dims"), ConstArg("before"), TensorArg(gy), gin, acc])
    raise AssertionError(o.type)


def _ins(gy: int, mask: object) -> list[int]:
    return [gy] + ([mask.tensor] if isinstance(mask, TensorArg) else [])


def _pool_params(g: Graph, o: Op) -> dict[str, int]:
    x, y = g.t(o.inputs[0]), g.t(o.outputs[0])
    opt = o.options
    fh, fw = int(opt.get("filter_height", 1)), int(opt.get("filter_width", 1))
    sh, sw = int(opt.get("stride_h", 1)), int(opt.get("stride_w", 1))
    nb, ih, iw, c = x.shape
    oh, ow = y.shape[1], y.shape[2]
    ph, _ = compute_padding(sh, 1, ih, fh, oh)
    pw, _ = compute_padding(sw, 1, iw, fw, ow)
    return dict(batches=nb, in_h=ih, in_w=iw, depth=c, out_h=oh, out_w=ow, stride_h=sh, stride_w=sw,
                filter_h=fh, filter_w=fw, pad_h=ph, pad_w=pw, act_min=-128, act_max=127)


def _layer_backward(b: _Builder, o: Op, saves: dict[int, list[Layer]], down: set[int], act: str) -> Layer:
    g = b.src
    x, w, y = g.t(o.inputs[0]), g.t(o.inputs[1]), g.t(o.outputs[0])
    fwd = b.by_op[o.index]
    u = b.spec.layers.get(o.index)
    fc = o.type == "FULLY_CONNECTED"
    dw = o.type == "DEPTHWISE_CONV_2D"
    if fc:
        out_c, depth = w.shape
        batches = x.size // depth
        geo = dict(batches=batches, in_h=1, in_w=1, in_c=depth, out_h=1, out_w=1, out_c=out_c, filter_h=1, filter_w=1,
                   stride_h=1, stride_w=1, dilation_h=1, dilation_w=1, pad_h=0, pad_w=0, depth_multiplier=1)
    else:
        p = fwd.params
        geo = {k: int(p[k]) for k in ("batches", "in_h", "in_w", "in_c", "out_h", "out_w", "out_c", "filter_h",
                                      "filter_w", "stride_h", "stride_w", "dilation_h", "dilation_w", "pad_h", "pad_w")}
        geo["depth_multiplier"] = int(p.get("depth_multiplier", 1))
        if not dw and int(p["filter_c"]) != geo["in_c"]:
            raise TinymlError(f"{o.describe()}: backward of a grouped convolution is not supported.", path=g.path,
                              hint="train only layers after it.")
    out_c, in_c = geo["out_c"], geo["in_c"]
    s_x = float(x.quant.s)
    s_w = np.broadcast_to(w.quant.scale.astype(np.float64), (out_c,)) if w.quant.scale.size > 1 else np.full(out_c, w.quant.s)
    channels = u.channels if u else 0.0
    keep = 0 if channels <= 0 else max(1, int(np.ceil(channels * in_c - 1e-9)))
    update_bias = bool(u and u.bias)
    qas = b.spec.qas
    w_step = (1.0 / s_w) if qas else s_w
    b_step = (1.0 / (s_x * s_w)) if qas else (s_x * s_w)
    mask = _mask_arg(b, o, saves, act)
    gin, acc = _g_in(b, x.index, down)
    consts = {"w_scale": s_w.astype(np.float32), "w_step": w_step.astype(np.float32),
              "b_step": b_step.astype(np.float32)}
    # The state the kernel reads and writes: weights (RAM when they train), the bias.
    if keep:
        w_read = b.param(f"w{w.index}", "int8", w.data.copy(), o.index, "weights")
        w_upd = w_read
        w_master = b.master(f"w{w.index}", w.data, o.index)
        w_vel = b.velocity(f"w{w.index}", w.data.size, o.index)
    else:
        w_read, w_upd, w_master, w_vel = TensorArg(w.index), "NULL", "NULL", "NULL"
    bias, b_master, b_vel, fold = "NULL", "NULL", "NULL", 0
    if fc:
        folded = np.asarray(fwd.consts["bias"]).astype(np.int32)
        if keep or update_bias:
            bias = b.param(f"l{o.index}_bias", "int32", folded.copy(), o.index, "folded_bias")
            fold = -int(x.quant.zp)
            if update_bias:
                raw = folded.astype(np.int64) - fold * w.data.astype(np.int64).sum(axis=1)
                b_master = b.master(f"l{o.index}_bias", raw, o.index)
                b_vel = b.velocity(f"l{o.index}_bias", out_c, o.index)
    elif update_bias:
        bt = g.t(o.inputs[2])
        bias = b.param(f"w{bt.index}", "int32", bt.data.copy().reshape(-1), o.index, "bias")
        b_master = b.master(f"w{bt.index}", bt.data, o.index)
        b_vel = b.velocity(f"w{bt.index}", out_c, o.index)
    x_saved = "NULL"
    if keep:
        x_saved = TensorArg(_saved_input(b, o, x, keep, in_c, saves))
    params = dict(op=o.index, **geo, in_scale=s_x, in_zp=int(x.quant.zp), w_channels=keep,
                  x_c=keep if x_saved != "NULL" and keep < in_c else in_c, update_bias=int(update_bias),
                  fold_offset=fold, w_master=w_master, b_master=b_master, w_velocity=w_vel, b_velocity=b_vel)
    what = []
    if keep:
        what.append(f"weights {'all' if keep == in_c else f'{keep}/{in_c} input channels'}")
    if update_bias:
        what.append("bias")
    b.steps.append(f"op {o.index} {o.type}: grad t{y.index}" + (f" -> grad t{x.index}" if gin != "NULL" else "")
                   + (f"; update {' + '.join(what)}" if what else "")
                   + (f"; keeps {'t%d' % x.index if keep == in_c else 'a %d-channel copy of t%d' % (keep, x.index)}"
                      if keep else ""))
    ins = _ins(b.grad[y.index], mask) + ([x_saved.tensor] if isinstance(x_saved, TensorArg) else [])
    return Layer(op=b.op(f"BACKWARD:{o.type}", ins, [gin.tensor] if isinstance(gin, TensorArg) else []),
                 func="tinyml_train_depthwise_backward" if dw else "tinyml_train_conv2d_backward",
                 header="tinyml/train.h", params_type="tinyml_train_layer_params_t", params=params,
                 args=["&" + b.prefix + "_train_ctx", TensorArg(b.grad[y.index], const=False), mask, x_saved,
                       w_read, w_upd, ConstArg("w_scale"), ConstArg("w_step"), bias, ConstArg("b_step"), gin, acc],
                 consts=consts, comment=f"backward of op {o.index}")
