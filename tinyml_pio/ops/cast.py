"""CAST: TFLite's cast.cc copies every element with a static_cast (no quantization involved);
integer narrowing wraps (two's complement), integers to float round to nearest."""

from __future__ import annotations

from ..ir import Graph, Op
from . import Layer, TensorArg, Unsupported, inp, out, register, require_nonconst

SUFFIX = {"int8": "s8", "uint8": "u8", "int16": "s16", "int32": "s32", "int64": "s64", "float32": "f32"}
# the pairs library/include/tinyml/cast.h implements (TINYML_CAST_ALL)
PAIRS = {("s8", "s16"), ("s8", "s32"), ("s8", "f32"), ("u8", "s8"), ("u8", "s32"), ("u8", "f32"), ("s16", "s8"),
         ("s16", "s32"), ("s16", "f32"), ("s32", "s8"), ("s32", "s16"), ("s32", "f32"), ("s64", "s32"),
         ("s64", "f32"), ("s8", "u8")}


@register("CAST")
def lower_cast(g: Graph, op: Op) -> Layer:
    x, y = inp(g, op, 0), out(g, op)
    assert x is not None
    require_nonconst(x, "input")
    if x.size != y.size:
        raise Unsupported(f"input {list(x.shape)} and output {list(y.shape)} differ in size")
    pair = (SUFFIX.get(x.dtype, x.dtype), SUFFIX.get(y.dtype, y.dtype))
    if pair not in PAIRS:
        raise Unsupported(f"CAST from {x.dtype} to {y.dtype} is not supported (float sources and bool are not)")
    return Layer(op=op, func=f"tinyml_cast_{pair[0]}_{pair[1]}", header="tinyml/cast.h",
                 args=[TensorArg(x.index), TensorArg(y.index, const=False), str(x.size)],
                 comment=f"{x.dtype} -> {y.dtype}")
