"""Host-only hooks for `verify --sanitize`: around each kernel call, the arena is poisoned
(AddressSanitizer) except the bytes the plan gives that layer: its tensors and its scratch. A
kernel or a plan that strays outside them stops the run with ASan's report naming the layer."""

from __future__ import annotations

from ..ir import Graph
from ..ops import Layer, ScratchArg, TensorArg, TensorListArg
from ..planner import Plan
from . import _ENV


def layer_spans(g: Graph, layers: list[Layer], plan: Plan) -> dict[int, list[tuple[int, int]]]:
    """op index -> the (offset, bytes) arena regions its kernel call may touch."""
    scratch_size = {int(b.key[1:]): b.size for b in plan.buffers if b.key.startswith("s")}
    inplace = set(plan.inplace_ops)
    spans: dict[int, list[tuple[int, int]]] = {}
    for layer in layers:
        if layer.func is None:
            continue
        op = layer.op.index
        _, args = layer.call(op in inplace)
        # its own tensors (an in-place call names only the output, but reads the input there too)
        tensors = [t for t in layer.op.inputs + layer.op.outputs if t >= 0 and not g.t(t).is_const]
        for a in args:
            tensors += [a.tensor] if isinstance(a, TensorArg) else list(a.tensors) if isinstance(a, TensorListArg) else []
        regions = sorted({(plan.tensor_offsets[t], g.t(t).nbytes) for t in tensors if g.t(t).in_arena})
        if (layer.returns_status or any(isinstance(a, ScratchArg) for a in args)) and scratch_size.get(op):  # user kernels: op->scratch
            regions.append((plan.scratch_offsets[op], scratch_size[op]))
        spans[op] = regions
    return spans


def hooks_source(g: Graph, layers: list[Layer], plan: Plan, prefix: str) -> str:
    """The C file defining tinyml_sanitize_layer_begin/end for this model's plan."""
    return _ENV.get_template("sanitize_hooks.c.j2").render(prefix=prefix, PREFIX=prefix.upper(),
                                                            spans=sorted(layer_spans(g, layers, plan).items()))
