"""The constant descriptor a user kernel is called with (custom_ops.py, library/include/tinyml/custom_op.h):
every pointer is fixed at generation time, so it lives in flash beside the layer's other constants."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ir import Tensor
from ..ops import Layer

_DTYPE_ENUM = {"int8": "INT8", "uint8": "UINT8", "int16": "INT16", "int32": "INT32", "int64": "INT64",
               "float32": "FLOAT32", "bool": "BOOL"}


def descriptor_name(prefix: str, layer: Layer) -> str:
    return f"{prefix}_l{layer.op.index}_op"


def _array(ctype: str, values: list[Any]) -> str:
    from . import c_literal

    return f"(const {ctype}[]){c_literal(values)}" if values else "NULL"


def _tensor(ctx: Any, t: Tensor | None) -> str:
    from . import c_literal

    if t is None:  # an omitted optional input
        return "{ .data = NULL, .dims = NULL, .rank = 0, .size = 0 }"
    q = t.quant
    scales = [float(s) for s in q.scale] if q is not None else []
    zps = [int(z) for z in q.zero_point] if q is not None else []
    fields = [
        f".data = (void *){ctx.tensor_ptr(t, False)}",
        f".dims = {_array('int32_t', [int(d) for d in t.shape])}",
        f".rank = {len(t.shape)}",
        f".size = {t.size}",
        f".dtype = TINYML_DTYPE_{_DTYPE_ENUM[t.dtype]}",
        f".scale = {c_literal(scales[0] if scales else 0.0)}",
        f".zero_point = {zps[0] if zps else 0}",
        f".scales = {_array('float', scales)}",
        f".zero_points = {_array('int32_t', zps)}",
        f".num_scales = {len(scales)}",
        f".quantized_dimension = {int(q.axis or 0) if q is not None else 0}",
    ]
    return "{ " + ", ".join(fields) + " }"


def descriptor(ctx: Any, layer: Layer, weights: dict[int, Tensor]) -> dict[str, Any]:
    """The descriptor as one entry of the layer's constants (name, ctype, size, body); the constant
    tensors it points to join `weights`."""
    from . import c_string

    g, op = ctx.graph, layer.op
    ins = [g.t(i) if i >= 0 else None for i in op.inputs]
    for t in ins:
        if t is not None and t.is_const:
            weights[t.index] = t
    outs = [g.t(i) for i in op.outputs]
    blob = list(np.frombuffer(op.custom_options, np.uint8))
    scratch = (f"({ctx.prefix}_arena + {ctx.plan.scratch_offsets[op.index]})" if layer.scratch_bytes else "NULL")
    name = op.type[len("CUSTOM:"):] if op.type.startswith("CUSTOM:") else op.type
    tensors = lambda ts: "(const tinyml_tensor_t[]){\n        " + ",\n        ".join(_tensor(ctx, t) for t in ts) + "}"
    body = ("    {\n"
            f"    .name = \"{c_string(name)}\", .op_index = {op.index},\n"
            f"    .inputs = {tensors(ins) if ins else 'NULL'}, .num_inputs = {len(ins)},\n"
            f"    .outputs = {tensors(outs)}, .num_outputs = {len(outs)},\n"
            f"    .options = {_array('uint8_t', [int(b) for b in blob])}, .options_size = {len(blob)},\n"
            f"    .scratch = {scratch}, .scratch_size = {layer.scratch_bytes}\n"
            "    }")
    return dict(name=descriptor_name(ctx.prefix, layer), ctype="tinyml_custom_op_t", size=1, body=body)
