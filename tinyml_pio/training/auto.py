"""`auto:BYTES`: choose a sparse update scheme that fits a memory budget.

The candidates are MCUNetV3's: the biases of the last N conv/FC layers, and for each of the last
layers the weights of a fraction (1/8, 1/4, 1/2, 1) of its input channels. The classifier
(`last`) is always the starting point when it fits.

Selection rule:
- Without data, the prior MCUNetV3 measured: gradients nearer the loss buy more accuracy per
  byte. Walk the layers from the loss backwards; at each, take its bias, then (for the last
  MAX_WEIGHT_LAYERS layers) its weights in growing channel fractions, each step only if the whole
  program (arena + parameters + optimizer state) still fits; a step that does not fit is skipped
  and the walk goes on (a cheaper one further down may still fit).
- With data (`--data data.npz`, x_train/y_train), a contribution analysis on the host training
  simulator, as MCUNetV3's offline analysis: each candidate added alone to the starting scheme
  is trained for one pass over a training split and scored on a held-out split; candidates are
  then taken greedily by accuracy gain (or loss drop) per extra byte, while they fit and gain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import TinymlError
from ..ir import Graph
from ..ops import Layer
from ..planner import plan_memory
from .program import build_program
from .report import CTX_BYTES
from .spec import LayerUpdate, UpdateSpec, has_bias

FRACTIONS = (0.125, 0.25, 0.5, 1.0)
MAX_WEIGHT_LAYERS = 4  # weight candidates: the last few layers (earlier ones cost activation memory)


def parse_budget(text: str) -> int:
    t = text.strip().lower().replace(" ", "")
    mult = 1
    for suffix, m in (("kib", 1024), ("kb", 1024), ("k", 1024), ("mib", 1 << 20), ("mb", 1 << 20), ("m", 1 << 20)):
        if t.endswith(suffix):
            t, mult = t[: -len(suffix)], m
            break
    try:
        n = int(float(t) * mult)
    except ValueError:
        raise TinymlError(f"auto:{text}: the budget must be a byte count (e.g. auto:200000 or auto:192k).") from None
    if n <= 0:
        raise TinymlError(f"auto:{text}: the budget must be positive.")
    return n


@dataclass
class _Eval:
    spec: UpdateSpec
    bytes: int


def _copy(spec: UpdateSpec, text: str) -> UpdateSpec:
    s = UpdateSpec(text=text, rounding=spec.rounding, qas=spec.qas)
    for u in spec.layers.values():
        s.add(LayerUpdate(u.op, u.channels, u.bias))
    return s


def choose(g: Graph, layers: list[Layer], candidates: list, budget: int, text: str,
           data: dict[str, np.ndarray] | None = None, log: Callable[[str], None] = lambda s: None) -> UpdateSpec:
    """The scheme auto:BUDGET picks for graph g (`candidates`: its trainable ops, model order)."""
    inference = plan_memory(g, layers).arena_size

    def cost(spec: UpdateSpec) -> int:
        p = build_program(g, layers, spec)
        return max(inference, p.plan.arena_size) + p.params_bytes + CTX_BYTES

    last = candidates[-1]
    base = UpdateSpec(text=text)
    base.add(LayerUpdate(last.index, 1.0, has_bias(g, last)))
    if cost(base) > budget:
        base = UpdateSpec(text=text)
        base.add(LayerUpdate(last.index, 0.0, True))
        if not has_bias(g, last) or cost(base) > budget:
            raise TinymlError(f"auto:{budget}: not even the classifier's bias fits in {budget} bytes "
                              f"(inference alone needs {inference} bytes of arena).",
                              hint="raise the budget, or train on a board with more SRAM.")
    steps: list[LayerUpdate] = []
    for k, op in enumerate(reversed(candidates)):  # from the loss backwards: bias, then weight slices
        if has_bias(g, op):
            steps.append(LayerUpdate(op.index, 0.0, True))
        if k < MAX_WEIGHT_LAYERS:
            steps.extend(LayerUpdate(op.index, f, False) for f in FRACTIONS)
    if data is not None:
        steps = _rank_by_data(g, base, steps, data, cost, budget, log)
    spec, used = base, cost(base)
    for u in steps:
        trial = _copy(spec, text)
        trial.add(u)
        if trial.layers == spec.layers:
            continue
        c = cost(trial)
        if c <= budget:
            spec, used = trial, c
            log(f"auto: + op {u.op} {'bias' if u.bias else f'weights x{u.channels:g}'} -> {c} bytes")
    log(f"auto: chose ops {spec.ops} using {used} of {budget} bytes")
    return spec


def _rank_by_data(g: Graph, base: UpdateSpec, steps: list[LayerUpdate], data: dict[str, np.ndarray], cost,
                  budget: int, log: Callable[[str], None]) -> list[LayerUpdate]:
    """Candidates sorted by measured gain per extra byte on the host simulator; those that do not
    gain are dropped."""
    from ..pipeline import compile_model
    from .simulate import simulate

    x, y = _split(g, data)
    n = len(x)
    cut = max(1, int(n * 0.75))
    base_bytes = cost(base)

    def score(spec: UpdateSpec) -> float:
        c = compile_model(g.path, "autosel", train=spec)
        r = simulate(c, x[:cut], y[:cut], lr=0.01, x_eval=x[cut:])
        if c.train.loss == "xent":
            return float(np.mean([int(np.argmax(o)) for o in r.outputs] == y[cut:]))
        return -float(np.nanmean(r.losses[-max(1, len(r.losses) // 4):]))

    s0 = score(base)
    ranked = []
    for u in steps:
        trial = _copy(base, base.text)
        trial.add(u)
        if trial.layers == base.layers:
            continue
        c = cost(trial)
        if c > budget:
            continue
        gain = score(trial) - s0
        log(f"auto: candidate op {u.op} {'bias' if u.bias else f'weights x{u.channels:g}'}: gain {gain:+.4f}, "
            f"{c - base_bytes} extra bytes")
        if gain > 0:
            ranked.append((gain / max(c - base_bytes, 1), u))
    ranked.sort(key=lambda t: -t[0])
    return [u for _, u in ranked]


def _split(g: Graph, data: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    if "x_train" not in data or "y_train" not in data:
        raise TinymlError("--data needs arrays x_train and y_train.", hint="save them with np.savez(path, x_train=..., y_train=...).")
    x = np.asarray(data["x_train"])
    t = g.t(g.inputs[0])
    if x.dtype.kind == "f" and t.dtype == "int8":
        s, zp = float(t.quant.s), int(t.quant.zp)
        x = np.clip(np.round(x / s) + zp, -128, 127).astype(np.int8)
    elif t.dtype == "float32":
        x = x.astype(np.float32)
    x = x.reshape((len(x),) + tuple(t.shape[1:]) if len(t.shape) > 1 else (len(x),))
    return x, np.asarray(data["y_train"])
