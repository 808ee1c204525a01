"""Kernel variants: portable kernels vs the board's CPU variants (DSP extension), on emulated boards.

Not a test: it prints a table. Each model is built twice into the HIL firmware for the board (once
with `CpuFeatures.portable()`, once with the board's own CPU features, i.e. the DSP kernels on
Cortex-M4/M7/M33/M55), booted in QEMU and run on the same random inputs; both runs are checked
bit for bit against TFLite. QEMU runs with -icount, so the "ticks" are a deterministic count of
executed instructions (SysTick at the board's nominal clock), not real-silicon cycles: they measure
how much work the code does, not pipeline or memory effects.

    python benchmarks/kernel_variants.py                      # qemu_mps2_an386 (Cortex-M4)
    python benchmarks/kernel_variants.py --board qemu_mps2_an386 --board qemu_mps3_an547 [MODEL ...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from tinyml_pio.cpu import CpuFeatures  # noqa: E402
from tinyml_pio.errors import TinymlError  # noqa: E402
from tinyml_pio.hil.runner import run_on_target  # noqa: E402
from tinyml_pio.hil.targets import EmulatedTarget  # noqa: E402
from tinyml_pio.pipeline import compile_model  # noqa: E402

SHARED = ROOT.parent / "shared" / "models"


def default_models(tmp: Path) -> list[Path]:
    from fc_models import write_awkward  # tests/fc_models.py: FC chains with awkward depths

    models = [SHARED / "armmlex__dnn_s_quantized.tflite", SHARED / "tflm__micro_speech_quantized.tflite",
              SHARED / "tflm__hello_world_int8.tflite"]
    models += sorted(ROOT.glob("example_projects/*/models/*.tflite"))
    models += [ROOT / "tests" / "models" / "zoo" / "fc_keep_dims.tflite"]
    models += write_awkward(tmp)
    return [m for m in models if m.is_file()]


def measure(model: Path, board: str, n_inputs: int) -> dict:
    out = {}
    for kind, cpu in (("portable", CpuFeatures.portable(board)), ("variant", None)):
        target = EmulatedTarget(board, cpu=cpu)
        c = compile_model(model, "model", target=target.cpu)
        rec = run_on_target(c, target, n_inputs=n_inputs, per_layer=True)
        layers = rec["per_layer_cycles"] or []
        fc_ops = [op.index for op in c.graph.ops if op.type == "FULLY_CONNECTED"]
        out[kind] = dict(total=rec["latency_cycles"]["median"], fc=sum(layers[i] for i in fc_ops if i < len(layers)),
                         exact=rec["bit_exact"], kernels=rec["kernels"], macs=rec["macs"],
                         fc_macs=sum(l.macs for l in c.layers if l.op.index in fc_ops))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="*", type=Path)
    ap.add_argument("--board", action="append", help="emulated board (repeatable; default qemu_mps2_an386)")
    ap.add_argument("--inputs", type=int, default=5, help="inputs per run (default 5)")
    a = ap.parse_args(argv)
    boards = a.board or ["qemu_mps2_an386"]
    with tempfile.TemporaryDirectory(prefix="tinyml-bench-") as tmp:
        models = a.models or default_models(Path(tmp))
        print("| model | board | MACs (FC share) | portable ticks | variant ticks | speed-up | FC layers: portable -> variant "
              "| kernels | bit-exact (portable / variant) |")
        print("|---|---|---|---|---|---|---|---|---|")
        for board in boards:
            for model in models:
                try:
                    r = measure(model, board, a.inputs)
                except TinymlError as e:
                    print(f"| {model.stem} | {board} | error: {str(e).splitlines()[0]} |||||||")
                    continue
                p, v = r["portable"], r["variant"]
                share = p["fc_macs"] / p["macs"] if p["macs"] else 0.0
                fc = (f"{p['fc']} -> {v['fc']} ({p['fc'] / v['fc']:.2f}x)" if v["fc"] else "-")
                print(f"| {model.stem} | {board} | {p['macs']} ({share:.0%}) | {p['total']} | {v['total']} | "
                      f"{p['total'] / v['total']:.2f}x | {fc} | {v['kernels']} | {p['exact']} / {v['exact']} |",
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
