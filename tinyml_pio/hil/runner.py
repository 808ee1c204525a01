"""Run a model on a board through the HIL protocol and measure it: the engine behind
`tinyml-pio hil run` and hil_tests/."""

from __future__ import annotations

import hashlib
import statistics
from functools import partial
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..console import progress
from ..cpu import CpuFeatures
from ..errors import TinymlError
from ..ir import DTYPES
from ..pipeline import Compiled, compile_model
from ..reference import reference_for
from ..verify import FLOAT_ULP_BOUND, float_ulps, random_inputs
from .client import HilClient, HilError
from .targets import Target, make_target
from .units import convert, fmt_count, latency, timing_for, timing_record
from .units import per_layer as per_layer_rows


def run_on_target(c: Compiled, target: Target, n_inputs: int = 10, seed: int = 0, per_layer: bool = False,
                  timeout: float = 10.0, log: Callable[[str], None] = lambda s: None,
                  samples: list[list[np.ndarray]] | None = None,
                  on_output: Callable[[list[np.ndarray], list[np.ndarray]], None] = lambda got, expect: None) -> dict[str, Any]:
    """Build, start, check identity, run `n_inputs` random inputs (or `samples`), compare with the
    TFLite reference; `on_output` sees each sample's outputs from the board and from TFLite."""
    if n_inputs < 1:
        raise TinymlError(f"the number of inputs must be at least 1 (got {n_inputs}).")
    g = c.graph
    fw = target.build(c, per_layer)  # generated for the target's CPU (kernel variants)
    ref = reference_for(g)
    samples = random_inputs(g, n_inputs, seed) if samples is None else samples
    try:
        url = target.start(fw)  # inside: whatever start got running is stopped, even when start fails half-way
        with HilClient(url, timeout=timeout) as cl:
            info = cl.hello()
            if info.model_sha256 != g.sha256:
                raise HilError(f"the firmware on {target.name} runs model {info.model_sha256[:12]}…, expected {g.sha256[:12]}….",
                               hint="rebuild and flash the HIL firmware for this model.")
            timing = timing_for(target.name, info.clock_source, info.clock_hz, fw.deterministic_clock)
            cycles, identical, within, max_ulp = [], 0, 0, 0
            for i, sample in enumerate(progress(samples, desc=f"{g.name} on {target.name}")):
                for k, x in enumerate(sample):
                    cl.set_input(k, np.ascontiguousarray(x).tobytes())
                status, cyc = cl.invoke()
                if status != 0:
                    raise HilError(f"invoke returned {status} on {target.name}")
                cycles.append(cyc)
                expect = [e.reshape(-1) for e in ref.run(sample)]
                got = [np.frombuffer(cl.get_output(k, g.t(t).nbytes), np.dtype(DTYPES[g.t(t).dtype][1]))
                       for k, t in enumerate(g.outputs)]
                on_output(got, expect)
                same = len(got) == len(expect) and all(np.array_equal(a, b) for a, b in zip(got, expect))
                ulps = float_ulps(got, expect)
                max_ulp = max(max_ulp, ulps or 0)
                close = not same and ulps is not None and ulps <= FLOAT_ULP_BOUND
                identical += same
                within += close
                log(f"input {i}: {fmt_count(convert(timing, cyc), timing.unit)}, "
                    + ("identical" if same else f"floats within {ulps} ULP" if close else "DIFFERENT"))
            mem = cl.memory()
            layers = cl.layer_cycles() if per_layer and info.per_layer else None
    finally:
        target.stop()
    macs = c.macs
    lat = latency(timing, cycles)
    med = lat["median"]
    host = info.clock_source == "host-ns"  # no stack painting on the host: not measured, not 0
    return {
        "model": g.name,
        "model_sha256": g.sha256,
        "board": target.name,
        "kernels": fw.kernels,
        "clock": {"source": info.clock_source, "hz": info.clock_hz, "deterministic": fw.deterministic_clock},
        "timing": timing_record(timing, info.clock_source, info.clock_hz),
        # the counter's raw readings (benchmarks compare these; `latency` says what they mean)
        "counter_ticks": {"min": min(cycles), "median": int(statistics.median(cycles)), "max": max(cycles), "per_layer": layers},
        "latency": lat,
        "per_layer": per_layer_rows(timing, layers, [op.type for op in g.ops]),
        "arena_bytes": mem.arena_bytes,
        "planned_arena_bytes": c.plan.arena_size,
        "linked_arena_bytes": fw.arena_bytes,
        "stack_peak_bytes": None if host else mem.stack_peak_bytes,  # None: not measured
        "stack_size_bytes": None if host else mem.stack_size_bytes,
        "ram_bytes": fw.ram_bytes,
        "flash_bytes": fw.flash_bytes,
        "bit_exact": f"{identical}/{len(samples)}",
        "identical": identical,
        "float_within_bound": within,  # not identical, integer outputs identical, floats within FLOAT_ULP_BOUND
        "max_float_ulp": max_ulp,
        "inputs": len(samples),
        "macs": macs,
        "macs_per_unit": macs / med if med else 0.0,  # MACs per instruction / cycle / ns (latency.unit)
        "reference": ref.kind,
        "retries": cl.retried,
        "patches": c.patches.summary() if c.patches is not None else None,
    }


def run_on_data(c: Compiled, target: Target, data: str | Path, metric: str | None = None,
                float_model: str | Path | None = None, labels: list[str] | str | None = None,
                limit: int | None = None, **kw: Any) -> dict[str, Any]:
    """run_on_target on the samples of a data.npz (accuracy.load_data); the record gains
    "accuracy": the metric on the board beside TFLite's int8 reference and the float model."""
    from ..accuracy import evaluate, load_data
    from ..pipeline import read_labels

    d = load_data(data, c.graph, metric, limit=limit)
    got, expect = [], []
    rec = run_on_target(c, target, samples=d.samples, on_output=lambda o, r: (got.append(o[0]), expect.append(r[0])), **kw)
    rec["accuracy"] = evaluate(c.graph, d, got, target.name, expect, float_model=float_model,
                               labels=read_labels(labels, c.graph) if labels is not None else None)
    return rec


def error_record(model: str | Path, board: str, error: BaseException) -> dict[str, Any]:
    """The report's record of a run that failed: the board, the model and what went wrong."""
    path = Path(model)
    try:
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        sha = ""
    return {"model": path.stem, "model_sha256": sha, "board": board, "bit_exact": "error",
            "error": str(error).strip() or type(error).__name__, "identical": 0, "inputs": 0}


def run_model(model: str | Path, board: str, port: str | None = None, n_inputs: int = 10, seed: int = 0,
              per_layer: bool = False, log: Callable[[str], None] = lambda s: None,
              cpu: CpuFeatures | None = None) -> dict[str, Any]:
    """`cpu` overrides the board's CPU features (None: the board's; CpuFeatures.portable(): no variants)."""
    target = make_target(board, port, log=log, cpu=cpu)
    c = compile_model(model, "model", target=target.cpu)
    return run_on_target(c, target, n_inputs=n_inputs, seed=seed, per_layer=per_layer, log=log)


def run_models(models: list[str | Path], board: str, port: str | None = None, n_inputs: int = 10, seed: int = 0,
               per_layer: bool = False, log: Callable[[str], None] = lambda s: None,
               cpu: CpuFeatures | None = None, on_error: Callable[[str, TinymlError], None] = lambda m, e: None,
               patches: str | None = None, data: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Each model on one board. A wrong board or port fails at once; a model that fails (a bad
    file, a build error, a board that stops answering) gives an error record and the next model runs.
    `patches`: the patch setting the models are compiled with (passes/patch.py); `data`: run_on_data's
    keywords (data, metric, float_model, labels, limit) to run every model on a data set instead."""
    target = make_target(board, port, log=log, cpu=cpu)
    records = []
    for model in progress(models, desc=f"models on {board}"):
        try:
            c = compile_model(model, "model", target=target.cpu, patches=patches)
            run = partial(run_on_data, **data) if data else run_on_target
            records.append(run(c, target, n_inputs=n_inputs, seed=seed, per_layer=per_layer, log=log))
        except TinymlError as e:
            on_error(str(model), e)
            records.append(error_record(model, board, e))
    return records
