"""Memory benchmark: our arena vs the lower bound vs TFLite Micro's arena, for every model we have.

    python benchmarks/memory.py [--no-tflm] [--jobs N] [MODEL ...]

Columns: our arena; the lower bound for our order (bytes that must be live at once, 16-byte
aligned); TFLM's greedy planner on our buffers (model order, no in-place); TFLite Micro's measured
arena head (tensors + kernel scratch: the part our arena replaces) and total (head + tail, its
runtime structures that generated code does not need); ours/head. Models with operators we cannot
compile yet are planned with placeholders (no kernel scratch) and marked '*'. Prints figures; it
asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tinyml_pio.errors import TinymlError  # noqa: E402
from tinyml_pio.plan_report import layers_for_planning, tflm_arena  # noqa: E402
from tinyml_pio.planner import plan_memory  # noqa: E402
from tinyml_pio.tflite_import import load_model  # noqa: E402


def models(args: list[str]) -> list[Path]:
    if args:
        return [Path(a) for a in args]
    zoo = sorted((ROOT / "tests" / "models" / "zoo").glob("*.tflite"))
    shared = sorted((ROOT.parent / "shared" / "models").glob("*.tflite"))
    return zoo + shared


def conv_inplace_what_if(layers) -> None:
    """Mark the layers a TinyEngine-style kernel could run in place (not implemented by the kernels yet):
    depthwise with multiplier 1 (output over input, one input channel plane of scratch) and 1x1 stride-1
    convolutions (one input pixel of scratch; walking pixels backwards when the output is wider)."""
    for l in layers:
        p = l.params
        if p.get("batches") != 1:
            continue
        if l.func == "tinyml_depthwise_conv2d_s8" and p.get("depth_multiplier") == 1:
            l.inplace = (l.op.inputs[0], l.op.outputs[0])
            l.inplace_scratch_bytes = p["in_h"] * p["in_w"]
        elif (l.func == "tinyml_conv2d_s8" and (p.get("filter_h"), p.get("filter_w"), p.get("stride_h"),
                                                 p.get("stride_w"), p.get("pad_h"), p.get("pad_w")) == (1, 1, 1, 1, 0, 0)):
            l.inplace = (l.op.inputs[0], l.op.outputs[0])
            l.inplace_grow = True
            l.inplace_scratch_bytes = p["in_c"]


def row(path: Path, with_tflm: bool, what_if: bool = False) -> dict:
    r: dict = {"model": path.stem}
    try:
        g = load_model(path)
    except TinymlError as e:
        r["error"] = str(e).splitlines()[0]
        return r
    layers, problems = layers_for_planning(g)
    t0 = time.perf_counter()
    plan = plan_memory(g, layers)
    r.update(arena=plan.arena_size, lb=plan.lower_bound, greedy=plan.tflm_greedy_arena, ops=len(g.ops),
             missing=len(problems), reordered=plan.reordered, inplace=len(plan.inplace_ops),
             seconds=time.perf_counter() - t0)
    if what_if and not problems:
        conv_inplace_what_if(layers)
        r["what_if"] = plan_memory(g, layers).arena_size
    if with_tflm:
        r["tflm"] = tflm_arena(path.read_bytes())
    return r


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*")
    ap.add_argument("--no-tflm", action="store_true", help="skip running TFLite Micro")
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--what-if-conv-inplace", action="store_true",
                    help="add a column: our arena if depthwise and 1x1 conv kernels could run in place")
    a = ap.parse_args()
    paths = models(a.models)
    with ThreadPoolExecutor(a.jobs) as ex:
        rows = list(ex.map(lambda p: row(p, not a.no_tflm, a.what_if_conv_inplace), paths))
    w = max([len(r["model"]) for r in rows] + [5])
    print(f"{'model':<{w}} {'ops':>4} {'arena':>8} {'bound':>8} {'greedy':>8} {'tflm head':>9} {'tflm total':>10} "
          f"{'ours/head':>9}" + (f" {'what-if':>8}" if a.what_if_conv_inplace else "") + "  notes")
    n = n_le = n_lb = n_t = 0
    for r in rows:
        if "error" in r:
            print(f"{r['model']:<{w}} import failed: {r['error']}")
            continue
        t = r.get("tflm") or {}
        head, total = t.get("head"), t.get("total")
        ratio = f"{r['arena'] / head:.3f}" if head else "-"
        notes = []
        if r["missing"]:
            notes.append(f"* {r['missing']} op(s) not compiled yet")
        if r["reordered"]:
            notes.append("reordered")
        if r["inplace"]:
            notes.append(f"{r['inplace']} in place")
        if r["arena"] == r["lb"]:
            notes.append("= bound")
        if "error" in t:
            notes.append("tflm: " + t["error"][:60])
        star = "*" if r["missing"] else ""
        print(f"{r['model'] + star:<{w}} {r['ops']:>4} {r['arena']:>8} {r['lb']:>8} {r['greedy']:>8} "
              f"{head if head is not None else '-':>9} {total if total is not None else '-':>10} {ratio:>9}"
              + (f" {r.get('what_if', '-'):>8}" if a.what_if_conv_inplace else "") + "  " + ", ".join(notes))
        n += 1
        n_lb += r["arena"] == r["lb"]
        if head:
            n_t += 1
            n_le += r["arena"] <= head
    print()
    print(f"{n} models planned: arena == lower bound for {n_lb}; arena <= TFLM head for {n_le} of {n_t} measured by TFLM")
    return 0


if __name__ == "__main__":
    sys.exit(main())
