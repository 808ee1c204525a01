"""Kernels: the portable reference kernels vs the board's optimized kernels, on emulated boards.

Not a test: it prints tables. Each model is built twice into the HIL firmware for each board (once
with `CpuFeatures.portable()`, i.e. the reference kernels, once for the board's CPU: the optimized
conv/depthwise/FC/pool/ADD kernels with DSP on Cortex-M4/M7/M33, Helium on the M55, their plain C
on the Cortex-M3), booted in QEMU and run on the same random inputs; both runs are
checked bit for bit against TFLite. QEMU runs with -icount shift=5, so "ticks" are SysTick ticks
at the board's nominal clock that follow the executed instruction count exactly (one instruction
= 32 ns; 0.8 tick per instruction at 25 MHz): they measure how much work the code does, not
pipeline, wait-state or cache effects, and are not real-silicon cycles. "instr" converts them
back to executed instructions.

    python benchmarks/kernel_variants.py                        # all emulated boards, default models
    python benchmarks/kernel_variants.py --board qemu_mps2_an386 --per-layer ../shared/models/tflm__person_detect.tflite

For person_detect on qemu_mps2_an386 the per-layer table has a column with CMSIS-NN's ticks for the
same layer, measured on the same board with the same counter (../shared/perf/cmsis_nn_person_detect_m4.md);
benchmarks/cmsis_nn.py measures CMSIS-NN itself, on every model and board, given its sources.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from tinyml_pio.boards import load_board  # noqa: E402
from tinyml_pio.cpu import CpuFeatures  # noqa: E402
from tinyml_pio.errors import TinymlError  # noqa: E402
from tinyml_pio.hil.runner import run_on_target  # noqa: E402
from tinyml_pio.hil.targets import EmulatedTarget, emulated_boards  # noqa: E402
from tinyml_pio.pipeline import Compiled, compile_model  # noqa: E402

SHARED = ROOT.parent / "shared"
CMSIS_TABLE = SHARED / "perf" / "cmsis_nn_person_detect_m4.md"
ICOUNT_NS = 32  # -icount shift=5


def real_models() -> list[Path]:
    """The ../shared models, the examples' and the two MLPerf Tiny zoo nets (also benchmarks/cmsis_nn.py's set)."""
    models = [SHARED / "models" / f"{m}.tflite" for m in ("tflm__person_detect", "tflm__micro_speech_quantized",
                                                          "armmlex__dnn_s_quantized", "openmv__force_int_quant",
                                                          "tflm__hello_world_int8")]
    models += sorted(ROOT.glob("example_projects/*/models/*.tflite"))
    models += [ROOT / "tests" / "models" / "zoo" / f"{m}.tflite" for m in ("mlperf_ds_cnn_kws", "mlperf_resnet8_cifar")]
    return [m for m in models if m.is_file()]


def default_models(tmp: Path) -> list[Path]:
    from conv_models import AWKWARD_CONV, conv_chain

    return real_models() + [conv_chain(tmp / "dw3x3_13x11.tflite", **AWKWARD_CONV["dw3x3_13x11"])]


def cmsis_ticks() -> dict[int, int]:
    """op index -> CMSIS-NN ticks from the shared reference table (empty when absent)."""
    if not CMSIS_TABLE.is_file():
        return {}
    out = {}
    for line in CMSIS_TABLE.read_text().splitlines():
        m = re.match(r"\|\s*(\d+)\s*\|[^|]*\|\s*[\d,]+\s*\|\s*([\d,]+)\s*\|", line)
        if m:
            out[int(m.group(1))] = int(m.group(2).replace(",", ""))
    return out


def measure(model: Path, board: str, n_inputs: int) -> dict:
    out = {}
    for kind, cpu in (("portable", CpuFeatures.portable(board)), ("opt", None)):
        target = EmulatedTarget(board, cpu=cpu)
        c = compile_model(model, "model", target=target.cpu)
        rec = run_on_target(c, target, n_inputs=n_inputs, per_layer=True)
        out[kind] = dict(rec=rec, c=c, weights=c.weights.total)  # the one weights figure (weights.py)
    return out


def describe(c: Compiled, i: int, kernel: bool = True) -> str:
    """Op i as 'TYPE in-shape->out-shape', and with `kernel` the function it calls."""
    op = c.graph.ops[i]
    layer = next((l for l in c.layers if l.op.index == i), None)
    shape = lambda t: "x".join(str(d) for d in c.graph.t(t).shape[1:])  # noqa: E731
    ins = [t for t in op.inputs if t >= 0 and not c.graph.t(t).is_const]
    text = f"{op.type} {shape(ins[0]) if ins else ''}->{shape(op.outputs[0])}"
    if kernel and layer is not None and layer.func:
        text += f" [{layer.func.replace('tinyml_', '')}]"
    return text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="*", type=Path)
    ap.add_argument("--board", action="append", help="emulated board (repeatable; default: all emulated boards)")
    ap.add_argument("--inputs", type=int, default=3, help="inputs per run (default 3)")
    ap.add_argument("--per-layer", action="store_true", help="also print a per-layer table for each model and board")
    a = ap.parse_args(argv)
    boards = a.board or emulated_boards()
    cmsis = cmsis_ticks()
    per_layer_tables = []
    with tempfile.TemporaryDirectory(prefix="tinyml-bench-") as tmp:
        models = a.models or default_models(Path(tmp))
        print("| model | board | MACs | portable ticks | optimized ticks | speed-up | MACs/instr (portable -> opt) "
              "| flash B (portable -> opt) | weights B (portable -> opt) | arena B (portable -> opt) | kernels "
              "| bit-exact (portable / opt) |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for board in boards:
            b = load_board(board)
            tick_per_instr = None
            for model in models:
                try:
                    r = measure(model, board, a.inputs)
                except TinymlError as e:
                    print(f"| {model.stem} | {board} | error: {str(e).splitlines()[0]} ||||||||||")
                    continue
                p, o = r["portable"]["rec"], r["opt"]["rec"]
                hz = p["clock"]["hz"] or b.clock_hz
                tick_per_instr = hz * ICOUNT_NS * 1e-9
                pt, ot = p["counter_ticks"]["median"], o["counter_ticks"]["median"]
                mpi = lambda t: p["macs"] / (t / tick_per_instr) if t else 0.0  # noqa: E731
                print(f"| {model.stem} | {board} | {p['macs']} | {pt} | {ot} | {pt / ot:.2f}x | "
                      f"{mpi(pt):.3f} -> {mpi(ot):.3f} | {p['flash_bytes']} -> {o['flash_bytes']} | "
                      f"{r['portable']['weights']} -> {r['opt']['weights']} | "
                      f"{p['planned_arena_bytes']} -> {o['planned_arena_bytes']} | {o['kernels']} | "
                      f"{p['bit_exact']} / {o['bit_exact']} |", flush=True)
                if a.per_layer:
                    per_layer_tables.append(per_layer(model, board, r, tick_per_instr,
                                                      cmsis if board == "qemu_mps2_an386"
                                                      and model.stem == "tflm__person_detect" else {}))
    for table in per_layer_tables:
        print("\n" + table)
    return 0


def per_layer(model: Path, board: str, r: dict, tick_per_instr: float, cmsis: dict[int, int]) -> str:
    p, o = r["portable"], r["opt"]
    pl, ol = p["rec"]["counter_ticks"]["per_layer"] or [], o["rec"]["counter_ticks"]["per_layer"] or []
    macs = {l.op.index: l.macs for l in o["c"].layers}
    head = "| op | layer (optimized kernel) | MACs | portable ticks | optimized ticks | speed-up | MACs/instr opt |"
    sep = "|---:|---|---:|---:|---:|---:|---:|"
    if cmsis:
        head += " CMSIS-NN ticks | opt / CMSIS-NN |"
        sep += "---:|---:|"
    lines = [f"{model.stem} on {board}, per layer (SysTick ticks under -icount)", head, sep]
    tot = dict(p=0, o=0, c=0, oc=0)
    for i in range(min(len(pl), len(ol))):
        mi = macs.get(i, 0)
        row = (f"| {i} | {describe(o['c'], i)} | {mi} | {pl[i]} | {ol[i]} | {pl[i] / ol[i] if ol[i] else 0:.2f}x | "
               f"{mi / (ol[i] / tick_per_instr) if ol[i] else 0:.3f} |")
        if cmsis:
            ci = cmsis.get(i)
            row += f" {ci if ci else '-'} | {ol[i] / ci:.2f} |" if ci else " - | - |"
            if ci:
                tot["c"] += ci
                tot["oc"] += ol[i]
        tot["p"] += pl[i]
        tot["o"] += ol[i]
        lines.append(row)
    summary = f"| all | whole invoke (sum of layers) | {sum(macs.values())} | {tot['p']} | {tot['o']} | {tot['p'] / tot['o']:.2f}x | |"
    if cmsis:
        summary += f" {tot['c']} | {tot['oc'] / tot['c']:.3f} (layers CMSIS-NN has) |"
    lines.append(summary)
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
