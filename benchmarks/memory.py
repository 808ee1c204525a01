"""Memory benchmark: our arena vs the lower bound vs TFLite Micro's arena, for every model we have.

    python benchmarks/memory.py [--no-tflm] [--jobs N] [--max-overhead F] [--qemu [--board B]] [MODEL ...]

Columns: our arena (with in-place kernels where the planner chose them, including the TinyEngine-style
depthwise and 1x1 convolutions); the lower bound for our order (bytes that must be live at once,
16-byte aligned); our arena with the convolutions' in-place kernels switched off (in place only for
kernels that need no extra scratch: LUT, QUANTIZE, ADD, ...); TFLM's greedy planner on our buffers
(model order, no in-place); TFLite Micro's measured arena head (tensors + kernel scratch: the part our
arena replaces) and total (head + tail, its runtime structures that generated code does not need);
ours/head; the arena with `--patches auto` (passes/patch.py: the prefix up to a split operator run
tile by tile, input counted), its split and grid and its MAC overhead (`-` where patches do not
pay within --max-overhead); with --qemu, the measured latency overhead of that patch stage on an emulated
board (median SysTick ticks of invoke(), QEMU -icount: executed instructions, not silicon cycles; the
optimized kernels; `no fit` where the layer-by-layer build does not fit the board's RAM). Models with operators we cannot compile yet are planned with placeholders (no kernel
scratch) and marked '*'. Prints figures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from tinyml_pio.errors import TinymlError  # noqa: E402
from tinyml_pio.passes.patch import PatchSetting  # noqa: E402
from tinyml_pio.passes.patch_search import apply_patches  # noqa: E402
from tinyml_pio.plan_report import layers_for_planning, tflm_arena  # noqa: E402
from tinyml_pio.planner import plan_memory  # noqa: E402
from tinyml_pio.tflite_import import load_model  # noqa: E402


def models(args: list[str]) -> list[Path]:
    if args:
        return [Path(a) for a in args]
    zoo = sorted((ROOT / "tests" / "models" / "zoo").glob("*.tflite"))
    shared = sorted((ROOT.parent / "shared" / "models").glob("*.tflite"))
    return zoo + shared


def without_conv_inplace(layers):
    """The layers with the dedicated in-place convolution kernels (depthwise, 1x1) switched off."""
    return [dataclasses.replace(l, inplace=None) if l.inplace_func else l for l in layers]


def row(path: Path, with_tflm: bool, max_overhead: float = 0.2) -> dict:
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
    r["no_conv_ip"] = plan_memory(g, without_conv_inplace(layers)).arena_size
    _, patched, stage = apply_patches(g, layers, plan, PatchSetting("auto"), max_overhead)
    r["patched"] = patched.arena_size
    r["patch"] = f"{stage.text} +{100 * stage.overhead:.1f}%" if stage is not None else "-"
    r["setting"] = stage.text if stage is not None else None
    if with_tflm:
        r["tflm"] = tflm_arena(path.read_bytes())
    return r


def latency_overhead(path: Path, setting: str, board: str) -> str:
    """The patch stage's measured latency overhead on `board` (benchmarks/patches.py's measurement)."""
    from patches import layer_and_patched_ticks

    t0, t1, _ = layer_and_patched_ticks(path, setting, board, 3)
    if t0 is None:  # the layer-by-layer arena does not fit the board's RAM
        return f"no fit ({t1} ticks patched)"
    return f"+{100 * (t1 - t0) / t0:.1f}% ({t0} -> {t1})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*")
    ap.add_argument("--no-tflm", action="store_true", help="skip running TFLite Micro")
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--max-overhead", type=float, default=0.2, help="--patches auto's MAC budget (default 0.2)")
    ap.add_argument("--qemu", action="store_true", help="also measure the patch stage's latency overhead in QEMU")
    ap.add_argument("--board", default="qemu_mps2_an386", help="the emulated board for --qemu (default qemu_mps2_an386)")
    a = ap.parse_args()
    paths = models(a.models)
    with ThreadPoolExecutor(a.jobs) as ex:
        rows = list(ex.map(lambda p: row(p, not a.no_tflm, a.max_overhead), paths))
    if a.qemu:  # one QEMU at a time: the counts are deterministic, the machine's load does not change them
        for p, r in zip(paths, rows):
            if r.get("setting"):
                r["latency"] = latency_overhead(p, r["setting"], a.board)
    w = max([len(r["model"]) for r in rows] + [5])
    print(f"{'model':<{w}} {'ops':>4} {'arena':>8} {'bound':>8} {'no conv-ip':>10} {'greedy':>8} {'tflm head':>9} "
          f"{'tflm total':>10} {'ours/head':>9} {'patched':>8} {'patches (MAC+)':<18}"
          + (f" {'latency+ (' + a.board + ')':<28}" if a.qemu else "") + "  notes")
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
        print(f"{r['model'] + star:<{w}} {r['ops']:>4} {r['arena']:>8} {r['lb']:>8} {r['no_conv_ip']:>10} {r['greedy']:>8} "
              f"{head if head is not None else '-':>9} {total if total is not None else '-':>10} {ratio:>9}"
              f" {r['patched']:>8} {r['patch']:<18}" + (f" {r.get('latency', '-'):<28}" if a.qemu else "")
              + "  " + ", ".join(notes))
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
