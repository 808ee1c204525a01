"""RESHAPE and SQUEEZE: no code, the output is an alias of the input's memory."""

from __future__ import annotations

from ..ir import Graph, Op
from . import Layer, Unsupported, out, register, require_input


@register("RESHAPE", "SQUEEZE", "EXPAND_DIMS")
def lower(g: Graph, op: Op) -> Layer:
    x, y = require_input(g, op, 0), out(g, op)
    if x.size != y.size:
        raise Unsupported(f"reshape from {list(x.shape)} to {list(y.shape)} changes the element count")
    if x.dtype != y.dtype:
        raise Unsupported("reshape changes the dtype")
    if x.is_const:
        raise Unsupported("reshape of a constant tensor; fold it in the converter")
    return Layer(op=op, func=None, alias=(x.index, y.index), comment="alias: no data movement")
