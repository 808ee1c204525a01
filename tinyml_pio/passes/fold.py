"""Constant folding before lowering: operators whose result is known at generation time become
constant tensors, so converter leftovers (SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE chains, FILL
of a constant, casts of constant indices) do not block a model.

An operator is folded when every input is constant (SHAPE: whenever its input's shape is static,
which it always is here) and it is one of the operators below, computed with numpy exactly as
TFLite computes them: byte moves (any dtype; quantized inputs must share the output's scale and
zero point) and int32/int64 arithmetic with TFLite's wrap-around. Quantized arithmetic is never
folded (its rounding lives in the kernels). Folded operators stay in `Graph.ops` (op indices
are kept) and are listed in `Graph.folded`; `ops.try_lower` skips them. Model outputs are never
folded.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..ir import DTYPES, Graph, Op, Tensor
from ..ops import Unsupported, registrar
from ..ops.slicing import strided_slice_ranges

Eval = Callable[[Graph, Op, list[Tensor], Tensor], np.ndarray]
_FOLD: dict[str, Eval] = {}
_fold = registrar(_FOLD)


def _ints(t: Tensor) -> list[int]:
    return [int(v) for v in np.asarray(t.data).reshape(-1)]


def _axis(op: Op, rank: int) -> int:
    a = int(op.options.get("axis", 0))
    return a + rank if a < 0 else a


@_fold("SHAPE")
def _shape(g, op, xs, y):
    return np.array(xs[0].shape, DTYPES[y.dtype][1])


@_fold("FILL")
def _fill(g, op, xs, y):
    return np.full(_ints(xs[0]), np.asarray(xs[1].data).reshape(-1)[0])


@_fold("RESHAPE", "SQUEEZE", "EXPAND_DIMS")
def _reshape(g, op, xs, y):
    return np.asarray(xs[0].data).reshape(y.shape)


@_fold("CAST")
def _cast(g, op, xs, y):
    if xs[0].dtype == "float32" and y.dtype != "float32":
        raise Unsupported("float to integer casts are not folded")
    return np.asarray(xs[0].data).astype(DTYPES[y.dtype][1])


@_fold("PACK")
def _pack(g, op, xs, y):
    return np.stack([np.asarray(x.data).reshape(x.shape) for x in xs], axis=_axis(op, len(xs[0].shape) + 1))


@_fold("CONCATENATION")
def _concat(g, op, xs, y):
    if op.options.get("fused_activation_function", "NONE") != "NONE":
        raise Unsupported("fused activation")
    return np.concatenate([np.asarray(x.data).reshape(x.shape) for x in xs], axis=_axis(op, len(xs[0].shape)))


@_fold("TRANSPOSE")
def _transpose(g, op, xs, y):
    return np.transpose(np.asarray(xs[0].data).reshape(xs[0].shape), _ints(xs[1]))


@_fold("GATHER")
def _gather(g, op, xs, y):
    if int(op.options.get("batch_dims", 0)):
        raise Unsupported("batch_dims")
    return np.take(np.asarray(xs[0].data).reshape(xs[0].shape), np.asarray(xs[1].data), axis=_axis(op, len(xs[0].shape)))


@_fold("STRIDED_SLICE")
def _strided_slice(g, op, xs, y):
    o = op.options
    if int(o.get("ellipsis_mask", 0)) or int(o.get("new_axis_mask", 0)) or o.get("offset", False):
        raise Unsupported("ellipsis/new-axis masks and offset")
    x = np.asarray(xs[0].data).reshape(xs[0].shape)
    starts, counts, steps = strided_slice_ranges(x.shape, _ints(xs[1]), _ints(xs[2]), _ints(xs[3]),
                                                 int(o.get("begin_mask", 0)), int(o.get("end_mask", 0)),
                                                 int(o.get("shrink_axis_mask", 0)))
    return x[np.ix_(*[s + k * np.arange(n) for s, n, k in zip(starts, counts, steps)])]


@_fold("SLICE")
def _slice(g, op, xs, y):
    x = np.asarray(xs[0].data).reshape(xs[0].shape)
    begin, size = _ints(xs[1]), _ints(xs[2])
    return x[tuple(slice(b, d if s == -1 else b + s) for b, s, d in zip(begin, size, x.shape))]


_ARITH = {"ADD": np.add, "SUB": np.subtract, "MUL": np.multiply, "MAXIMUM": np.maximum, "MINIMUM": np.minimum}


@_fold(*_ARITH)
def _arith(g, op, xs, y):
    if y.dtype not in ("int32", "int64") or any(x.dtype != y.dtype for x in xs):
        raise Unsupported("only int32/int64 arithmetic is folded")
    if op.options.get("fused_activation_function", "NONE") != "NONE":
        raise Unsupported("fused activation")
    a, b = (np.asarray(x.data).reshape(x.shape).astype(np.int64) for x in xs)
    r = _ARITH[op.type](a, b)
    bits = 32 if y.dtype == "int32" else 64
    return ((r + (1 << (bits - 1))) % (1 << bits) - (1 << (bits - 1))) if bits == 32 else r


_BYTE_MOVES = {"RESHAPE", "SQUEEZE", "EXPAND_DIMS", "PACK", "CONCATENATION", "TRANSPOSE", "GATHER", "STRIDED_SLICE",
               "SLICE"}


def _same_quant(a: Tensor, b: Tensor) -> bool:
    if a.quant is None or b.quant is None:
        return a.quant is None and b.quant is None
    return (a.quant.scale.shape == b.quant.scale.shape and bool(np.all(a.quant.scale == b.quant.scale))
            and bool(np.all(a.quant.zero_point == b.quant.zero_point)))


def fold_constants(g: Graph) -> list[int]:
    """Fold in place, in graph order (a folded result can feed the next fold); returns the folded
    op indices. An op that cannot be folded is left for lowering to accept or report."""
    folded = []
    outputs = set(g.outputs)
    for op in g.ops:
        fn = _FOLD.get(op.type)
        if fn is None or len(op.outputs) != 1 or op.outputs[0] in outputs:
            continue
        y = g.t(op.outputs[0])
        xs = [g.t(i) for i in op.inputs if i >= 0]
        data_inputs = xs[:1] if op.type in ("RESHAPE", "SHAPE") else xs
        if op.type != "SHAPE" and not all(x.is_const for x in (xs if op.type != "RESHAPE" else data_inputs)):
            continue
        if op.type in _BYTE_MOVES and not all(_same_quant(x, y) for x in data_inputs if x.dtype == y.dtype):
            continue
        try:
            value = fn(g, op, xs, y)
        except (Unsupported, ValueError, IndexError, TypeError):
            continue
        value = np.asarray(value)
        if value.size != y.size or (y.shape and tuple(value.shape) != tuple(y.shape) and value.size != y.size):
            continue
        y.data = value.astype(DTYPES[y.dtype][1]).reshape(y.shape)
        folded.append(op.index)
    g.folded.update(folded)
    return folded
