"""Bit-exact verification: generated C (host build) vs TFLite's reference interpreter."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .codegen.sanitize import hooks_source
from .hostbuild import HostModel, read_trace
from .ir import DTYPES, Graph
from .cpu import CpuFeatures
from .pipeline import Compiled, compile_model
from .reference import Reference, preferred_reference


# float32 outputs of kernels that call the C library's expf/logf/tanhf (float SOFTMAX, LOG_SOFTMAX,
# LOGISTIC, TANH) depend on that library: the host's glibc is TFLite's, so the host build matches
# exactly; a board's newlib may round those functions differently. An input whose integer outputs
# are identical and whose float outputs are within this many units in the last place counts as
# "within the float bound", reported apart from the bit-exact count.
FLOAT_ULP_BOUND = 8


@dataclass
class VerifyResult:
    identical: int
    total: int
    reference: str
    mismatch: str = ""  # description of the first differing operator, if any
    mismatched_inputs: list[int] = field(default_factory=list)
    float_within: int = 0  # inputs not identical, but integer outputs identical and floats within FLOAT_ULP_BOUND
    max_ulp: int = 0  # largest float32 output difference seen, in ULP

    @property
    def ok(self) -> bool:
        return self.identical + self.float_within == self.total


def _ordered(x: np.ndarray) -> np.ndarray:
    i = np.ascontiguousarray(x, np.float32).view(np.int32).astype(np.int64)
    return np.where(i < 0, -(1 << 31) - i, i)


def float_ulps(ours: list[np.ndarray], theirs: list[np.ndarray]) -> int | None:
    """Largest ULP distance over the float32 outputs, or None when an integer output differs (or
    counts, sizes, dtypes do). Two NaNs are equal."""
    if len(ours) != len(theirs):
        return None
    worst = 0
    for a, b in zip(ours, theirs):
        a, b = a.reshape(-1), b.reshape(-1)
        if a.size != b.size or a.dtype != b.dtype:
            return None
        if a.dtype != np.float32:
            if not np.array_equal(a, b):
                return None
            continue
        both_nan = np.isnan(a) & np.isnan(b)
        d = np.where(both_nan, 0, np.abs(_ordered(a) - _ordered(b)))
        worst = max(worst, int(d.max()) if d.size else 0)
    return worst


def _np_dtype(dtype: str) -> np.dtype:
    return np.dtype(DTYPES[dtype][1])


def random_inputs(g: Graph, n: int, seed: int) -> list[list[np.ndarray]]:
    """Random samples covering each input's full quantized range (floats: the range of the QUANTIZE that reads them)."""
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(n):
        sample = []
        for ti in g.inputs:
            t = g.t(ti)
            shape = t.shape  # () for a scalar input
            if t.dtype in ("int8", "uint8", "int16"):
                info = np.iinfo(_np_dtype(t.dtype))
                sample.append(rng.integers(info.min, info.max + 1, size=shape).astype(_np_dtype(t.dtype)))
            else:
                q = next((g.t(op.outputs[0]).quant for op in g.consumers(ti) if op.type == "QUANTIZE"), None)
                if q is not None:
                    levels = rng.integers(-128, 128, size=shape).astype(np.float64)
                    jitter = rng.uniform(-0.6, 0.6, size=shape)
                    x = (levels - q.zp + jitter) * q.s
                else:
                    x = rng.standard_normal(shape)
                sample.append(x.astype(np.float32))
        samples.append(sample)
    return samples


def verify_compiled(c: Compiled, n: int = 20, seed: int = 0, workdir: Path | None = None,
                    log: Callable[[str], None] = lambda s: None, sanitize: bool = False) -> VerifyResult:
    """`sanitize`: run the host build under ASan/UBSan with the arena poisoned outside each
    layer's tensors and scratch (codegen/sanitize.py); any stray access is a HostBuildError."""
    g = c.graph
    with open(g.path, "rb") as f:
        ref = Reference(f.read(), prefer=preferred_reference(op.type for op in g.ops), num_outputs=len(g.outputs),
                        num_inputs=len(g.inputs))
    log(f"reference: {ref.kind}" + (f" (not used: {'; '.join(ref.refused)})" if ref.refused else ""))
    samples = random_inputs(g, n, seed)
    in_specs = [(g.t(t).shape, _np_dtype(g.t(t).dtype)) for t in g.inputs]
    out_specs = [(g.t(t).shape, _np_dtype(g.t(t).dtype)) for t in g.outputs]
    with tempfile.TemporaryDirectory(prefix="tinyml-verify-") as tmp:
        wd = Path(workdir) if workdir else Path(tmp)
        hooks = hooks_source(g, c.layers, c.plan, c.prefix) if sanitize else None
        host = HostModel(c.files, c.prefix, wd, in_specs, out_specs, sanitize_hooks=hooks)
        ours = host.run(samples)
        identical, within, max_ulp, bad = 0, 0, 0, []
        for i, (s, o) in enumerate(zip(samples, ours)):
            r = ref.run(s)
            same = _identical(o, r)
            ulps = float_ulps(o, r)
            max_ulp = max(max_ulp, ulps or 0)
            if same:
                identical += 1
            elif ulps is not None and ulps <= FLOAT_ULP_BOUND:
                within += 1
                log(f"input {i}: integer outputs identical, float outputs within {ulps} ULP")
            else:
                bad.append(i)
                diffs = [np.abs(a.astype(np.float64) - b.reshape(a.shape).astype(np.float64)).max()
                         for a, b in zip(o, r) if a.size == b.size]
                log(f"input {i}: outputs differ" + (f" (max abs diff {max(diffs):g})" if diffs else " (count or size)"))
        result = VerifyResult(identical, len(samples), ref.kind, mismatched_inputs=bad, float_within=within,
                              max_ulp=max_ulp)
        if bad:
            result.mismatch = _first_bad_op(c, ref, samples[bad[0]], wd, in_specs, out_specs)
            log(result.mismatch)
    return result


def _identical(ours: list[np.ndarray], theirs: list[np.ndarray]) -> bool:
    """Every output present on both sides, same element count and dtype, every value equal."""
    if len(ours) != len(theirs):
        return False
    return all(a.size == b.size and a.dtype == b.dtype and np.array_equal(a.reshape(-1), b.reshape(-1))
               for a, b in zip(ours, theirs))


def _first_bad_op(c: Compiled, ref: Reference, sample: list[np.ndarray], wd: Path, in_specs, out_specs) -> str:
    """Re-run one failing input with per-layer tracing and name the first operator that differs."""
    g = c.graph
    traced = HostModel(c.files, c.prefix, wd, in_specs, out_specs, trace=True)
    trace_path = wd / "trace.bin"
    traced.run([sample], trace_path=trace_path)
    if any(t.variable for t in g.tensors):  # state tensors: both sides start this input from the initial state
        with open(g.path, "rb") as f:
            ref = Reference(f.read(), prefer=ref.kind, num_outputs=len(g.outputs), num_inputs=len(g.inputs))
    ref.run(sample)
    unreadable = 0
    for op_index, t, data in read_trace(trace_path):
        tensor = g.t(t)
        ours = np.frombuffer(data, _np_dtype(tensor.dtype))
        theirs = ref.tensor(t)
        if theirs is None:
            continue
        theirs = theirs.reshape(-1)
        if ours.size != theirs.size:
            unreadable += 1  # the interpreter did not keep this intermediate
            continue
        if not np.array_equal(ours, theirs):
            d = np.abs(ours.astype(np.float64) - theirs.astype(np.float64))
            return (f"first differing operator: #{op_index} {g.ops[op_index].type} (tensor {t} '{tensor.name}'): "
                    f"{int((d > 0).sum())}/{d.size} values differ, max abs diff {d.max():g}")
    if unreadable:
        return (f"the outputs differ; {ref.kind} did not expose {unreadable} intermediate tensor(s), "
                "so the first differing operator could not be located")
    return "the outputs differ but no intermediate tensor does (check output placement)"


def verify_model(path: str, n: int = 20, seed: int = 0, prefix: str = "model",
                 log: Callable[[str], None] = lambda s: None,
                 target: CpuFeatures | str | None = None, sanitize: bool = False, patches: Any = None,
                 max_overhead: float = 0.2, on_patches: Callable[[Any], None] = lambda stage: None) -> VerifyResult:
    """`target`: None verifies the portable kernels; CpuFeatures.host_optimized() the optimized
    kernels' plain-C path (what Cortex-M0+/M3 run), with their build-time folding and repacking."""
    c = compile_model(path, prefix, target=target, patches=patches, max_overhead=max_overhead)
    on_patches(c.patches)
    return verify_compiled(c, n=n, seed=seed, log=log, sanitize=sanitize)
