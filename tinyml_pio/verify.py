"""Bit-exact verification: generated C (host build) vs TFLite's reference interpreter."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .codegen.sanitize import hooks_source
from .console import progress
from .errors import TinymlError
from .hostbuild import HostBuildError, HostModel, read_trace
from .ir import DTYPES, Graph
from .cpu import CpuFeatures
from .pipeline import Compiled, compile_model
from .reference import Reference, reference_for


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
    outputs: list[list[np.ndarray]] = field(default_factory=list, repr=False)  # the host build's, per input
    reference_outputs: list[list[np.ndarray]] = field(default_factory=list, repr=False)  # TFLite's, per input
    skipped: str = ""  # why nothing was compared (user kernels without a Python reference)

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
                qt = next((g.t(op.outputs[0]) for op in g.consumers(ti) if op.type == "QUANTIZE"), None)
                q = qt.quant if qt is not None else None
                if q is not None:
                    lo, hi = (-32768, 32768) if qt.dtype == "int16" else (-128, 128)  # 16x8: int16's range
                    levels = rng.integers(lo, hi, size=shape).astype(np.float64)
                    jitter = rng.uniform(-0.6, 0.6, size=shape)
                    x = (levels - q.zp + jitter) * q.s
                else:
                    x = rng.standard_normal(shape)
                sample.append(x.astype(np.float32))
        samples.append(sample)
    return samples


def verify_compiled(c: Compiled, n: int = 20, seed: int = 0, workdir: Path | None = None,
                    log: Callable[[str], None] = lambda s: None, sanitize: bool = False,
                    samples: list[list[np.ndarray]] | None = None,
                    custom_refs: list[str] | None = None, custom_sources: list[str] | None = None) -> VerifyResult:
    """`sanitize`: run the host build under ASan/UBSan with the arena poisoned outside each
    layer's tensors and scratch (codegen/sanitize.py); any stray access is a HostBuildError.
    `samples`: the inputs to compare (the user's data, accuracy.load_data) instead of `n` random ones.

    Models with user kernels (--custom-op) are verified against reference_custom.PiecewiseReference
    when `custom_refs` gives their Python references (`custom_sources`: the kernels' C files), and
    skipped (VerifyResult.skipped says why) when it does not."""
    g = c.graph
    user = {l.op.index for l in c.layers if l.returns_status}
    if user and not custom_refs:
        ops = ", ".join(f"{g.ops[i].describe()} -> {l.func}" for i in sorted(user) for l in c.layers
                        if l.op.index == i)
        return VerifyResult(0, 0, "", skipped=f"not verified: user kernels ({ops}) have no Python reference; "
                            "give --custom-ref [NAME=]module.py:function and --custom-src kernel.c to verify")
    if user:
        from .errors import UsageError
        from .reference_custom import PiecewiseReference, load_custom_refs

        if not custom_sources:
            raise UsageError("--custom-ref needs the kernels' C files too: the host build links "
                             + ", ".join(sorted({l.func for l in c.layers if l.returns_status and l.func})) + ".",
                             hint="add --custom-src FILE.c for each file that defines them.")

        with open(g.path, "rb") as f:
            ref: Any = PiecewiseReference(g, f.read(), load_custom_refs(custom_refs), user)
    else:
        ref = reference_for(g)
    log(f"reference: {ref.kind}" + (f" (not used: {'; '.join(ref.refused)})" if ref.refused else ""))
    samples = random_inputs(g, n, seed) if samples is None else samples
    in_specs = [(g.t(t).shape, _np_dtype(g.t(t).dtype)) for t in g.inputs]
    out_specs = [(g.t(t).shape, _np_dtype(g.t(t).dtype)) for t in g.outputs]
    with tempfile.TemporaryDirectory(prefix="tinyml-verify-") as tmp:
        wd = Path(workdir) if workdir else Path(tmp)
        hooks = hooks_source(g, c.layers, c.plan, c.prefix) if sanitize else None
        files = {**c.files, **user_sources(custom_sources)}
        try:
            host = HostModel(files, c.prefix, wd, in_specs, out_specs, sanitize_hooks=hooks)
        except HostBuildError as e:
            if not custom_sources:
                raise
            raise TinymlError(str(e.args[0]), hint="the host build includes your --custom-src files (built with "
                              "-std=c99 -Wall -Wextra -Werror against library/include/tinyml/custom_op.h): fix "
                              "them; if the error is in the generated code, report it.") from None
        ours = host.run(samples)
        identical, within, max_ulp, bad, refs = 0, 0, 0, [], []
        for i, (s, o) in enumerate(progress(zip(samples, ours), total=len(samples), desc="verify vs TFLite")):
            r = ref.run(s)
            refs.append([np.array(a, copy=True) for a in r])
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
                              max_ulp=max_ulp, outputs=ours, reference_outputs=refs)
        if bad:
            result.mismatch = _first_bad_op(c, files, ref, samples[bad[0]], wd, in_specs, out_specs)
            log(result.mismatch)
    return result


def _identical(ours: list[np.ndarray], theirs: list[np.ndarray]) -> bool:
    """Every output present on both sides, same element count and dtype, every value equal."""
    if len(ours) != len(theirs):
        return False
    return all(a.size == b.size and a.dtype == b.dtype and np.array_equal(a.reshape(-1), b.reshape(-1))
               for a, b in zip(ours, theirs))


def user_sources(paths: list[str] | None) -> dict[str, str]:
    """The user kernels' C files, named so they cannot collide with the generated ones."""
    files = {}
    for i, p in enumerate(paths or []):
        try:
            files[f"user{i}_{Path(p).name}"] = Path(p).read_text()
        except (OSError, UnicodeDecodeError) as e:
            raise TinymlError(f"cannot read --custom-src {p}: {e}.", hint="give the C file of your kernel.") from None
    return files


def _first_bad_op(c: Compiled, files: dict[str, str], ref: Any, sample: list[np.ndarray], wd: Path, in_specs,
                  out_specs) -> str:
    """Re-run one failing input with per-layer tracing and name the first operator that differs."""
    g = c.graph
    traced = HostModel(files, c.prefix, wd, in_specs, out_specs, trace=True)
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
                 max_overhead: float = 0.2, on_patches: Callable[[Any], None] = lambda stage: None,
                 samples: Callable[[Graph], list[list[np.ndarray]]] | None = None,
                 custom_ops: Any = None, custom_refs: list[str] | None = None,
                 custom_sources: list[str] | None = None) -> VerifyResult:
    """`target`: None verifies the portable kernels; CpuFeatures.host_optimized() the optimized
    kernels' plain-C path (what Cortex-M0+/M3 run), with their build-time folding and repacking.
    `samples`: called with the graph, gives the inputs to compare instead of `n` random ones."""
    c = compile_model(path, prefix, target=target, patches=patches, max_overhead=max_overhead, custom_ops=custom_ops)
    on_patches(c.patches)
    return verify_compiled(c, n=n, seed=seed, log=log, sanitize=sanitize,
                           samples=samples(c.graph) if samples is not None else None,
                           custom_refs=custom_refs, custom_sources=custom_sources)
