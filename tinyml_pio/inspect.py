"""`tinyml-pio inspect`: what is in a model and what compiling it would cost (text, or --json)."""

from __future__ import annotations

from typing import Any

from .cpu import CpuFeatures
from .errors import TinymlError
from .ir import Graph
from .ops import Layer, try_lower
from .passes import apply_variants
from .passes.fold import fold_constants
from .passes.patch import parse_patches
from .passes.patch_search import apply_patches
from .pipeline import check_io
from .planner import plan_memory
from .tflite_import import load_model
from .weights import layers_weights


def _shape(g: Graph, t: int) -> str:
    if t < 0:
        return "-"
    tensor = g.t(t)
    return f"{tensor.dtype}{list(tensor.shape)}"


def _tensor(g: Graph, t: int) -> dict[str, Any]:
    x = g.t(t)
    return dict(index=t, name=x.name, dtype=x.dtype, shape=list(x.shape),
                scale=x.quant.s if x.quant else None, zero_point=x.quant.zp if x.quant else None)


def inspect_data(path: str, patches: Any = None, max_overhead: float = 0.2, target: str | None = None) -> dict[str, Any]:
    """Everything inspect reports, as plain data (what `inspect --json` prints). `target` (a board
    or CPU, as for convert): its kernel variants, so the arena and weights are the build's."""
    g = load_model(path)
    fold_constants(g)
    layers, problems = try_lower(g)
    try:
        check_io(g)
    except TinymlError as e:
        problems.insert(0, f"model: {e.args[0]}")
    cpu = CpuFeatures.resolve(target)
    if not problems and target is not None:
        chosen = {l.op.index: l for l in apply_variants([l for l in layers if l], cpu, g)[0]}
        layers = [chosen.get(l.op.index, l) if l is not None else None for l in layers]
    plan = plan_memory(g, [l for l in layers if l]) if not problems else None
    stage = None
    if plan is not None and parse_patches(patches).mode != "off":
        _, plan, stage = apply_patches(g, [l for l in layers if l], plan, parse_patches(patches), max_overhead)
    patched = set(stage.ops) if stage else set()
    inplace = set(plan.inplace_ops) if plan else set()
    ops = []
    for op, layer in zip(g.ops, layers):
        kernel = "UNSUPPORTED" if layer is None else (layer.func or "(alias)")
        if op.index in g.folded:
            kernel = "(folded: constant at generation time)"
        if layer is not None and op.index in inplace and op.index not in patched:
            kernel = f"{layer.inplace_func or layer.func} (in place)"
        if op.index in patched:
            kernel += f" (patches {stage.text})"
        ops.append(dict(index=op.index, type=op.type, outputs=[_tensor(g, t) for t in op.outputs if t >= 0],
                        macs=layer.macs if layer else 0, kernel=kernel))
    placeholders = [l if l is not None else Layer(op=op, func=None, comment="unsupported")
                    for op, l in zip(g.ops, layers) if op.index not in g.folded]
    const = [t for t in g.tensors if t.is_const]
    mids = {t for op in g.ops for t in op.intermediates}  # quantization carriers of the integer LSTM
    acts = [t for t in g.tensors if t.in_arena and t.index not in mids]
    state = [t for t in g.tensors if t.variable]
    return dict(
        model=g.path, sha256=g.sha256, description=g.description or None,
        inputs=[_tensor(g, t) for t in g.inputs], outputs=[_tensor(g, t) for t in g.outputs], operators=ops,
        tensors=dict(total=len(g.tensors), constant=len(const), activations=len(acts), state=len(state)),
        weights=layers_weights(g, placeholders).to_dict(), macs=sum(l.macs for l in layers if l),
        kernels_for=cpu.name, problems=problems, arena_bytes=plan.arena_size if plan else None, lower_bound_bytes=plan.lower_bound if plan else None,
        state_bytes=plan.state_size if plan else None,
        patches=dict(setting=stage.text, layer_arena_bytes=stage.layer_arena, mac_overhead=stage.overhead) if stage else None,
    )


def inspect_model(path: str, patches: Any = None, max_overhead: float = 0.2, target: str | None = None) -> str:
    """`patches` (as for convert): name the operators that run in patches, and the arena with them."""
    d = inspect_data(path, patches, max_overhead, target)
    lines = [f"model: {d['model']}", f"sha256: {d['sha256']}",
             f"description: {d['description'] or '-'}",
             "inputs:  " + ", ".join(_io(t) for t in d["inputs"]),
             "outputs: " + ", ".join(_io(t) for t in d["outputs"]),
             "", f"{'op':>4}  {'type':<26} {'output':<24} {'MACs':>10}  kernel"]
    for op in d["operators"]:
        outs = ", ".join(f"{t['dtype']}{t['shape']}" for t in op["outputs"]) or "-"
        lines.append(f"{op['index']:>4}  {op['type']:<26} {outs:<24} {op['macs']:>10}  {op['kernel']}")
    t, w = d["tensors"], d["weights"]
    lines += ["",
              f"tensors: {t['total']} ({t['constant']} constant, {t['activations']} activations"
              + (f", {t['state']} state" if t["state"] else "") + ")",
              f"weights: {_weights_text(w)} [kernels for {d['kernels_for']}"
              + ("; the board's: --target BOARD]" if d["kernels_for"] == "portable" else "]"),
              f"MACs: {d['macs']}"]
    if d["problems"]:
        lines.append(f"cannot compile: {len(d['problems'])} problem(s)")
        lines += [f"  - {p}" for p in d["problems"]]
        lines.append("arena: unknown until every operator is supported")
    else:
        p = d["patches"]
        lines.append(f"arena: {d['arena_bytes']} bytes (lower bound {d['lower_bound_bytes']})"
                     + (f", with patches {p['setting']}: layer by layer {p['layer_arena_bytes']} bytes, MAC overhead "
                        f"{100 * p['mac_overhead']:.1f}%" if p else ""))
        if d["state_bytes"]:
            lines.append(f"state: {d['state_bytes']} bytes (state tensors outside the arena, kept across invokes; "
                         "<prefix>_reset_state() zeroes them)")
    return "\n".join(lines)


def _weights_text(w: dict[str, Any]) -> str:
    from .weights import WeightsFigure

    return WeightsFigure(**{k: v for k, v in w.items() if k != "total"}).text()


def _io(t: dict[str, Any]) -> str:
    q = f"scale={t['scale']:.6g} zp={t['zero_point']}" if t["scale"] is not None else "(not quantized)"
    return f"#{t['index']} {t['dtype']}{t['shape']} {q}"
