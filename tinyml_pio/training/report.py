"""`train-plan`: the memory a training program needs, what it is made of, and whether it fits.

Total SRAM = the arena (one buffer serves the inference and the training plans, so it is the
larger of the two) + the trainable parameters, which move from flash to RAM + the optimizer state
(float master copies when that write-back is chosen, momentum velocities when momentum is on) +
the training context. The arena's peak is
broken down into forward activations (the ones kept for backward among them), gradient buffers,
activation bit masks, saved input slices and kernel scratch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..boards import Board, load_board
from ..errors import TinymlError
from .program import TrainProgram

CTX_BYTES = 16  # tinyml_train_ctx_t


@dataclass
class TrainReport:
    model: str
    program: TrainProgram
    inference_arena: int
    board: Board | None = None

    @property
    def arena(self) -> int:
        return max(self.inference_arena, self.program.plan.arena_size)

    @property
    def params_bytes(self) -> int:
        return self.program.params_bytes - self.program.optimizer_bytes

    @property
    def peak_bytes(self) -> int:
        return self.arena + self.program.params_bytes + CTX_BYTES

    @property
    def extra_bytes(self) -> int:
        """SRAM beyond what inference alone needs (the inference arena)."""
        return self.peak_bytes - self.inference_arena

    def breakdown(self) -> dict[str, int]:
        """Bytes of each kind live at the training arena's peak position."""
        plan, prog = self.program.plan, self.program
        pos = plan.peak_position
        kinds = {"forward_activations": 0, "gradients": 0, "masks": 0, "saved_slices": 0, "scratch": 0}
        for b in plan.buffers:
            size = b.size_at(pos)
            if not size:
                continue
            if b.key.startswith("s"):
                kinds["scratch"] += size
                continue
            root = int(b.key[1:])
            kind = prog.tensor_kind.get(root, "")
            key = {"gradient": "gradients", "mask": "masks", "saved": "saved_slices"}.get(kind, "forward_activations")
            kinds[key] += size
        return kinds

    @property
    def fits(self) -> bool | None:
        return None if self.board is None else self.peak_bytes <= self.board.arena_budget


def build(model: str, update, board: str | None = None, rounding: str | None = None,
          qas: bool | None = None) -> TrainReport:
    from ..pipeline import compile_model
    from ..tflite_import import load_model
    from . import resolve_update

    b = load_board(board) if board else None
    g = load_model(model)
    spec = resolve_update(update, g, None)
    if rounding is not None:
        spec.rounding = rounding
    if qas is not None:
        spec.qas = qas
    c = compile_model(model, prefix="model", target=b.id if b else None, train=spec)
    return TrainReport(model=model, program=c.train, inference_arena=c.plan.arena_size, board=b)


def _kb(n: int) -> str:
    return f"{n:,} B ({n / 1024:.1f} KiB)"


def _optimizer_text(p: TrainProgram) -> str:
    parts = (["float32 master copies"] if p.spec.rounding == "master" else []) + \
        ([f"momentum {p.spec.momentum:g} velocities"] if p.spec.momentum else [])
    return " + ".join(parts) or "none: SGD without momentum"


def format_text(r: TrainReport) -> str:
    p = r.program
    s = p.spec
    lines = [f"model:       {r.model}",
             f"update:      {s.text} ({len(s.ops)} layer(s): ops {', '.join(map(str, s.ops))}); loss: "
             f"{'softmax cross-entropy' if p.loss == 'xent' else 'mean squared error'}; write-back: {s.rounding}; "
             f"QAS: {'on' if s.qas else 'off'}" + (f"; momentum {s.momentum:g}" if s.momentum else ""),
             f"training SRAM: {_kb(r.peak_bytes)}",
             f"  arena:        {_kb(r.arena)} (training plan {p.plan.arena_size:,} B, inference plan "
             f"{r.inference_arena:,} B: one buffer serves both)",
             f"  parameters:   {_kb(r.params_bytes)} trainable weights and biases in RAM",
             f"  optimizer:    {_kb(p.optimizer_bytes)} ({_optimizer_text(p)})",
             f"  context:      {CTX_BYTES} B",
             f"extra over inference: {_kb(r.extra_bytes)}"]
    bd = r.breakdown()
    peak_layer = p.plan.order[p.plan.peak_position] if p.plan.order else -1
    where = next((l for l in p.layers if l.op.index == peak_layer), None)
    lines.append(f"training arena peak at {where.op.type + ' op ' + str(where.op.index) if where else '-'}: "
                 + ", ".join(f"{k.replace('_', ' ')} {v:,} B" for k, v in bd.items() if v))
    lines.append(f"backward graph ({len(p.steps) - 1} step(s), pruned below op {p.earliest}):")
    lines.extend("  " + st for st in p.steps)
    if r.board is not None:
        b = r.board
        lines.append(f"board:       {b.name}: SRAM budget {b.arena_budget:,} B for the model "
                     f"({'fits' if r.fits else 'DOES NOT FIT'}, {100.0 * r.peak_bytes / b.arena_budget:.1f}% used)")
    return "\n".join(lines)


def to_json(r: TrainReport) -> dict[str, Any]:
    p = r.program
    out: dict[str, Any] = dict(
        model=r.model, update=p.spec.text, ops=p.spec.ops, loss=p.loss, rounding=p.spec.rounding, qas=p.spec.qas,
        momentum=p.spec.momentum, peak_bytes=r.peak_bytes, inference_arena_bytes=r.inference_arena, training_arena_bytes=p.plan.arena_size,
        arena_bytes=r.arena, params_bytes=r.params_bytes, optimizer_bytes=p.optimizer_bytes, context_bytes=CTX_BYTES,
        extra_bytes=r.extra_bytes, breakdown=r.breakdown(), backward_steps=p.steps,
        layers={str(k): dict(channels=v.channels, bias=v.bias) for k, v in sorted(p.spec.layers.items())})
    if r.board is not None:
        out["board"] = dict(id=r.board.id, budget_bytes=r.board.arena_budget, fits=bool(r.fits),
                            over_bytes=max(0, r.peak_bytes - r.board.arena_budget))
    return out


def check_board(r: TrainReport) -> None:
    if r.board is None or r.fits:
        return
    b = r.board
    fit = [f"{s} ({n:,} B)" for s, n in _standard_schemes(r) if n <= b.arena_budget]
    raise TinymlError(f"training with '{r.program.spec.text}' needs {r.peak_bytes:,} bytes of SRAM but {b.name} has "
                      f"{b.arena_budget:,} for the model: {r.peak_bytes - b.arena_budget:,} bytes over "
                      f"(arena {r.arena:,}, parameters {r.params_bytes:,}, optimizer {r.program.optimizer_bytes:,}).",
                      hint=(f"these fit: {', '.join(fit)}; " if fit else "none of last, bias, bias+last, last:2 fits; ")
                      + f"or let auto:{b.arena_budget} choose a sparse scheme that fits.")


def _standard_schemes(r: TrainReport) -> list[tuple[str, int]]:
    """(scheme, training SRAM) of the usual schemes on the same model, rounding and QAS."""
    out = []
    for scheme in ("last", "bias", "bias+last", "last:2"):
        try:
            t = build(r.model, scheme, rounding=r.program.spec.rounding, qas=r.program.spec.qas)
        except TinymlError:
            continue
        out.append((scheme, t.peak_bytes))
    return out


def plot(r: TrainReport, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = r.program
    plan = p.plan
    n = len(plan.order)
    series = {"forward activations": [0] * n, "gradients": [0] * n, "masks + saved slices": [0] * n, "scratch": [0] * n}
    for b in plan.buffers:
        if b.key.startswith("s"):
            key = "scratch"
        else:
            kind = p.tensor_kind.get(int(b.key[1:]), "")
            key = {"gradient": "gradients", "mask": "masks + saved slices", "saved": "masks + saved slices"}.get(
                kind, "forward activations")
        for f, l, s in b.pieces:
            for pos in range(f, min(l, n - 1) + 1):
                series[key][pos] += s
    fig, ax = plt.subplots(figsize=(10, 4))
    bottom = [0] * n
    for name, vals in series.items():
        ax.bar(range(n), vals, bottom=bottom, label=name, width=1.0)
        bottom = [a + b for a, b in zip(bottom, vals)]
    ax.axhline(r.inference_arena, color="k", linestyle=":", label=f"inference arena ({r.inference_arena:,} B)")
    if r.board is not None:
        ax.axhline(r.board.arena_budget - p.params_bytes - CTX_BYTES, color="r", linestyle="--",
                   label=f"{r.board.name} budget minus parameters")
    ax.axvline(p.n_forward + 0.5, color="grey", linewidth=0.8)
    ax.set_xlabel("step of the training schedule (forward | loss, backward)")
    ax.set_ylabel("live arena bytes")
    ax.set_title(f"training memory: {p.spec.text}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(model: str, update: str, board: str | None = None, as_json: bool = False, plot_path: str | None = None,
        rounding: str | None = None, qas: bool | None = None, out=print) -> int:
    from ..plan_report import check_plot_path

    if plot_path:
        check_plot_path(plot_path)
    r = build(model, update, board=board, rounding=rounding, qas=qas)
    if plot_path:
        plot(r, plot_path)
    out(json.dumps(to_json(r), indent=2) if as_json else format_text(r))
    if plot_path and not as_json:
        out(f"wrote {plot_path}")
    check_board(r)
    return 0
