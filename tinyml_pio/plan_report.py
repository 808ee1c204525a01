"""`tinyml-pio plan`: the memory plan as text, JSON or a picture, against a board and against TFLite Micro.

The text report has one line per operator (in execution order) with the bytes live while it runs;
the widest operator is marked. Below: the arena next to the lower bound, the weights (flash),
which layers run in place, and every buffer with its offset, size and lifetime.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .boards import Board, list_boards, load_board
from .cpu import CpuFeatures
from .errors import TinymlError, UsageError
from .ir import Graph
from .ops import Layer, try_lower
from .passes import apply_variants, kernels_label
from .passes.fold import fold_constants
from .passes.patch import parse_patches
from .passes.patch_search import apply_patches
from .planner import ALIGN, Plan, plan_memory
from .tflite_import import load_model
from .weights import WeightsFigure, layers_weights


@dataclass
class PlanReport:
    graph: Graph
    layers: list[Layer]
    plan: Plan
    weights_bytes: int
    problems: list[str] = field(default_factory=list)  # unsupported operators (planned without their scratch)
    board: Board | None = None
    tflm: dict[str, Any] | None = None
    patches: Any = None  # passes.patch.PatchStage when the prefix runs in patches
    patch_setting: str = "off"
    layer_arena: int = 0  # the layer-by-layer plan's arena (== plan.arena_size without patches)
    weights: WeightsFigure | None = None  # weights_bytes and its breakdown (weights.py)
    kernels: str = "portable"  # the kernels planned: "portable", or the board's ("dsp", "mve", "opt")

    @property
    def gap(self) -> int:
        return self.plan.arena_size - self.plan.lower_bound

    @property
    def fits(self) -> bool | None:
        if self.board is None:
            return None
        return self.plan.arena_size <= self.board.arena_budget and self.weights_bytes <= self.board.weights_budget


def layers_for_planning(g: Graph) -> tuple[list[Layer], list[str]]:
    """Lower the model; operators that cannot be lowered yet become placeholders (no scratch, no in-place)."""
    fold_constants(g)
    lowered, problems = try_lower(g)
    layers = [l if l is not None else Layer(op=op, func=None, comment="unsupported")
              for op, l in zip(g.ops, lowered) if op.index not in g.folded]
    return layers, problems


def build_report(path: str, board: str | None = None, compare_tflm: bool = False, patches: Any = None,
                 max_overhead: float = 0.2) -> PlanReport:
    """With a board, the plan is the one its firmware gets: the kernels for its CPU (the optimized
    kernels' scratch planned in the arena), as `convert --target` and the PlatformIO build plan it."""
    g = load_model(path)
    layers, problems = layers_for_planning(g)
    kernels = "portable"
    if board:
        layers, used = apply_variants(layers, CpuFeatures.for_board(board), g)
        kernels = kernels_label(used)
    plan = plan_memory(g, layers)
    layer_arena, stage = plan.arena_size, None
    setting = parse_patches(patches)
    if setting.mode != "off":
        budget = load_board(board).arena_budget if board and setting.mode == "fit" else None
        layers, plan, stage = apply_patches(g, layers, plan, setting, max_overhead, budget)
    figure = layers_weights(g, layers)
    rep = PlanReport(g, layers, plan, figure.total, problems, patches=stage, patch_setting=setting.text,
                     layer_arena=layer_arena, weights=figure, kernels=kernels)
    if board:
        rep.board = load_board(board)
    if compare_tflm:
        rep.tflm = tflm_arena(Path(path).read_bytes())
    return rep


# ---------------------------------------------------------------------------------------------
# TFLite Micro's own figures


_ALLOC_RE = re.compile(r"Arena allocation (total|head|tail) (\d+) bytes")

_TFLM_SCRIPT = r"""
import sys
from tflite_micro import runtime
data = open(sys.argv[1], 'rb').read()
it = runtime.Interpreter.from_bytes(data, arena_size=int(sys.argv[2]))
sys.stdout.flush()
it.print_allocations()
sys.stdout.flush()
"""


def tflm_arena(model: bytes, timeout: float = 120.0) -> dict[str, Any]:
    """Run the tflite-micro interpreter's allocator on the model (in a subprocess: it prints from C and
    may abort on models it rejects). Returns {'total', 'head', 'tail'} in bytes, or {'error': why}."""
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".tflite") as f:
        f.write(model)
        f.flush()
        last = ""
        for arena in (max(len(model) * 4, 1 << 20), 16 << 20, 128 << 20):
            try:
                r = subprocess.run([sys.executable, "-c", _TFLM_SCRIPT, f.name, str(arena)],
                                   capture_output=True, text=True, timeout=timeout)
            except subprocess.TimeoutExpired:
                return {"error": "tflite-micro timed out"}
            found = {k: int(v) for k, v in _ALLOC_RE.findall(r.stdout + r.stderr)}
            if r.returncode == 0 and {"total", "head", "tail"} <= set(found):
                return found
            text = (r.stderr or r.stdout).strip().splitlines()
            last = text[-1] if text else f"exit code {r.returncode}"
            if "No module named" in last:
                return {"error": "tflite-micro is not installed (pip install tflite-micro)"}
            if "arena" not in (r.stdout + r.stderr).lower():
                break  # not an arena-size problem: a bigger arena will not help
    return {"error": f"tflite-micro refused the model: {last}"}


# ---------------------------------------------------------------------------------------------
# Board budget


def check_board(rep: PlanReport) -> None:
    """Raise TinymlError if the model does not fit the board: by how much, where, and what would help."""
    b = rep.board
    if b is None or rep.fits:
        return
    plan, g = rep.plan, rep.graph
    problems = []
    hints = []
    if plan.arena_size > b.arena_budget:
        pos = plan.peak_position
        op = g.ops[plan.peak_op] if plan.order else None
        live = sorted(_live_tensors(rep, pos), key=lambda x: -x[1])[:3]
        biggest = ", ".join(f"{name} {n} B" for name, n in live)
        problems.append(
            f"the arena needs {plan.arena_size} bytes but {b.name} has {b.arena_budget} for it "
            f"({b.sram_bytes} SRAM - {b.reserved_sram_bytes} reserved for stack and firmware): "
            f"{plan.arena_size - b.arena_budget} bytes over. The peak is {op.describe() if op else '-'} "
            f"with {plan.live_bytes[pos] if plan.live_bytes else 0} bytes live ({biggest}).")
        if plan.lower_bound > b.arena_budget:
            hints.append(f"no plan can fit: {plan.lower_bound} bytes must be live at once at that operator; make its "
                         "tensors smaller (lower input resolution, fewer channels around it, or a smaller width "
                         "multiplier), or split the model")
        else:
            hints.append(f"the lower bound ({plan.lower_bound} bytes) fits, so a better plan might; please report it")
        if b.reserved_sram_bytes:
            hints.append(f"if your firmware needs less than {b.reserved_sram_bytes} bytes of stack and data, "
                         f"lower reserved_sram_bytes in board_defs/boards/{b.id}.json")
    if rep.weights_bytes > b.weights_budget:
        problems.append(f"the weights need {rep.weights_bytes} bytes of flash but {b.name} has {b.weights_budget} "
                        f"({b.flash_bytes} flash - {b.reserved_flash_bytes} reserved): "
                        f"{rep.weights_bytes - b.weights_budget} bytes over.")
        hints.append("prune or shrink the model (fewer channels or layers)")
    others = [o for o in list_boards() if o.id != b.id and o.arena_budget >= plan.arena_size
              and o.weights_budget >= rep.weights_bytes]
    if others:
        hints.append("boards it fits: " + ", ".join(o.name for o in others))
    raise TinymlError(f"{g.path or g.name} does not fit {b.name}: " + " ".join(problems), hint="; ".join(hints) + ".")


# ---------------------------------------------------------------------------------------------
# Text and JSON


def _live_tensors(rep: PlanReport, pos: int) -> list[tuple[str, int]]:
    out = []
    for b in rep.plan.buffers:
        s = b.size_at(pos)
        if s:
            out.append((_buffer_name(b, pos, rep.plan.tensor_spans), s))
    return out


def _buffer_name(b, pos: int | None = None, spans: dict[int, tuple[int, int]] | None = None) -> str:
    """'s<op>' for scratch, 't<tensor>' for a tensor; at an in-place step 't<in>>t<out>'."""
    if b.key.startswith("s"):
        return f"s{b.key[1:]}"
    if pos is not None and spans:
        here = sorted((spans[t][0], t) for t in b.tensors if t in spans and spans[t][0] <= pos <= spans[t][1])
        if here:
            return ">".join(f"t{t}" for _, t in here)
    return f"t{b.key[1:]}"


def _fmt(n: int) -> str:
    return f"{n:,}".replace(",", " ")


def format_text(rep: PlanReport) -> str:
    g, plan = rep.graph, rep.plan
    lines = [f"model: {g.path or g.name}"]
    if rep.problems:
        lines.append(f"warning: {len(rep.problems)} operator(s) not supported yet; planned without their kernel scratch:")
        lines += [f"  - {p}" for p in rep.problems]
    order_note = "reordered for memory" if plan.reordered else "model order"
    lines.append(f"{len(plan.order)} operators ({order_note}); live bytes while each runs:")
    lines.append("")
    peak_pos = plan.peak_position
    top = max(plan.live_bytes, default=0) or 1
    lines.append(f"{'step':>4} {'op':>4}  {'type':<22} {'live':>9} {'bound':>9}  {'':<20}  live buffers")
    for pos, op_index in enumerate(plan.order):
        op = _op(rep, op_index)
        live = plan.live_bytes[pos]
        bar = "#" * max(1 if live else 0, round(20 * live / top))
        names = [n for n, _ in sorted(_live_tensors(rep, pos), key=lambda x: -x[1])]
        shown = " ".join(names[:6]) + (f" +{len(names) - 6}" if len(names) > 6 else "")
        mark = "  <- peak" if pos == peak_pos else ""
        ip = " (in place)" if op_index in plan.inplace_ops else ""
        lines.append(f"{pos:>4} {op_index:>4}  {(op.type + ip)[:22]:<22} {_fmt(live):>9} {_fmt(plan.lower_bounds[pos]):>9}  "
                     f"{bar:<20}  {shown}{mark}")
    lines.append("")
    gap = rep.gap
    pct = 100.0 * gap / plan.lower_bound if plan.lower_bound else 0.0
    lines.append(f"arena:       {_fmt(plan.arena_size)} bytes  (placement: {plan.strategy or '-'})")
    lines.append(f"lower bound: {_fmt(plan.lower_bound)} bytes at op {plan.peak_op}"
                 + ("  (arena is optimal for this order)" if gap == 0 else f"  (gap {_fmt(gap)} bytes, {pct:.1f}%)"))
    lines.append(f"TFLM greedy: {_fmt(plan.tflm_greedy_arena)} bytes  (largest-first first-fit, model order, no in-place)")
    lines += _patch_lines(rep)
    whose = (f"{rep.board.id}'s kernels: {rep.kernels}" if rep.board is not None
             else "portable kernels; a board's: plan --board BOARD")
    lines.append(f"weights:     {rep.weights.text() if rep.weights else _fmt(rep.weights_bytes) + ' bytes (flash)'} [{whose}]")
    scratch = {int(b.key[1:]): b.size for b in plan.buffers if b.key.startswith("s")}
    if scratch:
        big = max(scratch, key=lambda i: scratch[i])
        lines.append(f"scratch:     {len(scratch)} layer(s) with kernel scratch in the arena, each live for its layer "
                     f"only (largest: op {big}, {_fmt(scratch[big])} bytes)")
    if plan.state_offsets:
        lines.append(f"state:       {_fmt(plan.state_size)} bytes (outside the arena, kept across invokes: "
                     + ", ".join(f"t{t} {g.t(t).dtype} {'x'.join(map(str, g.t(t).shape))}"
                                 for t in sorted(plan.state_offsets)) + ")")
    if plan.inplace_ops:
        lines.append("in place:    op " + ", ".join(str(i) for i in plan.inplace_ops))
    if plan.reordered:
        lines.append("order:       " + " ".join(str(i) for i in plan.order))
    if rep.tflm is not None:
        t = rep.tflm
        if "error" in t:
            lines.append(f"TFLite Micro: {t['error']}")
        else:
            ratio = plan.arena_size / t["head"] if t["head"] else float("nan")
            lines.append(f"TFLite Micro: head {_fmt(t['head'])} + tail {_fmt(t['tail'])} = {_fmt(t['total'])} bytes; "
                         f"ours/head = {ratio:.3f} (ours {_fmt(plan.arena_size)}; TFLM head = tensors+scratch, "
                         f"tail = its runtime structures, which generated code does not need)")
    if rep.board is not None:
        b = rep.board
        lines.append(f"board:       {b.name}: arena budget {_fmt(b.arena_budget)} bytes "
                     f"({'fits' if plan.arena_size <= b.arena_budget else 'DOES NOT FIT'}, "
                     f"{100.0 * plan.arena_size / b.arena_budget:.1f}% used), weights budget {_fmt(b.weights_budget)} bytes "
                     f"({'fits' if rep.weights_bytes <= b.weights_budget else 'DOES NOT FIT'})")
    lines.append("")
    lines.append(f"{'buffer':<8} {'offset':>8} {'size':>8}  {'steps':<9}  tensors")
    for b in sorted(plan.buffers, key=lambda b: (b.offset, b.first, b.key)):
        if b.key.startswith("s"):
            what = f"scratch of op {b.key[1:]}"
        else:
            what = ", ".join(f"t{t} {_shape(g, t)}" for t in b.tensors)
        steps = f"{b.first}-{b.last}" if b.first != b.last else f"{b.first}"
        if len(b.pieces) > 1:
            what += "  pieces " + " ".join(f"[{f}-{l}:{s}]" for f, l, s in b.pieces)
        lines.append(f"{_buffer_name(b):<8} {b.offset:>8} {b.size:>8}  {steps:<9}  {what}")
    return "\n".join(lines)


def _op(rep: PlanReport, op_index: int) -> Any:
    """The operator at a plan step: the patch stage's own op where the prefix runs in patches."""
    st = rep.patches
    if st is not None and op_index == st.split:
        return next(l.op for l in rep.layers if l.op.index == op_index)
    return rep.graph.ops[op_index]


def _patch_lines(rep: PlanReport) -> list[str]:
    st = rep.patches
    if st is None:
        if rep.patch_setting == "off":
            return []
        return [f"patches:     {rep.patch_setting}: no split within the MAC-overhead budget beats the layer-by-layer "
                f"arena ({_fmt(rep.layer_arena)} bytes); running layer by layer"]
    ratio = rep.layer_arena / rep.plan.arena_size if rep.plan.arena_size else float("nan")
    lines = [
        f"patches:     {st.text}: ops {', '.join(map(str, st.ops))} run as a {st.rows} x {st.cols} grid of tiles of "
        f"op {st.split}'s output ({len(st.tiles)} tiles, halo {'cached' if st.cache else 'recomputed'})",
        f"             patch buffers {' + '.join(map(_fmt, st.slot_bytes))} bytes, kernel scratch "
        f"{_fmt(st.kernel_scratch)} bytes (stage scratch s{st.split}: {_fmt(st.scratch_bytes)} bytes)",
        f"             MACs: prefix {_fmt(st.layer_macs)} -> {_fmt(st.macs)}, model overhead {100 * st.overhead:.1f}%",
    ]
    if st.cache:
        lines.append(f"             halo cache {_fmt(st.cache_bytes)} bytes (in the stage scratch); MAC overhead "
                     f"{100 * st.overhead:.1f}% with it, {100 * st.overhead_recompute:.1f}% recomputing the halo")
    if st.input_callback < 0:
        return lines + [f"             arena layer by layer {_fmt(rep.layer_arena)} bytes -> with patches "
                        f"{_fmt(rep.plan.arena_size)} bytes ({ratio:.2f}x smaller)"]
    x = rep.graph.t(st.input_callback).nbytes
    return lines + [
        f"             input callback: the {_fmt(x)}-byte input is NOT in the arena; the stage reads its windows "
        "through <prefix>_read_input()",
        f"             arena layer by layer {_fmt(rep.layer_arena)} bytes (input included) -> with patches "
        f"{_fmt(rep.plan.arena_size)} bytes WITHOUT the input (with it: {_fmt(rep.plan.arena_size + x)} bytes)",
    ]


def _shape(g: Graph, t: int) -> str:
    return "x".join(str(d) for d in g.t(t).shape) or "scalar"


def to_json(rep: PlanReport) -> dict[str, Any]:
    g, plan = rep.graph, rep.plan
    ops = []
    for pos, op_index in enumerate(plan.order):
        ops.append(dict(position=pos, op_index=op_index, type=_op(rep, op_index).type,
                        live_bytes=plan.live_bytes[pos], lower_bound_bytes=plan.lower_bounds[pos],
                        inplace=op_index in plan.inplace_ops,
                        live=[dict(buffer=n, bytes=s) for n, s in _live_tensors(rep, pos)]))
    out: dict[str, Any] = dict(
        model=g.path or g.name,
        arena_bytes=plan.arena_size,
        lower_bound_bytes=plan.lower_bound,
        gap_bytes=rep.gap,
        weights_bytes=rep.weights_bytes,
        weights=rep.weights.to_dict() if rep.weights else None,
        state_bytes=plan.state_size,
        state_offsets={str(k): v for k, v in sorted(plan.state_offsets.items())},
        peak_op_index=plan.peak_op,
        peak_position=plan.peak_position,
        peak_live_bytes=max(plan.live_bytes, default=0),
        strategy=plan.strategy,
        tflm_greedy_arena_bytes=plan.tflm_greedy_arena,
        order=plan.order,
        reordered=plan.reordered,
        order_search_exact=plan.order_exact,
        inplace_ops=plan.inplace_ops,
        alignment=ALIGN,
        ops=ops,
        buffers=[dict(key=b.key, name=_buffer_name(b), tensors=list(b.tensors), offset=b.offset, size=b.size,
                      first=b.first, last=b.last, pieces=[list(p) for p in b.pieces]) for b in plan.buffers],
        tensor_offsets={str(k): v for k, v in sorted(plan.tensor_offsets.items())},
        scratch_offsets={str(k): v for k, v in sorted(plan.scratch_offsets.items())},
        unsupported=rep.problems,
        kernels=rep.kernels,
        layer_arena_bytes=rep.layer_arena,
        patches=dict(rep.patches.summary(), requested=rep.patch_setting,
                     input_bytes_outside_arena=sum(rep.graph.t(t).nbytes for t in rep.patches.outside))
        if rep.patches is not None
        else dict(requested=rep.patch_setting, setting="off"),
    )
    if rep.board is not None:
        b = rep.board
        out["board"] = dict(id=b.id, name=b.name, arena_budget_bytes=b.arena_budget, weights_budget_bytes=b.weights_budget,
                            fits=bool(rep.fits), arena_over_bytes=max(0, plan.arena_size - b.arena_budget),
                            weights_over_bytes=max(0, rep.weights_bytes - b.weights_budget))
    if rep.tflm is not None:
        t = dict(rep.tflm)
        if "head" in t and t["head"]:
            t["ratio_ours_to_head"] = round(plan.arena_size / t["head"], 4)
        out["tflm"] = t
    return out


# ---------------------------------------------------------------------------------------------
# Picture


def plot(rep: PlanReport, path: str) -> None:
    """The memory timeline (memory_figure) written to `path`."""
    import matplotlib.pyplot as plt

    fig = memory_figure(rep)
    try:
        fig.savefig(path)
    except OSError as e:
        raise TinymlError(f"cannot write the plot to {path}: {e.strerror}.", hint="choose a writable path.") from None
    finally:
        plt.close(fig)


def memory_figure(rep: PlanReport) -> Any:
    """The memory timeline: x = execution step, y = arena offset; each tensor a rectangle. A legend
    says what the colours and lines are; with a board, its arena budget is a line."""
    try:
        import matplotlib
    except ImportError:
        raise TinymlError("--plot needs matplotlib.", hint="pip install matplotlib") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch, Rectangle

    g, plan = rep.graph, rep.plan
    n = max(len(plan.order), 1)
    fig, ax = plt.subplots(figsize=(min(24, 4 + 0.45 * n), 6), dpi=110)
    cmap = plt.get_cmap("tab20")
    unit, scale = ("KB", 1024.0) if plan.arena_size >= 4096 else ("bytes", 1.0)
    for i, b in enumerate(sorted(plan.buffers, key=lambda b: (b.first, b.key))):
        scratch = b.key.startswith("s")
        color = "0.75" if scratch else cmap(i % 20)
        for k, (f, l, s) in enumerate(b.pieces):
            if s <= 0:
                continue
            rect = Rectangle((f - 0.45, b.offset / scale), (l - f) + 0.9, s / scale, facecolor=color,
                             edgecolor="black", linewidth=0.6, hatch="//" if scratch else None, alpha=0.9)
            ax.add_patch(rect)
            if s >= 0.06 * max(plan.arena_size, 1):
                if scratch:
                    label = f"s{b.key[1:]}"
                else:  # the tensors stored here during this piece, e.g. "t18→t22" for an in-place chain
                    here = sorted((plan.tensor_spans[t][0], t) for t in b.tensors if t in plan.tensor_spans
                                  and plan.tensor_spans[t][0] <= l and plan.tensor_spans[t][1] >= f)
                    label = "→".join(f"t{t}" for _, t in here) or f"t{b.key[1:]}"
                ax.text((f + l) / 2, (b.offset + s / 2) / scale, label, ha="center", va="center", fontsize=7)
    pk = plan.peak_position
    ax.axvspan(pk - 0.5, pk + 0.5, facecolor="red", alpha=0.12, zorder=3, label=f"peak (op {plan.peak_op})")
    ax.axhline(plan.arena_size / scale, color="black", linestyle="-", linewidth=1, label=f"arena {plan.arena_size} B")
    ax.axhline(plan.lower_bound / scale, color="red", linestyle="--", linewidth=1, label=f"lower bound {plan.lower_bound} B")
    if rep.tflm and "head" in rep.tflm:
        ax.axhline(rep.tflm["head"] / scale, color="blue", linestyle=":", linewidth=1,
                   label=f"TFLM arena head {rep.tflm['head']} B")
    if rep.patches is not None:  # before: the layer-by-layer arena the patch stage replaces
        ax.axhline(rep.layer_arena / scale, color="0.4", linestyle="-.", linewidth=1,
                   label=f"layer by layer {rep.layer_arena} B (patches {rep.patches.text}: op {rep.patches.split} "
                   f"is the stage)")
    ax.plot(range(len(plan.live_bytes)), [v / scale for v in plan.live_bytes], color="0.3", marker=".",
            linewidth=0.8, label="live bytes")
    budget = rep.board.arena_budget if rep.board is not None else 0
    if rep.board is not None:
        over = plan.arena_size > budget
        ax.axhline(budget / scale, color="darkorange", linestyle="-", linewidth=2,
                   label=f"{rep.board.id} arena budget {budget} B (SRAM - reserve){': EXCEEDED' if over else ''}")
    ax.set_xlim(-0.7, n - 0.3)
    ax.set_ylim(0, max(plan.arena_size, rep.layer_arena, (rep.tflm or {}).get("head", 0) or 0, budget, 1) / scale * 1.08)
    ax.set_xticks(range(len(plan.order)))
    ax.set_xticklabels([f"{i}\n{_op(rep, i).type[:10]}" for i in plan.order] if n <= 40 else [str(i) for i in plan.order],
                       fontsize=6 if n > 20 else 7)
    ax.set_xlabel("operator (execution order)")
    ax.set_ylabel(f"arena offset ({unit})")
    ax.set_title(f"{Path(g.path).name if g.path else g.name}: arena {plan.arena_size} B, lower bound {plan.lower_bound} B, "
                 f"peak at op {plan.peak_op}", fontsize=10)
    handles, _ = ax.get_legend_handles_labels()  # the lines, then what the colours mean
    handles += [Patch(facecolor=cmap(0), edgecolor="black", label="tensor buffer (one colour each; tN = tensor N)"),
                Patch(facecolor="0.75", edgecolor="black", hatch="//", label="kernel scratch (sN = op N)")]
    ax.legend(handles=handles, loc="upper right", fontsize=7)
    fig.tight_layout()
    return fig


PLOT_FORMATS = (".png", ".pdf", ".svg")


def check_plot_path(path: str) -> None:
    """Reject an unusable --plot path before any work is done."""
    p = Path(path)
    if p.suffix.lower() not in PLOT_FORMATS:
        raise TinymlError(f"--plot {path}: the file name must end in {', '.join(PLOT_FORMATS)}.",
                          hint="e.g. --plot memory.png")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"--plot {path}: the directory {parent} does not exist.", hint="create it or choose another path.")
    if p.exists() and not p.is_file():
        raise TinymlError(f"--plot {path}: exists and is not a regular file.", hint="choose another path.")


def run(model: str, board: str | None = None, as_json: bool = False, plot_path: str | None = None,
        compare_tflm: bool = False, out=print, patches: Any = None, max_overhead: float = 0.2) -> int:
    if plot_path:
        check_plot_path(plot_path)
    rep = build_report(model, board=board, compare_tflm=compare_tflm, patches=patches, max_overhead=max_overhead)
    if plot_path:
        plot(rep, plot_path)
    out(json.dumps(to_json(rep), indent=2) if as_json else format_text(rep))
    if plot_path and not as_json:
        out(f"wrote {plot_path}")
    check_board(rep)
    return 0
