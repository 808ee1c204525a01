"""Patch-based inference benchmark: arena layer by layer vs `--patches auto`, MACs, bit-exactness
and (with --qemu) the measured latency overhead on an emulated board.

    python benchmarks/patches.py [--qemu] [--all] [--board qemu_mps2_an386] [--max-overhead 0.2] [MODEL ...]

Default models: person_detect (../shared/models), the zoo's MCUNet-like (160 px) and
MobileNetV2-0.35-like (144 px, residual blocks) nets, and the MobileNetV2-0.35-like chain of
tests/conv_models.py at 144, 160 and 176 px (random weights, residual ADDs omitted). `--all`
sweeps every zoo model, ../shared/models and the example projects' models instead (the full
`verify --patches auto` sweep; tests/test_patch_sweep.py runs a subset). Arenas count
the full input image. `cache`: the chosen grid with its halo recomputed vs cached (`+cache`):
arena and MAC overhead of each (auto itself may pick either). Latency: median SysTick ticks of invoke() over a few random inputs with
QEMU -icount (instruction counts, not silicon cycles). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from conv_models import conv_chain, mobilenet_v2_like  # noqa: E402
from tinyml_pio.errors import TinymlError  # noqa: E402
from tinyml_pio.pipeline import compile_model  # noqa: E402
from tinyml_pio.verify import verify_compiled  # noqa: E402


def default_models(tmp: Path) -> list[Path]:
    out = []
    pd = ROOT.parent / "shared" / "models" / "tflm__person_detect.tflite"
    if pd.is_file():
        out.append(pd)
    out += [ROOT / "tests" / "models" / "zoo" / f"{n}.tflite" for n in ("patch_mcunet_160", "patch_mobilenet_v2_144")]
    for size in (144, 160, 176):
        out.append(conv_chain(tmp / f"mbv2_035_like_{size}.tflite", **mobilenet_v2_like(size)))
    return out


def every_model() -> list[Path]:
    return (sorted((ROOT / "tests" / "models" / "zoo").glob("*.tflite"))
            + sorted((ROOT.parent / "shared" / "models").glob("*.tflite"))
            + sorted((ROOT / "example_projects").glob("*/models/*.tflite")))


def ticks(c, board: str, n: int) -> int:
    from tinyml_pio.hil.runner import run_on_target
    from tinyml_pio.hil.targets import EmulatedTarget

    rec = run_on_target(c, EmulatedTarget(board), n_inputs=n, seed=1)
    assert rec["identical"] == rec["inputs"], f"not bit-exact on {board}: {rec['bit_exact']}"
    return int(rec["counter_ticks"]["median"])


def layer_and_patched_ticks(p: Path, setting: str, board: str, n: int) -> tuple[int | None, int, str]:
    """invoke() ticks layer by layer and with `setting` on `board`; the first is None, with the
    reason, when the layer-by-layer build does not fit (e.g. the board's RAM)."""
    from tinyml_pio.hil.targets import EmulatedTarget

    tgt = EmulatedTarget(board).cpu
    t1 = ticks(compile_model(p, "model", target=tgt, patches=setting), board, n)
    try:
        t0 = ticks(compile_model(p, "model", target=tgt), board, n)
    except TinymlError as e:
        return None, t1, ("RAM overflow" if "RAM overflow" in str(e) else str(e).splitlines()[0][:40])
    return t0, t1, ""


def with_without_cache(p: Path, st) -> str:
    """The chosen grid recomputing and caching its halo: arena, MAC overhead, cache bytes."""
    if st is None:
        return f" {'-':>16} {'-':>6} {'-':>13} {'-':>6} {'-':>7}"
    grid = f"{st.rows}x{st.cols}@op{st.split}"
    a, b = (compile_model(p, "model", patches=grid + extra) for extra in ("", "+cache"))
    return (f" {a.plan.arena_size:>16} {100 * a.patches.overhead:>5.1f}% {b.plan.arena_size:>13} "
            f"{100 * b.patches.overhead:>5.1f}% {b.patches.cache_bytes:>7}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*")
    ap.add_argument("--max-overhead", type=float, default=0.2)
    ap.add_argument("--qemu", action="store_true", help="also measure invoke() ticks with and without patches")
    ap.add_argument("--board", default="qemu_mps2_an386")
    ap.add_argument("--inputs", type=int, default=3)
    ap.add_argument("--all", action="store_true", help="every zoo, ../shared and example model")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = [Path(m) for m in a.models] or (every_model() if a.all else default_models(Path(tmp)))
        print(f"{'model':<26} {'layer arena':>11} {'patched':>8} {'ratio':>6} {'setting':<16} {'MAC+':>6} "
              f"{'bit-exact':>9} {'recompute: arena':>16} {'MAC+':>6} {'cached: arena':>13} {'MAC+':>6} {'cache B':>7}"
              + (f" {'ticks layer':>12} {'ticks patched':>13} {'latency+':>8}" if a.qemu else ""))
        for p in paths:
            base = compile_model(p, "model")
            c = compile_model(p, "model", patches="auto", max_overhead=a.max_overhead)
            st = c.patches
            r = verify_compiled(c, n=a.inputs)
            line = (f"{p.stem[:26]:<26} {base.plan.arena_size:>11} {c.plan.arena_size:>8} "
                    f"{base.plan.arena_size / c.plan.arena_size:>5.2f}x {st.text if st else '-':<16} "
                    f"{100 * st.overhead if st else 0:>5.1f}% {r.identical}/{r.total:<7}{with_without_cache(p, st)}")
            if a.qemu:
                t0, t1, why = layer_and_patched_ticks(p, st.text if st else "off", a.board, a.inputs)
                line += (f" {t0:>12} {t1:>13} {100 * (t1 - t0) / t0:>7.1f}%" if t0 else
                         f" {'no fit':>12} {t1:>13} {'-':>8}  (layer by layer: {why})")
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
