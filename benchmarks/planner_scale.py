"""Planner scale: seconds to import (with validation), lower and plan generated large models.

Issue 11's targets: a ~700-operator model plans in about a second; convert + plan of a 1 MB model
in under 2 s. Models (real .tflite files, written with tests/op_models.py): a 700-operator chain
(FULLY_CONNECTED + ADD, residual-free), a wide graph (100 branches of 7 operators concatenated),
and a 1 MB FULLY_CONNECTED stack. `--profile` prints cProfile's top functions for each.

    .venv/bin/python benchmarks/planner_scale.py [--profile] [--repeat 3]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import op_models  # noqa: E402
from op_models import Net  # noqa: E402

op_models.OPTIONS.setdefault("RELU", None)  # takes no options table

Q = dict(scale=0.05, zp=0)


def _fc(n: Net, x: str, name: str, k: int, m: int, rng: np.random.Generator, act: int = 0) -> str:
    w = n.tensor(f"{name}_w", [m, k], "int8", scale=0.01, zp=0, data=rng.integers(-127, 128, size=(m, k)))
    b = n.tensor(f"{name}_b", [m], "int32", scale=0.0005, zp=0, data=rng.integers(-500, 500, size=m))
    y = n.tensor(name, [1, m], **Q)
    n.op("FULLY_CONNECTED", [x, w, b], [y], fused_activation_function=act)
    return y


def chain(path: Path, ops: int = 700) -> Path:
    """FULLY_CONNECTED (16 -> 16..64) and RELU alternately: `ops` operators, one path."""
    rng = np.random.default_rng(1)
    n = Net()
    t = n.input("x", [1, 16], **Q)
    k = 16
    for i in range(ops):
        if i % 2 == 0:
            m = 16 + 16 * (i % 4)
            t, k = _fc(n, t, f"fc{i}", k, m, rng), m
        else:
            y = n.tensor(f"relu{i}", [1, k], **Q)
            n.op("RELU", [t], [y])
            t = y
    return n.write(path, [t])


def wide(path: Path, branches: int = 100, depth: int = 7) -> Path:
    """`branches` chains of `depth` FULLY_CONNECTED from one input, concatenated."""
    rng = np.random.default_rng(2)
    n = Net()
    x = n.input("x", [1, 16], **Q)
    heads = []
    for i in range(branches):
        t = x
        for d in range(depth):
            t = _fc(n, t, f"b{i}_{d}", 16, 16, rng)
        heads.append(t)
    y = n.tensor("cat", [1, 16 * branches], **Q)
    n.op("CONCATENATION", heads, [y], axis=1)
    return n.write(path, [y])


def megabyte(path: Path) -> Path:
    """Sixteen 256x256 FULLY_CONNECTED layers: 1 MiB of int8 weights."""
    rng = np.random.default_rng(3)
    n = Net()
    t = n.input("x", [1, 256], **Q)
    for i in range(16):
        t = _fc(n, t, f"fc{i}", 256, 256, rng, act=1)
    return n.write(path, [t])


def plan_path(model: Path) -> None:
    from tinyml_pio.plan_report import layers_for_planning
    from tinyml_pio.planner import plan_memory
    from tinyml_pio.tflite_import import load_model

    g = load_model(model)
    layers, _ = layers_for_planning(g)
    plan_memory(g, layers)


def convert_path(model: Path, out: Path) -> None:
    from tinyml_pio.cli import main

    if main(["convert", str(model), "-o", str(out), "--prefix", "m"]) != 0:
        raise SystemExit(f"convert failed on {model}")


def main() -> int:
    """Wall seconds depend on the machine's other load; CPU seconds are this process's own."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--profile", action="store_true", help="cProfile each path, top 15 by cumulative time")
    p.add_argument("--repeat", type=int, default=3, help="runs per path; the best is reported")
    a = p.parse_args()
    import tinyml_pio.cli  # noqa: F401  (imported once, outside the timings)

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        models = {"chain 700 ops": chain(d / "chain.tflite"), "wide 100x7 ops": wide(d / "wide.tflite"),
                  "1 MiB FC stack": megabyte(d / "mb.tflite")}
        runs = [(name, "import+validate+plan", lambda m=m: plan_path(m)) for name, m in models.items()]
        runs.append(("1 MiB FC stack", "convert (+plan, codegen)", lambda: convert_path(models["1 MiB FC stack"], d / "o")))
        print("| model | size | operators | path | wall s | CPU s (best of %d) |" % a.repeat)
        print("|---|---:|---:|---|---:|---:|")
        for name, what, fn in runs:
            best = cpu = float("inf")
            for _ in range(a.repeat):
                t0, c0 = time.perf_counter(), time.process_time()
                fn()
                best = min(best, time.perf_counter() - t0)
                cpu = min(cpu, time.process_time() - c0)
            from tinyml_pio.tflite_import import load_model

            g = load_model(models[name])
            print(f"| {name} | {models[name].stat().st_size:,} B | {len(g.ops)} | {what} | {best:.2f} | {cpu:.2f} |")
            if a.profile:
                prof = cProfile.Profile()
                prof.runcall(fn)
                pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(15)
    return 0


if __name__ == "__main__":
    sys.exit(main())
