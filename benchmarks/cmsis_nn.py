"""CMSIS-NN side by side: this project's generated kernels vs ARM's CMSIS-NN, layer by layer, on emulated boards.

Not a test: it prints tables. It needs a CMSIS-NN source tree, which this repository does not carry
(`git clone https://github.com/ARM-software/CMSIS-NN`), given as --cmsis-nn DIR or $CMSIS_NN.

Each model is built twice into the HIL firmware for each board and run on the same random inputs:
- as tinyml-pio generates it for the board (`compile_model(model, target=<board's CPU>)`);
- the same graph and memory plan, with every int8 CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED,
  AVERAGE_POOL_2D, MAX_POOL_2D and same-shape ADD calling CMSIS-NN instead, through the thin glue in
  benchmarks/cmsis_shim (the entry points TFLite Micro's cmsis_nn kernels call: arm_convolve_wrapper_s8,
  arm_depthwise_conv_wrapper_s8, arm_fully_connected_s8, arm_avgpool_s8, arm_max_pool_s8,
  arm_elementwise_add_s8). Every other operator runs the same code in both builds.
Both builds are checked bit for bit against TFLite on every input, so a wrong CMSIS-NN call shows.

The firmware's per-layer SysTick timing (QEMU -icount shift=5: ticks follow the executed instruction
count, 0.8 tick per instruction at 25 MHz; not silicon cycles) gives each layer's ticks in both
builds. CMSIS-NN's ticks include the glue that fills its parameter structs (as TFLM's Eval does),
a few dozen instructions a call; TFLM's interpreter itself is not in them, so TFLM + CMSIS-NN as a
whole is slower than the CMSIS-NN column.

    python benchmarks/cmsis_nn.py --cmsis-nn ~/CMSIS-NN                  # default models, qemu_mps2_an386
    python benchmarks/cmsis_nn.py --cmsis-nn ~/CMSIS-NN --per-layer --board qemu_mps2_an500 MODEL.tflite
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from tinyml_pio.codegen import generate  # noqa: E402
from tinyml_pio.cpu import CpuFeatures  # noqa: E402
from tinyml_pio.errors import TinymlError  # noqa: E402
from tinyml_pio.hil.runner import run_on_target  # noqa: E402
from tinyml_pio.hil.targets import EmulatedTarget  # noqa: E402
from tinyml_pio.ops import Layer, lower_graph  # noqa: E402
from tinyml_pio.passes.fold import fold_constants  # noqa: E402
from tinyml_pio.pipeline import Compiled, check_io, compile_model  # noqa: E402
from tinyml_pio.planner import plan_memory  # noqa: E402
from tinyml_pio.tflite_import import load_model  # noqa: E402

from kernel_variants import ICOUNT_NS, describe, real_models  # noqa: E402  (beside this script)

SHIM = Path(__file__).resolve().parent / "cmsis_shim"
SCRATCH_BYTES = 64 * 1024  # the most static scratch the glue is built with (TFLM would take it from its arena)

# CMSIS-NN's sources that this comparison compiles: the int8 kernels' families and their support code
# (the float/f16 files are left out: they need FP16 support the Cortex-M4 build does not have).
_LIB_JSON = {
    "name": "CMSIS-NN-bench",
    "version": "0.0.0",
    "build": {"srcDir": "Source", "includeDir": "Include",
              "srcFilter": ["-<*>", "+<ConvolutionFunctions/>", "+<FullyConnectedFunctions/>", "+<NNSupportFunctions/>",
                            "+<PoolingFunctions/>", "+<BasicMathFunctions/>", "-<**/*_f16.c>", "-<**/*_f32.c>"],
              "flags": ["-Wno-unused-parameter"]},
}


def cmsis_library(src: Path, work: Path) -> tuple[Path, str]:
    """A PlatformIO library folder for the CMSIS-NN checkout `src` (its Include/ and Source/ linked, a
    library.json beside them), and a fingerprint of its sources for the firmware cache key."""
    if not (src / "Include" / "arm_nnfunctions.h").is_file():
        raise SystemExit(f"{src} is not a CMSIS-NN source tree (no Include/arm_nnfunctions.h); "
                         "git clone https://github.com/ARM-software/CMSIS-NN and pass --cmsis-nn.")
    lib = work / "cmsis-nn-lib"
    lib.mkdir(parents=True, exist_ok=True)
    for name in ("Include", "Source"):
        link = lib / name
        if not link.exists():
            link.symlink_to((src / name).resolve())
    (lib / "library.json").write_text(json.dumps(_LIB_JSON, indent=2))
    h = hashlib.sha256()
    for p in sorted(src.rglob("*")):
        if p.is_file() and p.suffix in (".c", ".h"):
            h.update(str(p.relative_to(src)).encode())
            h.update(p.read_bytes())
    return lib, h.hexdigest()[:16]


class CmsisTarget(EmulatedTarget):
    """The emulated board, with the CMSIS-NN library beside tinyml-pio's in the HIL project; the glue's
    static buffers sized for the model (`scratch` bytes, `fc_sums` FC kernel sums)."""

    def __init__(self, board: str, lib: Path):
        super().__init__(board)
        self.lib = lib
        self.scratch, self.fc_sums = 256, 16

    def _platformio_ini(self, per_layer: bool) -> str:
        ini = super()._platformio_ini(per_layer)
        ini = ini.replace("lib_deps = ", f"lib_deps = symlink://{self.lib}\n    ", 1)
        return ini.replace("build_flags = ", f"build_flags = -DTINYML_CMSIS_SCRATCH={self.scratch} "
                           f"-DTINYML_CMSIS_FC_SUMS={self.fc_sums} ", 1)


def _scratch_bound(layer: Layer) -> int:
    """An upper bound of what CMSIS-NN's *_get_buffer_size asks for this layer: im2col of two
    columns (int16) for conv, one window (int16) for depthwise, int32 per channel for pools
    (the FC kernel sums have their own store in the shim)."""
    p = layer.params
    taps = p.get("filter_h", 1) * p.get("filter_w", 1)
    depth = max(p.get("in_c", 0), p.get("out_c", 0), p.get("depth", 0), p.get("out_depth", 0), p.get("in_depth", 0))
    return 8 * depth * taps + 8 * depth + 256


def _same_shape_add(g, layer: Layer) -> bool:
    a, b = (t for t in layer.op.inputs[:2])
    return g.t(a).shape == g.t(b).shape == g.t(layer.op.outputs[0]).shape


def to_cmsis(g, layer: Layer) -> tuple[Layer, str] | None:
    """The layer calling CMSIS-NN (and its family), or None when CMSIS-NN has no kernel for it here."""
    p, func = layer.params, layer.func
    new = None
    if func == "tinyml_conv2d_s8" and p["filter_c"] == p["in_c"]:
        new = "tinyml_cmsis_conv2d_s8"
    elif func == "tinyml_depthwise_conv2d_s8":
        new = "tinyml_cmsis_depthwise_conv2d_s8"
    elif func == "tinyml_fully_connected_s8":
        m, s = layer.consts["mult"], layer.consts["shift"]
        if np.all(m == m.flat[0]) and np.all(s == s.flat[0]):  # CMSIS-NN 6's FC is per-tensor only
            new = "tinyml_cmsis_fully_connected_s8"
    elif func in ("tinyml_avgpool_s8", "tinyml_maxpool_s8") and p["batches"] == 1:
        new = func.replace("tinyml_", "tinyml_cmsis_")
    elif func == "tinyml_add_s8" and _same_shape_add(g, layer):
        new = "tinyml_cmsis_add_s8"
    if new is None:
        return None
    if _scratch_bound(layer) > SCRATCH_BYTES:
        raise TinymlError(f"op {layer.op.index} may need more CMSIS-NN scratch than the shim's {SCRATCH_BYTES} B")
    return dataclasses.replace(layer, func=new, header="cmsis_shim.h", inplace=None, inplace_func=None,
                               inplace_args=None, inplace_scratch_bytes=0, inplace_grow=False,
                               comment=(layer.comment + ", " if layer.comment else "") + "CMSIS-NN"), family(g, layer)


def family(g, layer: Layer) -> str:
    """The layer type the issue compares: 1x1 / kxk / first-layer conv, depthwise by shape, FC, pools, ADD."""
    p, func = layer.params, layer.func or ""
    if "conv2d" in func and "depthwise" not in func:
        if p["filter_h"] == p["filter_w"] == 1:
            return "conv 1x1"
        if p["in_c"] <= 4:
            return f"conv first layer (in_c {p['in_c']})"
        return f"conv {p['filter_h']}x{p['filter_w']}"
    if "depthwise" in func:
        if p["in_c"] == 1 and p["depth_multiplier"] > 1:
            return "dw on 1 channel (xM)"
        return f"dw {p['filter_h']}x{p['filter_w']} s{p['stride_h']}"
    if "fully_connected" in func:
        return "fully connected"
    return {"tinyml_avgpool_s8": "average pool", "tinyml_maxpool_s8": "max pool", "tinyml_add_s8": "add"}.get(func, func)


def compile_cmsis(model: Path, cpu: CpuFeatures, fingerprint: str) -> tuple[Compiled, dict[int, str]]:
    """The model generated with CMSIS-NN behind its int8 conv/dw/fc/pool/add layers; {op: family}."""
    g = load_model(model)
    check_io(g)
    fold_constants(g)
    layers, families = [], {}
    for layer in lower_graph(g, {}):
        swapped = to_cmsis(g, layer) if layer.func else None
        if swapped is not None:
            layer, families[layer.op.index] = swapped
        layers.append(layer)
    plan = plan_memory(g, layers)
    files = generate(g, layers, plan, "model", kernels=f"CMSIS-NN (benchmarks/cmsis_nn.py, sources {fingerprint})")
    for name in ("cmsis_shim.c", "cmsis_shim.h"):
        files[name] = (SHIM / name).read_text()
    files["cmsis_shim.c"] += f"\n/* CMSIS-NN sources {fingerprint} */\n"
    return Compiled(graph=g, layers=layers, plan=plan, files=files, prefix="model", target=cpu,
                    variants={i: "cmsis" for i in families}), families


def measure(model: Path, board: str, lib: Path, fingerprint: str, n_inputs: int) -> dict:
    ours_target = EmulatedTarget(board)
    ours_c = compile_model(model, "model", target=ours_target.cpu)
    ours = run_on_target(ours_c, ours_target, n_inputs=n_inputs, per_layer=True)
    cm_target = CmsisTarget(board, lib)
    cm_c, families = compile_cmsis(model, cm_target.cpu, fingerprint)
    swapped = [l for l in cm_c.layers if l.op.index in families]
    # at least 16 KB: CMSIS-NN's Helium kernels can ask for more than the bound (ft on the M55 hangs with less)
    cm_target.scratch = max([16384] + [-(-_scratch_bound(l) // 16) * 16 for l in swapped])
    cm_target.fc_sums = max(16, sum(l.params["out_depth"] for l in swapped if "out_depth" in l.params))
    cm = run_on_target(cm_c, cm_target, n_inputs=n_inputs, per_layer=True)
    return dict(ours=ours, ours_c=ours_c, cmsis=cm, cmsis_c=cm_c, families=families)


def per_layer_table(model: Path, board: str, r: dict, tick_per_instr: float) -> str:
    ol, cl = r["ours"]["counter_ticks"]["per_layer"] or [], r["cmsis"]["counter_ticks"]["per_layer"] or []
    macs = {l.op.index: l.macs for l in r["cmsis_c"].layers}
    lines = [f"{model.stem} on {board}, per layer (SysTick ticks under -icount)",
             "| op | layer | type | MACs | CMSIS-NN ticks | tinyml-pio ticks | tinyml-pio / CMSIS-NN | MACs/instr CMSIS-NN -> ours |",
             "|---:|---|---|---:|---:|---:|---:|---|"]
    for i, fam in sorted(r["families"].items()):
        o, c, m = ol[i], cl[i], macs.get(i, 0)
        mpi = lambda t: m / (t / tick_per_instr) if t and m else 0.0  # noqa: E731
        lines.append(f"| {i} | {describe(r['cmsis_c'], i, kernel=False)} | {fam} | {m:,} | {c:,} | {o:,} | {o / c:.3f} | "
                     f"{mpi(c):.3f} -> {mpi(o):.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="*", type=Path)
    ap.add_argument("--cmsis-nn", type=Path, default=os.environ.get("CMSIS_NN"),
                    help="a CMSIS-NN source tree (default: $CMSIS_NN)")
    ap.add_argument("--board", action="append", help="emulated board (repeatable; default qemu_mps2_an386)")
    ap.add_argument("--inputs", type=int, default=3, help="inputs per run (default 3)")
    ap.add_argument("--per-layer", action="store_true", help="also print every layer's ticks")
    a = ap.parse_args(argv)
    if a.cmsis_nn is None:
        ap.error("give --cmsis-nn DIR (a checkout of https://github.com/ARM-software/CMSIS-NN) or set $CMSIS_NN")
    boards = a.board or ["qemu_mps2_an386"]
    models = a.models or real_models()
    tables, by_family = [], defaultdict(lambda: [0, 0, 0.0, ""])  # (board, family) -> cmsis, ours, worst ratio, where
    with tempfile.TemporaryDirectory(prefix="tinyml-cmsis-") as tmp:
        lib, fingerprint = cmsis_library(a.cmsis_nn, Path(tmp))
        print("| model | board | MACs | tinyml-pio whole invoke | CMSIS-NN build whole invoke | CMSIS-NN layers "
              "| tinyml-pio same layers | same layers ratio | whole invoke / CMSIS-NN layers | bit-exact (ours / CMSIS-NN build) |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
        for board in boards:
            for model in models:
                try:
                    r = measure(model, board, lib, fingerprint, a.inputs)
                except TinymlError as e:
                    print(f"| {model.stem} | {board} | error: {str(e).splitlines()[0]} |||||||")
                    continue
                o, c = r["ours"], r["cmsis"]
                tick_per_instr = (o["clock"]["hz"] or 25_000_000) * ICOUNT_NS * 1e-9
                ol, cl = o["counter_ticks"]["per_layer"] or [], c["counter_ticks"]["per_layer"] or []
                lay_c = sum(cl[i] for i in r["families"])
                lay_o = sum(ol[i] for i in r["families"])
                whole_o, whole_c = o["counter_ticks"]["median"], c["counter_ticks"]["median"]
                print(f"| {model.stem} | {board} | {o['macs']:,} | {whole_o:,} | {whole_c:,} | {lay_c:,} | {lay_o:,} | "
                      f"{lay_o / lay_c:.3f} | {whole_o / lay_c:.3f} | {o['bit_exact']} / {c['bit_exact']} |", flush=True)
                for i, fam in r["families"].items():
                    row = by_family[(board, fam)]
                    row[0] += cl[i]
                    row[1] += ol[i]
                    if ol[i] / cl[i] > row[2]:
                        row[2], row[3] = ol[i] / cl[i], f"{model.stem} op {i}"
                if a.per_layer:
                    tables.append(per_layer_table(model, board, r, tick_per_instr))
    print("\nBy layer type (all models above): SysTick ticks summed over the layers of that type")
    print("| board | layer type | CMSIS-NN | tinyml-pio | ratio | slowest layer (ratio, where) |")
    print("|---|---|---:|---:|---:|---|")
    for (board, fam), (cm, ours, worst, where) in sorted(by_family.items()):
        print(f"| {board} | {fam} | {cm:,} | {ours:,} | {ours / cm:.3f} | {worst:.3f} ({where}) |")
    for t in tables:
        print("\n" + t)
    return 0


if __name__ == "__main__":
    sys.exit(main())
