"""An independent float64 reference of one training step, written from the math, not from the C.

It reads the int8 forward activations the device computed (the forward pass is the inference
code, bit-exact with TFLite; `check` compares the first step's with TFLite's own tensors) and the
parameters before the step, and returns the loss, every weight and bias gradient in real units,
and the integer change the scheme's write-back rule makes to each trainable value — with the
range of changes that a float32 computation near a rounding boundary may legitimately produce.

The conventions are the ones `tinyml/train.h` states: gradients with respect to dequantized
tensors; a fused activation blocks the gradient where it clamped (RELU at its zero, RELU6 also at
six; int8 saturation passes); max pool gives the gradient to the first maximum in row-major
window order; QAS scales weight steps by 1/s_w and bias steps by 1/(s_x s_w).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import quant
from ..ir import Graph, Op
from ..ops.conv import compute_padding
from .program import TrainProgram, ancestors

_BLOCKING = {"RELU": (True, False), "RELU6": (True, True), "RELU_N1_TO_1": (True, True)}


@dataclass
class StepRef:
    loss: float
    grads: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)  # (op, 0 weights / 1 bias) -> real grad


def real(g: Graph, t: int, q: np.ndarray) -> np.ndarray:
    tt = g.t(t)
    return float(tt.quant.s) * (q.astype(np.float64) - int(tt.quant.zp))


def _mask(g: Graph, op: Op, y_q: np.ndarray, act: str) -> np.ndarray | None:
    lo_b, hi_b = _BLOCKING.get(act, (False, False))
    if not (lo_b or hi_b):
        return None
    y = g.t(op.outputs[0])
    lo, hi = quant.activation_range(act, y.quant.s, y.quant.zp)
    m = np.ones(y_q.shape, bool)
    if lo_b:
        m &= y_q > lo
    if hi_b:
        m &= y_q < hi
    return m


def _wscales(g: Graph, w_t: int, out_c: int) -> np.ndarray:
    q = g.t(w_t).quant
    return q.scale.astype(np.float64) if q.scale.size > 1 else np.full(out_c, float(q.scale[0]))


def step_reference(prog: TrainProgram, acts: dict[int, np.ndarray], weights: dict[int, np.ndarray],
                   target: int | np.ndarray) -> StepRef:
    """Loss and gradients of one step. `acts`: int8 forward tensors by index; `weights`: the int8
    weights (by tensor index) before the step."""
    g = prog.graph
    n_model = prog.n_forward
    del n_model
    lt = prog.loss_tensor
    z = real(g, lt, acts[lt]).reshape(-1)
    if prog.loss == "xent":
        e = np.exp(z - z.max())
        p = e / e.sum()
        loss = float(-np.log(max(p[int(target)], 1e-30)))
        gz = p.copy()
        gz[int(target)] -= 1.0
    else:
        d = z - np.asarray(target, np.float64).reshape(-1)
        loss = float(np.mean(d * d))
        gz = 2.0 * d / d.size
    grads: dict[int, np.ndarray] = {lt: gz.reshape(g.t(lt).shape)}
    res = StepRef(loss=loss)
    model_ops = [g.ops[i] for i in ancestors(g, lt)]
    trainable = set(prog.spec.ops)
    down: set[int] = set()
    for o in model_ops:
        if o.index in trainable or any(t in down for t in o.inputs if t >= 0):
            down.update(o.outputs)
    for o in reversed(model_ops):
        y = o.outputs[0]
        if y not in down or y not in grads:
            continue
        gy = grads[y].astype(np.float64)
        act = o.options.get("fused_activation_function", "NONE") or "NONE"
        if o.type in ("RELU", "RELU6"):
            act = o.type
        m = _mask(g, o, acts[y], act)
        if m is not None:
            gy = gy * m.reshape(gy.shape)
        contrib = _op_backward(prog, o, gy, acts, weights, res)
        for t, gt in contrib.items():
            if t in down:
                grads[t] = grads[t] + gt if t in grads else gt
    return res


def _op_backward(prog: TrainProgram, o: Op, gy: np.ndarray, acts: dict[int, np.ndarray],
                 weights: dict[int, np.ndarray], res: StepRef) -> dict[int, np.ndarray]:
    g = prog.graph
    x_t = o.inputs[0]
    x_shape = g.t(x_t).shape
    if o.type in ("RESHAPE", "SQUEEZE", "RELU", "RELU6", "QUANTIZE"):
        return {x_t: gy.reshape(x_shape)}
    if o.type == "ADD":
        out = {o.inputs[0]: gy.copy()}
        out[o.inputs[1]] = out.get(o.inputs[1], 0) + gy
        return out
    if o.type == "MEAN":
        n, h, w, c = x_shape
        return {x_t: np.broadcast_to(gy.reshape(n, 1, 1, c) / (h * w), x_shape).copy()}
    if o.type == "PAD":
        pads = np.asarray(g.t(o.inputs[1]).data).reshape(-1, 2)
        sl = tuple(slice(int(a), int(a) + s) for (a, _), s in zip(pads, x_shape))
        return {x_t: gy[sl].copy()}
    if o.type in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        return {x_t: _pool_backward(g, o, gy, acts[x_t] if o.type == "MAX_POOL_2D" else None)}
    return _layer_backward(prog, o, gy, acts, weights, res)


def _windows(o: Op, ih: int, iw: int, oh: int, ow: int, fh: int, fw: int):
    sh, sw = int(o.options.get("stride_h", 1)), int(o.options.get("stride_w", 1))
    dh = int(o.options.get("dilation_h_factor", 1) or 1)
    dw = int(o.options.get("dilation_w_factor", 1) or 1)
    ph, _ = compute_padding(sh, dh, ih, fh, oh)
    pw, _ = compute_padding(sw, dw, iw, fw, ow)
    return sh, sw, dh, dw, ph, pw


def _pool_backward(g: Graph, o: Op, gy: np.ndarray, x: np.ndarray | None) -> np.ndarray:
    n, ih, iw, c = g.t(o.inputs[0]).shape
    _, oh, ow, _ = g.t(o.outputs[0]).shape
    fh, fw = int(o.options["filter_height"]), int(o.options["filter_width"])
    sh, sw, _, _, ph, pw = _windows(o, ih, iw, oh, ow, fh, fw)
    gx = np.zeros((n, ih, iw, c))
    for b in range(n):
        for oy in range(oh):
            y0, y1 = max(oy * sh - ph, 0), min(oy * sh - ph + fh, ih)
            for ox in range(ow):
                x0, x1 = max(ox * sw - pw, 0), min(ox * sw - pw + fw, iw)
                if y1 <= y0 or x1 <= x0:
                    continue
                if x is None:
                    gx[b, y0:y1, x0:x1, :] += gy[b, oy, ox, :] / ((y1 - y0) * (x1 - x0))
                else:
                    win = x[b, y0:y1, x0:x1, :].reshape(-1, c)
                    first = np.argmax(win, axis=0)  # the first maximum, row-major
                    for ch in range(c):
                        yy, xx = divmod(int(first[ch]), x1 - x0)
                        gx[b, y0 + yy, x0 + xx, ch] += gy[b, oy, ox, ch]
    return gx


def _layer_backward(prog: TrainProgram, o: Op, gy: np.ndarray, acts: dict[int, np.ndarray],
                    weights: dict[int, np.ndarray], res: StepRef) -> dict[int, np.ndarray]:
    g = prog.graph
    x_t, w_t = o.inputs[0], o.inputs[1]
    wq = weights.get(w_t, g.t(w_t).data).astype(np.float64)
    X = real(g, x_t, acts[x_t])
    u = prog.spec.layers.get(o.index)
    if o.type == "FULLY_CONNECTED":
        out_c, depth = wq.shape
        W = wq * _wscales(g, w_t, out_c)[:, None]
        G = gy.reshape(-1, out_c)
        Xf = X.reshape(-1, depth)
        if u is not None and u.bias:
            res.grads[(o.index, 1)] = G.sum(axis=0)
        if u is not None and u.channels > 0:
            res.grads[(o.index, 0)] = G.T @ Xf
        return {x_t: (G @ W).reshape(g.t(x_t).shape)}
    n, ih, iw, in_c = X.shape
    _, oh, ow, out_c = gy.shape
    dw_op = o.type == "DEPTHWISE_CONV_2D"
    if dw_op:
        _, fh, fw, _ = wq.shape
        W = wq * _wscales(g, w_t, out_c)[None, None, None, :]
        mult = out_c // in_c
    else:
        _, fh, fw, _ = wq.shape
        W = wq * _wscales(g, w_t, out_c)[:, None, None, None]
    sh, sw, dh, dw, ph, pw = _windows(o, ih, iw, oh, ow, fh, fw)
    gx = np.zeros_like(X)
    gw = np.zeros_like(W)
    oy = np.arange(oh)
    ox = np.arange(ow)
    for ky in range(fh):
        iy = oy * sh - ph + ky * dh
        vy = (iy >= 0) & (iy < ih)
        for kx in range(fw):
            ix = ox * sw - pw + kx * dw
            vx = (ix >= 0) & (ix < iw)
            if not vy.any() or not vx.any():
                continue
            Gs = gy[:, vy][:, :, vx]  # [n, oh', ow', out_c]
            rows, cols = iy[vy], ix[vx]
            Xs = X[:, rows][:, :, cols]  # [n, oh', ow', in_c]
            if dw_op:
                Xe = np.repeat(Xs, mult, axis=3)
                gw[0, ky, kx, :] = np.einsum("nhwc,nhwc->c", Gs, Xe)
                contrib = (Gs * W[0, ky, kx, :]).reshape(*Gs.shape[:3], in_c, mult).sum(axis=4)
            else:
                gw[:, ky, kx, :] = np.einsum("nhwo,nhwc->oc", Gs, Xs)
                contrib = np.einsum("nhwo,oc->nhwc", Gs, W[:, ky, kx, :])
            np.add.at(gx, (slice(None), rows[:, None], cols[None, :]), contrib)
    if u is not None and u.bias:
        res.grads[(o.index, 1)] = gy.reshape(-1, out_c).sum(axis=0)
    if u is not None and u.channels > 0:
        res.grads[(o.index, 0)] = gw
    return {x_t: gx}


# ---- write-back -----------------------------------------------------------------------------


class XorShift32:
    """The stochastic-rounding generator of tinyml/train.h: 24-bit uniforms in [0, 1)."""

    def __init__(self, state: int = 0x2545F491):
        self.state = state or 0x9E3779B9

    def next(self) -> float:
        s = self.state
        s ^= (s << 13) & 0xFFFFFFFF
        s ^= s >> 17
        s ^= (s << 5) & 0xFFFFFFFF
        self.state = s
        return (s >> 8) / 16777216.0


def writeback(rule: str, old: int, delta: float, u: float, master: float, lo: int, hi: int) -> tuple[int, float]:
    """(new integer value, new master) for one update, in exact arithmetic."""
    if rule == "nearest":
        new = old + _round_half_away(delta)
    elif rule == "stochastic":
        new = old + int(np.floor(delta + u))
    elif rule == "master":
        before = _round_half_away(master)
        master = min(max(master + delta, float(lo)), float(hi))
        new = old + _round_half_away(master) - before
    else:
        new = old + int(np.trunc(delta))
    return int(min(max(new, lo), hi)), master


def _round_half_away(v: float) -> int:
    return int(np.sign(v) * np.floor(abs(v) + 0.5))
