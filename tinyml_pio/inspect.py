"""`tinyml-pio inspect`: what is in a model and what compiling it would cost."""

from __future__ import annotations

from .errors import TinymlError
from typing import Any

from .ir import Graph
from .passes.patch import parse_patches
from .passes.patch_search import apply_patches
from .pipeline import check_io
from .ops import try_lower
from .passes.fold import fold_constants
from .planner import plan_memory
from .tflite_import import load_model


def _shape(g: Graph, t: int) -> str:
    if t < 0:
        return "-"
    tensor = g.t(t)
    return f"{tensor.dtype}{list(tensor.shape)}"


def inspect_model(path: str, patches: Any = None, max_overhead: float = 0.2) -> str:
    """`patches` (as for convert): name the operators that run in patches, and the arena with them."""
    g = load_model(path)
    fold_constants(g)
    layers, problems = try_lower(g)
    try:
        check_io(g)
    except TinymlError as e:
        problems.insert(0, f"model: {e.args[0]}")
    plan = plan_memory(g, [l for l in layers if l]) if not problems else None
    stage = None
    if plan is not None and parse_patches(patches).mode != "off":
        _, plan, stage = apply_patches(g, [l for l in layers if l], plan, parse_patches(patches), max_overhead)
    patched = set(stage.ops) if stage else set()
    inplace = set(plan.inplace_ops) if plan else set()
    lines = [f"model: {g.path}", f"sha256: {g.sha256}",
             f"description: {g.description or '-'}",
             f"inputs:  " + ", ".join(f"#{t} {_shape(g, t)} {_quant(g, t)}" for t in g.inputs),
             f"outputs: " + ", ".join(f"#{t} {_shape(g, t)} {_quant(g, t)}" for t in g.outputs),
             "", f"{'op':>4}  {'type':<26} {'output':<24} {'MACs':>10}  kernel"]
    for op, layer in zip(g.ops, layers):
        kernel = "UNSUPPORTED" if layer is None else (layer.func or "(alias)")
        if op.index in g.folded:
            kernel = "(folded: constant at generation time)"
        if layer is not None and op.index in inplace and op.index not in patched:
            kernel = f"{layer.inplace_func or layer.func} (in place)"
        if op.index in patched:
            kernel += f" (patches {stage.text})"
        macs = layer.macs if layer else 0
        outs = ", ".join(_shape(g, t) for t in op.outputs)
        lines.append(f"{op.index:>4}  {op.type:<26} {outs:<24} {macs:>10}  {kernel}")
    const = [t for t in g.tensors if t.is_const]
    mids = {t for op in g.ops for t in op.intermediates}  # quantization carriers of the integer LSTM
    acts = [t for t in g.tensors if t.in_arena and t.index not in mids]
    state = [t for t in g.tensors if t.variable]
    lines += ["",
              f"tensors: {len(g.tensors)} ({len(const)} constant, {len(acts)} activations"
              + (f", {len(state)} state" if state else "") + ")",
              f"weights: {sum(t.nbytes for t in const)} bytes (constant tensors in the file)",
              f"MACs: {sum(l.macs for l in layers if l)}"]
    if problems:
        lines.append(f"cannot compile: {len(problems)} problem(s)")
        lines += [f"  - {p}" for p in problems]
        lines.append("arena: unknown until every operator is supported")
    else:
        assert plan is not None
        lines.append(f"arena: {plan.arena_size} bytes (lower bound {plan.lower_bound})"
                     + (f", with patches {stage.text}: layer by layer {stage.layer_arena} bytes, MAC overhead "
                        f"{100 * stage.overhead:.1f}%" if stage else ""))
        if plan.state_offsets:
            lines.append(f"state: {plan.state_size} bytes (state tensors outside the arena, kept across invokes; "
                         "<prefix>_reset_state() zeroes them)")
    return "\n".join(lines)


def _quant(g: Graph, t: int) -> str:
    q = g.t(t).quant
    return f"scale={q.s:.6g} zp={q.zp}" if q else "(not quantized)"
