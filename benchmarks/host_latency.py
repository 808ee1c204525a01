"""Host latency baseline: generated C (-O2) vs the tflite-micro interpreter vs tflite-runtime (1 thread).

Not a test: it prints a table. Each round measures every engine once (alternating, so machine load
affects all alike); the figure per engine is the median over rounds of the per-round median.

    python benchmarks/host_latency.py [MODEL ...]     # default: the zoo and ../shared/models
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tinyml_pio.errors import TinymlError  # noqa: E402
from tinyml_pio.hostbuild import build_executable  # noqa: E402
from tinyml_pio.pipeline import compile_model  # noqa: E402
from tinyml_pio.verify import random_inputs  # noqa: E402

BENCH_MAIN = r"""
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "model.h"
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }
int main(int argc, char **argv) {
    int i, n = argc > 1 ? atoi(argv[1]) : 100;
    double *t = malloc(sizeof(double) * (size_t)n);
    struct timespec a, b;
    for (i = 0; i < n; ++i) {
        clock_gettime(CLOCK_MONOTONIC, &a);
        model_invoke();
        clock_gettime(CLOCK_MONOTONIC, &b);
        t[i] = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
    }
    qsort(t, (size_t)n, sizeof(double), cmp);
    printf("%.0f\n", t[n / 2]);
    free(t);
    return 0;
}
"""


def _median_ns(fn, n: int) -> float:
    ts = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        fn()
        ts.append(time.perf_counter_ns() - t0)
    return statistics.median(ts)


def bench(path: Path, rounds: int, iters: int) -> tuple[float, float | None, float | None] | str:
    try:
        c = compile_model(path, "model")
    except TinymlError as e:
        return "not compiled: " + str(e).splitlines()[0][:60]
    model = path.read_bytes()
    sample = random_inputs(c.graph, 1, 0)[0]
    with tempfile.TemporaryDirectory() as tmp:
        files = dict(c.files)
        files["bench_main.c"] = BENCH_MAIN
        exe = build_executable(files, Path(tmp), name="bench", opt="-O2")
        tflm = tfl = None
        try:
            from tflite_micro import runtime

            tflm = runtime.Interpreter.from_bytes(model, arena_size=max(len(model) * 10, 1 << 20))
            for i, x in enumerate(sample):
                tflm.set_input(x, i)
        except Exception:
            tflm = None
        try:
            from tflite_runtime.interpreter import Interpreter

            tfl = Interpreter(model_content=model, num_threads=1)
            tfl.allocate_tensors()
            for d, x in zip(tfl.get_input_details(), sample):
                tfl.set_tensor(d["index"], x)
        except Exception:
            tfl = None
        ours, micro, lite = [], [], []
        for _ in range(rounds):
            ours.append(float(subprocess.run([str(exe), str(iters)], capture_output=True, text=True, check=True).stdout))
            if tflm is not None:
                micro.append(_median_ns(tflm.invoke, iters))
            if tfl is not None:
                lite.append(_median_ns(tfl.invoke, iters))
    med = statistics.median
    return med(ours), (med(micro) if micro else None), (med(lite) if lite else None)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="*", type=Path)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--iters", type=int, default=50)
    a = ap.parse_args()
    models = a.models or sorted((ROOT / "tests/models/zoo").glob("*.tflite")) + sorted(
        (ROOT.parent / "shared/models").glob("*.tflite"))
    print(f"{'model':<36} {'ours us':>9} {'tflm us':>9} {'tflite us':>9} {'tflm/ours':>9} {'tflite/ours':>11}")
    for p in models:
        r = bench(p, a.rounds, a.iters)
        if isinstance(r, str):
            print(f"{p.stem:<36} {r}")
            continue
        ours, micro, lite = r
        f = lambda v: f"{v / 1000:9.1f}" if v is not None else f"{'-':>9}"  # noqa: E731
        ratio = lambda v: f"{v / ours:9.2f}" if v is not None else f"{'-':>9}"  # noqa: E731
        print(f"{p.stem:<36} {f(ours)} {f(micro)} {f(lite)} {ratio(micro)} {ratio(lite):>11}")


if __name__ == "__main__":
    main()
