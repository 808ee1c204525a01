"""`train-check`: run the generated training C on the host for N steps and compare every step with
the float64 reference (training/reference.py).

Per step, the C must agree with the reference on
- the loss (relative 1e-4),
- every weight and bias gradient (each within GRAD_RTOL of that tensor's largest gradient
  magnitude, plus 1e-7: float32 sums in a different order),
- every updated integer value, exactly, except where the reference's update lies within that
  same float32 tolerance of a rounding boundary: then either neighbour is accepted, and counted.
The first step's forward activations must equal TFLite's own (the training forward is the
inference code; later steps run it with updated parameters TFLite does not have).
"""

from __future__ import annotations

import struct
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..hostbuild import HostBuildError, build_executable
from ..ir import Graph
from .program import TrainProgram
from .reference import StepRef, XorShift32, step_reference, writeback

GRAD_RTOL = 1e-4

HARNESS = r"""
/* train-check harness: argv[1] = steps (int32 n; then per step: input bytes, target, float lr),
 * argv[2] = trace records (int32 tag, a, b, nbytes; payload). */
#include <stdio.h>
#include <stdlib.h>
#include "PREFIX.h"

static FILE *tf;
static void rec(int32_t tag, int32_t a, int32_t b, const void *data, size_t n) {
    int32_t h[4];
    h[0] = tag; h[1] = a; h[2] = b; h[3] = (int32_t)n;
    fwrite(h, sizeof h, 1, tf);
    fwrite(data, 1, n, tf);
}
void tinyml_trace(int op_index, int tensor_index, const void *data, size_t bytes);
void tinyml_trace(int op_index, int tensor_index, const void *data, size_t bytes) { rec(1, op_index, tensor_index, data, bytes); }
void tinyml_train_trace(int32_t op, int32_t kind, int32_t index, float value) {
    struct { int32_t i; float v; } r;
    r.i = index; r.v = value;
    rec(2, op, kind, &r, sizeof r);
}

int main(int argc, char **argv) {
    FILE *in;
    int32_t n, s;
    int quiet = argc > 3; /* argv[3]: no per-step parameters, no trace (long host runs) */
    if (argc < 3) return 2;
    in = fopen(argv[1], "rb");
    tf = fopen(argv[2], "wb");
    if (!in || !tf || fread(&n, 4, 1, in) != 1) return 2;
    rec(3, -1, 0, PREFIX_params(), PREFIX_params_bytes());
    for (s = 0; s < n; ++s) {
        float lr, loss;
#ifdef PREFIX_TRAIN_LOSS_XENT
        int32_t label;
#else
        static float target[PREFIX_TARGET_SIZE];
#endif
        if (fread(PREFIX_input(0), 1, PREFIX_input_bytes(0), in) != PREFIX_input_bytes(0)) return 3;
#ifdef PREFIX_TRAIN_LOSS_XENT
        if (fread(&label, 4, 1, in) != 1) return 3;
#else
        if (fread(target, 4, PREFIX_TARGET_SIZE, in) != PREFIX_TARGET_SIZE) return 3;
#endif
        if (fread(&lr, 4, 1, in) != 1) return 3;
#ifdef PREFIX_TRAIN_LOSS_XENT
        loss = PREFIX_train_step(label, lr);
#else
        loss = PREFIX_train_step(target, lr);
#endif
        rec(4, s, 0, &loss, 4);
        if (!quiet) rec(3, s, 0, PREFIX_params(), PREFIX_params_bytes());
    }
    if (quiet) rec(3, n - 1, 0, PREFIX_params(), PREFIX_params_bytes());
    /* then evaluation inputs, if any: int32 m; m inputs; the outputs of invoke after training */
    if (fread(&n, 4, 1, in) == 1) {
        for (s = 0; s < n; ++s) {
            if (fread(PREFIX_input(0), 1, PREFIX_input_bytes(0), in) != PREFIX_input_bytes(0)) return 3;
            if (PREFIX_invoke() != 0) return 4;
            rec(5, s, 0, PREFIX_output(0), PREFIX_output_bytes(0));
        }
    }
    fclose(tf);
    return 0;
}
"""


def harness_source(prefix: str) -> str:
    return HARNESS.replace("PREFIX_TRAIN", prefix.upper() + "_TRAIN").replace("PREFIX_TARGET",
                                                                           prefix.upper() + "_TARGET").replace("PREFIX", prefix)


@dataclass
class StepTrace:
    acts: dict[int, np.ndarray] = field(default_factory=dict)
    grads: dict[tuple[int, int], dict[int, float]] = field(default_factory=dict)
    loss: float = float("nan")
    params_after: bytes = b""


def records(data: bytes):
    """(tag, a, b, payload) of each harness record: 1 tensor, 2 gradient, 3 parameters, 4 loss, 5 output."""
    pos = 0
    while pos + 16 <= len(data):
        tag, a, b, n = struct.unpack_from("<iiii", data, pos)
        pos += 16
        yield tag, a, b, data[pos:pos + n]
        pos += n


def parse_trace(data: bytes, g: Graph) -> tuple[bytes, list[StepTrace]]:
    initial, steps, cur = b"", [], StepTrace()
    for tag, a, b, payload in records(data):
        if tag == 1:
            t = g.t(b)
            cur.acts[b] = np.frombuffer(payload, dtype=np.int8 if t.dtype == "int8" else np.uint8).reshape(t.shape).copy()
        elif tag == 2:
            i, v = struct.unpack("<if", payload)
            cur.grads.setdefault((a, b), {})[i] = v
        elif tag == 4:
            cur.loss = struct.unpack("<f", payload)[0]
        elif tag == 3:
            if a < 0:
                initial = payload
            else:
                cur.params_after = payload
                steps.append(cur)
                cur = StepTrace()
    return initial, steps


def unpack_params(prog: TrainProgram, blob: bytes) -> dict[str, np.ndarray]:
    out = {}
    for p, off in prog.layout():
        dt = np.dtype({"int8": np.int8, "int32": np.int32, "float32": np.float32}[p.dtype])
        out[p.key] = np.frombuffer(blob, dtype=dt, count=p.data.size, offset=off).reshape(p.data.shape).copy()
    return out


@dataclass
class StepResult:
    ok: bool
    problems: list[str]
    near_boundary: int
    values: int
    max_grad_err: float


def compare_step(prog: TrainProgram, tr: StepTrace, before: dict[str, np.ndarray], after: dict[str, np.ndarray],
                 target: int | np.ndarray, lr: float, rng: XorShift32) -> StepResult:
    g = prog.graph
    weights = {int(k[1:]): v for k, v in before.items() if k.startswith("w")}
    ref = step_reference(prog, tr.acts, weights, target)
    problems: list[str] = []
    if not np.isclose(tr.loss, ref.loss, rtol=1e-4, atol=1e-6):
        problems.append(f"loss {tr.loss:.7g} != reference {ref.loss:.7g}")
    worst = 0.0
    near = values = 0
    for layer in prog.layers:
        if layer.func not in ("tinyml_train_conv2d_backward", "tinyml_train_depthwise_backward"):
            continue
        lp = layer.params
        o = g.ops[lp["op"]]
        u = prog.spec.layers.get(o.index)
        if u is None:
            continue
        res = _check_layer(prog, o, u, ref, tr, before, after, lr, rng, lp, problems)
        worst = max(worst, res[0])
        near += res[1]
        values += res[2]
    return StepResult(not problems, problems, near, values, worst)


def _grad_ok(name: str, c: dict[int, float], r: np.ndarray, idx: np.ndarray, problems: list[str]) -> float:
    """Check the C's gradients `c` at `idx` against the reference `r`; the largest error relative to
    the reference's largest magnitude."""
    flat = r.reshape(-1)
    cvals = np.array([c.get(int(i), np.nan) for i in idx])
    rvals = flat[idx]
    scale = float(np.max(np.abs(rvals))) if rvals.size else 0.0
    tol = GRAD_RTOL * scale + 1e-7
    err = np.abs(cvals - rvals)
    if np.any(~np.isfinite(cvals)) or np.any(err > tol):
        bad = int(np.argmax(np.where(np.isfinite(err), err, np.inf)))
        problems.append(f"{name} gradient [{int(idx[bad])}]: C {cvals[bad]:.7g}, reference {rvals[bad]:.7g} (tolerance {tol:.3g})")
    return float(np.nanmax(err)) / scale if scale > 0 and err.size else 0.0


def _check_layer(prog, o, u, ref: StepRef, tr: StepTrace, before, after, lr, rng, lp, problems):
    g = prog.graph
    rule, qas = prog.spec.rounding, prog.spec.qas
    x_t, w_t = o.inputs[0], o.inputs[1]
    s_x = float(g.t(x_t).quant.s)
    wq = g.t(w_t).quant
    out_c = lp["out_c"]
    s_w = wq.scale.astype(np.float64) if wq.scale.size > 1 else np.full(out_c, float(wq.scale[0]))
    w_step = 1.0 / s_w if qas else s_w
    b_step = 1.0 / (s_x * s_w) if qas else s_x * s_w
    worst, near, values = 0.0, 0, 0
    fc, dw = o.type == "FULLY_CONNECTED", o.type == "DEPTHWISE_CONV_2D"
    wkey = f"w{w_t}"
    if fc:
        bkey = f"l{o.index}_bias"
    else:
        bkey = f"w{o.inputs[2]}" if len(o.inputs) > 2 and o.inputs[2] >= 0 else None
    keep = lp["w_channels"]
    w_shape = g.t(w_t).shape
    # the C's order: per output channel, the bias then the weights (conv/FC: taps, then input channels)
    order: list[tuple[str, int, int]] = []
    for c in range(out_c):
        if u.bias:
            order.append(("b", c, c))
        if keep:
            if dw:
                if c // lp["depth_multiplier"] < keep:
                    for t in range(w_shape[1] * w_shape[2]):
                        order.append(("w", c, t * out_c + c))
            else:
                per = int(np.prod(w_shape[1:]))
                in_c = w_shape[-1]
                for j in range(per):
                    if j % in_c < keep:
                        order.append(("w", c, c * per + j))
    gw_ref = ref.grads.get((o.index, 0))
    gb_ref = ref.grads.get((o.index, 1))
    if keep and gw_ref is not None:
        idx = np.array([i for k, _, i in order if k == "w"], np.int64)
        worst = max(worst, _grad_ok(f"op {o.index} weights", tr.grads.get((o.index, 0), {}), gw_ref, idx, problems))
    if u.bias and gb_ref is not None:
        idx = np.arange(out_c)
        worst = max(worst, _grad_ok(f"op {o.index} bias", tr.grads.get((o.index, 1), {}), gb_ref, idx, problems))
    w_old = before.get(wkey, g.t(w_t).data).reshape(-1).astype(np.int64)
    w_new = after.get(wkey, g.t(w_t).data).reshape(-1).astype(np.int64)
    mw_old, mw_new = before.get("m_" + wkey), after.get("m_" + wkey)
    mb_old, mb_new = (before.get("m_" + bkey), after.get("m_" + bkey)) if bkey else (None, None)
    b_old = before[bkey].reshape(-1).astype(np.int64) if bkey in before else None
    b_new = after[bkey].reshape(-1).astype(np.int64) if bkey in after else None
    wdelta_int = np.zeros(out_c, np.int64)
    bias_changes: dict[int, tuple[int, int]] = {}
    for kind, c, i in order:
        if kind == "w":
            gr = float(gw_ref.reshape(-1)[i])
            scale = float(np.max(np.abs(gw_ref)))
            step = w_step[c]
            old, new, lo, hi = int(w_old[i]), int(w_new[i]), -127, 127
            m_old = float(mw_old.reshape(-1)[i]) if mw_old is not None else 0.0
        else:
            gr = float(gb_ref[c])
            scale = float(np.max(np.abs(gb_ref)))
            step = b_step[c]
            lo, hi = -(1 << 31), (1 << 31) - 1
            m_old = float(mb_old.reshape(-1)[c]) if mb_old is not None else 0.0
            if fc:  # the folded bias moves by the raw bias change: recover the raw values from the master or track it
                old, new = 0, None
            else:
                old, new = int(b_old[c]), int(b_new[c])
        u01 = rng.next() if rule == "stochastic" else 0.0
        tol_v = (GRAD_RTOL * scale + 1e-7) * step
        d = -lr * gr * step
        vkey = "v_" + (wkey if kind == "w" else (bkey or ""))
        if vkey in before:  # momentum: the velocity absorbs the step first
            vi = i if kind == "w" else c
            v_old = float(before[vkey].reshape(-1)[vi])
            v_ref = prog.spec.momentum * v_old + gr * step
            tol_v += 1e-6 * abs(v_old)
            v_new = float(after[vkey].reshape(-1)[vi])
            if abs(v_new - v_ref) > tol_v + 1e-6 * abs(v_ref):
                problems.append(f"op {o.index} {'weight' if kind == 'w' else 'bias'} [{vi}] velocity {v_new:.7g}, "
                                f"reference {v_ref:.7g}")
            d = -lr * v_ref
        tol = tol_v * lr
        lo_v, m_lo = writeback(rule, old, d - tol, u01, m_old, lo, hi)
        hi_v, m_hi = writeback(rule, old, d + tol, u01, m_old, lo, hi)
        lo_v, hi_v = min(lo_v, hi_v), max(lo_v, hi_v)
        if kind == "b" and fc:  # old = 0: lo_v/hi_v are the raw bias's change
            bias_changes[c] = (lo_v, hi_v)
            continue
        values += 1
        if lo_v != hi_v:
            near += 1
        if rule == "master":
            m_new = float((mw_new if kind == "w" else mb_new).reshape(-1)[i if kind == "w" else c])
            if not (min(m_lo, m_hi) - 1e-5 * (1 + abs(m_old)) <= m_new <= max(m_lo, m_hi) + 1e-5 * (1 + abs(m_old))):
                problems.append(f"op {o.index} {'weight' if kind == 'w' else 'bias'} [{i}] master {m_new} outside reference [{m_lo}, {m_hi}]")
        if not lo_v <= new <= hi_v:
            problems.append(f"op {o.index} {'weight' if kind == 'w' else 'bias'} [{i}]: {old} -> {new}, reference {lo_v}"
                            + (f"..{hi_v}" if hi_v != lo_v else ""))
        if kind == "w":
            wdelta_int[c] += new - old
    if fc and b_old is not None:
        fold = -int(g.t(x_t).quant.zp)
        for c in range(out_c):
            lo_d, hi_d = bias_changes.get(c, (0, 0))
            got = int(b_new[c]) - int(b_old[c]) - fold * int(wdelta_int[c])
            if c in bias_changes:
                values += 1
                near += lo_d != hi_d
            if not lo_d <= got <= hi_d:
                problems.append(f"op {o.index} folded bias [{c}]: changed by {got} (+ {fold} x weight changes), "
                                f"reference {lo_d}" + (f"..{hi_d}" if hi_d != lo_d else ""))
    return worst, near, values


def _round(v: float) -> int:
    return int(np.sign(v) * np.floor(abs(v) + 0.5))


@dataclass
class CheckReport:
    steps: int
    matched: int
    lines: list[str]
    losses: list[float]

    @property
    def ok(self) -> bool:
        return self.matched == self.steps


def run_check(compiled, steps: int = 10, seed: int = 0, lr: float = 0.05, workdir: Path | None = None,
              reference_model: bytes | None = None) -> CheckReport:
    """Build `compiled` (a pipeline.Compiled with .train) for the host and check `steps` steps."""
    prog: TrainProgram = compiled.train
    g = compiled.graph
    prefix = compiled.prefix
    rng_np = np.random.default_rng(seed)
    x_t = g.t(g.inputs[0])
    with tempfile.TemporaryDirectory(prefix="tinyml-train-") as tmp:
        wd = Path(workdir or tmp)
        exe = build_executable({**compiled.files, "train_main.c": harness_source(prefix)}, wd, name="train_check",
                               defines=("-DTINYML_TRACE", "-DTINYML_TRAIN_TRACE"))
        samples, targets = [], []
        blob = bytearray(struct.pack("<i", steps))
        for _ in range(steps):
            if x_t.dtype == "float32":
                lo, hi = _float_range(x_t)
                x = rng_np.uniform(lo, hi, x_t.shape).astype(np.float32)
            else:
                info = np.iinfo(np.int8 if x_t.dtype == "int8" else np.uint8)
                x = rng_np.integers(info.min, info.max + 1, x_t.shape).astype(np.int8 if x_t.dtype == "int8" else np.uint8)
            samples.append(x)
            blob += x.tobytes()
            lt = g.t(prog.loss_tensor)
            if prog.loss == "xent":
                t = int(rng_np.integers(0, lt.size))
                blob += struct.pack("<i", t)
            else:
                lo, hi = _float_range(lt)
                t = rng_np.uniform(lo, hi, lt.size).astype(np.float32)
                blob += t.tobytes()
            targets.append(t)
            blob += struct.pack("<f", lr)
        (wd / "steps.bin").write_bytes(bytes(blob))
        r = subprocess.run([str(exe), str(wd / "steps.bin"), str(wd / "trace.bin")], capture_output=True)
        if r.returncode != 0:
            raise HostBuildError(f"the training harness exited with {r.returncode}: {r.stderr.decode(errors='replace')[-2000:]}")
        initial, traces = parse_trace((wd / "trace.bin").read_bytes(), prog.graph)
    lines, matched, losses = [], 0, []
    before = unpack_params(prog, initial)
    rng = XorShift32()
    forward_problem = _forward_against_tflite(reference_model, g, samples[0], traces[0]) if reference_model and traces else ""
    lr32 = float(np.float32(lr))
    for k, tr in enumerate(traces):
        if x_t.dtype == "int8":
            tr.acts.setdefault(x_t.index, samples[k])
        after = unpack_params(prog, tr.params_after)
        res = compare_step(prog, tr, before, after, targets[k], lr32, rng)
        if k == 0 and forward_problem:
            res.problems.insert(0, forward_problem)
            res.ok = False
        matched += res.ok
        losses.append(tr.loss)
        status = "ok" if res.ok else "MISMATCH"
        lines.append(f"step {k + 1:3d}: loss {tr.loss:.5f}, {res.values} values updated/checked, "
                     f"{res.near_boundary} at a rounding boundary, max gradient error {res.max_grad_err:.2e} ... {status}")
        lines.extend("    " + p for p in res.problems[:5])
        before = after
    if len(traces) != steps:
        lines.append(f"the harness ran {len(traces)} of {steps} steps")
    lines.append(f"training matches reference: {matched}/{steps} steps")
    return CheckReport(steps, matched, lines, losses)


def _float_range(t) -> tuple[float, float]:
    if t.quant is None:
        return -1.0, 1.0
    s, zp = float(t.quant.s), int(t.quant.zp)
    return s * (-128 - zp), s * (127 - zp)


def _forward_against_tflite(model: bytes, g: Graph, x: np.ndarray, tr: StepTrace) -> str:
    from ..reference import Reference

    ref = Reference(model)
    ref.run([x])
    if ref.kind != "tflite-runtime":
        return ""
    for t, got in sorted(tr.acts.items()):
        want = ref.tensor(t)
        if want is not None and want.size == got.size and not np.array_equal(want.reshape(got.shape), got):
            # TFLite runs some ops (e.g. SOFTMAX) in place even with preserve_all_tensors: then its
            # tensor holds a consumer's output, which is compared as that consumer's
            later = [ref.tensor(o) for c in g.consumers(t) for o in c.outputs]
            if any(v is not None and v.size == want.size and np.array_equal(v.reshape(-1), want.reshape(-1)) for v in later):
                continue
            p = g.producer(t)
            return f"first forward differs from TFLite at tensor {t} ({p.describe() if p else 'input'})"
    return ""
