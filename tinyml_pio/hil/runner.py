"""Run a model on a board through the HIL protocol and measure it: the engine behind
`tinyml-pio hil run` and hil_tests/."""

from __future__ import annotations

import hashlib
import statistics
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..cpu import CpuFeatures
from ..errors import TinymlError
from ..ir import DTYPES
from ..pipeline import Compiled, compile_model
from ..reference import reference_for
from ..verify import FLOAT_ULP_BOUND, float_ulps, random_inputs
from .client import HilClient, HilError
from .targets import Target, make_target


def run_on_target(c: Compiled, target: Target, n_inputs: int = 10, seed: int = 0, per_layer: bool = False,
                  timeout: float = 10.0, log: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    """Build, start, check identity, run `n_inputs` random inputs, compare with the TFLite reference."""
    if n_inputs < 1:
        raise TinymlError(f"the number of inputs must be at least 1 (got {n_inputs}).")
    g = c.graph
    fw = target.build(c, per_layer)  # generated for the target's CPU (kernel variants)
    ref = reference_for(g)
    samples = random_inputs(g, n_inputs, seed)
    try:
        url = target.start(fw)  # inside: whatever start got running is stopped, even when start fails half-way
        with HilClient(url, timeout=timeout) as cl:
            info = cl.hello()
            if info.model_sha256 != g.sha256:
                raise HilError(f"the firmware on {target.name} runs model {info.model_sha256[:12]}…, expected {g.sha256[:12]}….",
                               hint="rebuild and flash the HIL firmware for this model.")
            cycles, identical, within, max_ulp = [], 0, 0, 0
            for i, sample in enumerate(samples):
                for k, x in enumerate(sample):
                    cl.set_input(k, np.ascontiguousarray(x).tobytes())
                status, cyc = cl.invoke()
                if status != 0:
                    raise HilError(f"invoke returned {status} on {target.name}")
                cycles.append(cyc)
                expect = [e.reshape(-1) for e in ref.run(sample)]
                got = [np.frombuffer(cl.get_output(k, g.t(t).nbytes), np.dtype(DTYPES[g.t(t).dtype][1]))
                       for k, t in enumerate(g.outputs)]
                same = len(got) == len(expect) and all(np.array_equal(a, b) for a, b in zip(got, expect))
                ulps = float_ulps(got, expect)
                max_ulp = max(max_ulp, ulps or 0)
                close = not same and ulps is not None and ulps <= FLOAT_ULP_BOUND
                identical += same
                within += close
                log(f"input {i}: {cyc} cycles, "
                    + ("identical" if same else f"floats within {ulps} ULP" if close else "DIFFERENT"))
            mem = cl.memory()
            layers = cl.layer_cycles() if per_layer and info.per_layer else None
    finally:
        target.stop()
    macs = c.macs
    med = int(statistics.median(cycles))
    return {
        "model": g.name,
        "model_sha256": g.sha256,
        "board": target.name,
        "kernels": fw.kernels,
        "clock": {"source": info.clock_source, "hz": info.clock_hz,
                  "deterministic": fw.deterministic_clock,
                  "note": ("QEMU -icount: ticks follow the executed instruction count" if fw.deterministic_clock
                           else "")},
        "latency_cycles": {"min": min(cycles), "median": med, "max": max(cycles)},
        "per_layer_cycles": layers,
        "arena_bytes": mem.arena_bytes,
        "planned_arena_bytes": c.plan.arena_size,
        "linked_arena_bytes": fw.arena_bytes,
        "stack_peak_bytes": mem.stack_peak_bytes,
        "stack_size_bytes": mem.stack_size_bytes,
        "ram_bytes": fw.ram_bytes,
        "flash_bytes": fw.flash_bytes,
        "bit_exact": f"{identical}/{len(samples)}",
        "identical": identical,
        "float_within_bound": within,  # not identical, integer outputs identical, floats within FLOAT_ULP_BOUND
        "max_float_ulp": max_ulp,
        "inputs": len(samples),
        "macs": macs,
        "macs_per_cycle": macs / med if med else 0.0,
        "reference": ref.kind,
        "retries": cl.retried,
        "patches": c.patches.summary() if c.patches is not None else None,
    }


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
               patches: str | None = None) -> list[dict[str, Any]]:
    """Each model on one board. A wrong board or port fails at once; a model that fails (a bad
    file, a build error, a board that stops answering) gives an error record and the next model runs.
    `patches`: the patch setting the models are compiled with (passes/patch.py)."""
    target = make_target(board, port, log=log, cpu=cpu)
    records = []
    for model in models:
        try:
            c = compile_model(model, "model", target=target.cpu, patches=patches)
            records.append(run_on_target(c, target, n_inputs=n_inputs, seed=seed, per_layer=per_layer, log=log))
        except TinymlError as e:
            on_error(str(model), e)
            records.append(error_record(model, board, e))
    return records
