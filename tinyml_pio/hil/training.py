"""On-device fine-tuning through the HIL harness: the engine behind `tinyml-pio hil train`.

The board trains on samples the host streams to it (SET_INPUT, then TRAIN with the label or
target), and is scored on held-out samples before training and after each epoch (INVOKE,
GET_OUTPUT). At the end the host reads the board's parameters and replays the same sample
sequence through the host build of the same training C (training/simulate.py): the two must be
identical byte for byte, which proves the device computed exactly what the host build computes.
"""

from __future__ import annotations

import statistics
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..console import progress
from ..errors import TinymlError
from ..ir import DTYPES, Graph
from ..pipeline import Compiled, compile_model
from .client import HilClient, HilError
from .targets import Target, make_target
from .units import convert, fmt_ms, latency, timing_for, timing_record


@dataclass
class Dataset:
    x_train: np.ndarray  # model input dtype, one sample per row
    y_train: np.ndarray  # labels (int) or targets (float, real units of the output)
    x_test: np.ndarray
    y_test: np.ndarray


def load_data(path: str | Path, g: Graph, loss: str, limit_train: int | None = None,
              limit_test: int | None = None) -> Dataset:
    """data.npz with x_train, y_train, x_test, y_test; x float (quantized with the model's input
    parameters here) or already int8. For MSE models without y, the target is the input itself
    (autoencoders)."""
    try:
        with np.load(path) as f:
            arrays = {k: f[k] for k in f.files}
    except (OSError, ValueError) as e:
        raise TinymlError(f"--data {path}: cannot read it as a .npz file ({e}).",
                          hint="save it with numpy.savez(path, x_train=..., y_train=..., x_test=..., y_test=...).") from None
    need = ["x_train", "x_test"] + (["y_train", "y_test"] if loss == "xent" else [])
    missing = [k for k in need if k not in arrays]
    if missing:
        raise TinymlError(f"--data {path}: missing array(s) {', '.join(missing)}.",
                          hint="the file needs x_train, y_train, x_test, y_test (y may be left out for autoencoders).")
    t = g.t(g.inputs[0])
    shape = tuple(t.shape[1:]) if len(t.shape) > 1 and t.shape[0] == 1 else tuple(t.shape)

    def prep(x: np.ndarray, name: str) -> np.ndarray:
        x = np.asarray(x)
        if x.size % max(int(np.prod(shape)), 1) or len(x) == 0:
            raise TinymlError(f"--data {path}: {name} has shape {list(x.shape)}, which is not N samples of the model's "
                              f"input {list(t.shape)}.")
        x = x.reshape((-1,) + shape)
        if t.dtype == "float32":
            return x.astype(np.float32)
        if x.dtype.kind == "f":
            s, zp = float(t.quant.s), int(t.quant.zp)
            info = np.iinfo(DTYPES[t.dtype][1])
            return np.clip(np.round(x / s) + zp, info.min, info.max).astype(DTYPES[t.dtype][1])
        return x.astype(DTYPES[t.dtype][1])

    xtr, xte = prep(arrays["x_train"], "x_train"), prep(arrays["x_test"], "x_test")
    if loss == "xent":
        ytr, yte = np.asarray(arrays["y_train"]).astype(np.int64).reshape(-1), np.asarray(arrays["y_test"]).astype(np.int64).reshape(-1)
    else:
        def real(x: np.ndarray) -> np.ndarray:
            if x.dtype.kind == "f":
                return x.reshape(len(x), -1).astype(np.float32)
            return (float(t.quant.s) * (x.astype(np.float32) - int(t.quant.zp))).reshape(len(x), -1)

        ytr = np.asarray(arrays["y_train"], np.float32).reshape(len(xtr), -1) if "y_train" in arrays else real(xtr)
        yte = np.asarray(arrays["y_test"], np.float32).reshape(len(xte), -1) if "y_test" in arrays else real(xte)
    if len(ytr) != len(xtr) or len(yte) != len(xte):
        raise TinymlError(f"--data {path}: {len(xtr)} x_train for {len(ytr)} y_train, {len(xte)} x_test for {len(yte)} y_test.")
    if limit_train:
        xtr, ytr = xtr[:limit_train], ytr[:limit_train]
    if limit_test:
        xte, yte = xte[:limit_test], yte[:limit_test]
    return Dataset(xtr, ytr, xte, yte)


def _score(g: Graph, loss: str, outputs: list[np.ndarray], y: np.ndarray) -> float:
    """Accuracy (classification) or mean squared error (regression) of outputs in the model's dtype."""
    t = g.t(g.outputs[0])
    if loss == "xent":
        return float(np.mean([int(np.argmax(o.reshape(-1))) == int(l) for o, l in zip(outputs, y)]))
    real = [(o.astype(np.float64) if t.quant is None or t.dtype == "float32"
             else float(t.quant.s) * (o.astype(np.float64) - int(t.quant.zp))).reshape(-1) for o in outputs]
    return float(np.mean([np.mean((r - yy.reshape(-1)) ** 2) for r, yy in zip(real, y)]))


def order(n: int, epochs: int, seed: int) -> np.ndarray:
    """The sample sequence: each epoch a fresh permutation from one seeded generator."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.permutation(n) for _ in range(epochs)]) if n else np.zeros(0, np.int64)


def train_on_target(c: Compiled, target: Target, data: Dataset, epochs: int = 1, lr: float = 0.01, seed: int = 0,
                    per_layer: bool = False, timeout: float = 30.0,
                    log: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    if c.train is None:
        raise TinymlError("hil train needs a model compiled with an update scheme (--update).")
    g = c.graph
    prog = c.train
    if prog.loss == "mse" and data.y_train.shape[1] > 127:
        raise TinymlError(f"the MSE target has {data.y_train.shape[1]} values; the HIL TRAIN command carries at most 127.")
    fw = target.build(c, per_layer)
    seq = order(len(data.x_train), epochs, seed)
    out_t = g.t(g.outputs[0])
    out_dtype = np.dtype(DTYPES[out_t.dtype][1])
    curve, losses, cycles = [], [], []
    try:
        url = target.start(fw)
        with HilClient(url, timeout=timeout) as cl:
            info = cl.hello()
            if info.model_sha256 != g.sha256:
                raise HilError(f"the firmware on {target.name} runs model {info.model_sha256[:12]}…, expected {g.sha256[:12]}….")
            timing = timing_for(target.name, info.clock_source, info.clock_hz, fw.deterministic_clock)
            if not info.trains:
                raise HilError(f"the firmware on {target.name} was built without training.",
                               hint="rebuild the HIL firmware from a model converted with --train.")
            tinfo = cl.train_info()
            if tinfo.params_bytes != prog.params_bytes:
                raise HilError(f"the board has {tinfo.params_bytes} bytes of parameters; this build has {prog.params_bytes}.")

            def evaluate() -> float:
                outs = []
                for x in data.x_test:
                    cl.set_input(0, np.ascontiguousarray(x).tobytes())
                    status, _ = cl.invoke()
                    if status != 0:
                        raise HilError(f"invoke returned {status} on {target.name}")
                    outs.append(np.frombuffer(cl.get_output(0, out_t.nbytes), out_dtype))
                return _score(g, prog.loss, outs, data.y_test)

            before = evaluate()
            log(f"before training: {'accuracy' if prog.loss == 'xent' else 'mse'} {before:.4f}")
            curve.append(dict(epoch=0, samples=0, metric=before, mean_loss=None))
            n = len(data.x_train)
            for e in progress(range(epochs), desc=f"epochs on {target.name}"):
                ep_losses = []
                for i in seq[e * n:(e + 1) * n]:
                    cl.set_input(0, np.ascontiguousarray(data.x_train[i]).tobytes())
                    if prog.loss == "xent":
                        loss, cyc = cl.train_step(lr, label=int(data.y_train[i]))
                    else:
                        loss, cyc = cl.train_step(lr, target=data.y_train[i])
                    ep_losses.append(loss)
                    cycles.append(cyc)
                losses += ep_losses
                m = evaluate()
                curve.append(dict(epoch=e + 1, samples=(e + 1) * n, metric=m, mean_loss=float(np.nanmean(ep_losses))))
                log(f"epoch {e + 1}: mean loss {np.nanmean(ep_losses):.4f}, {'accuracy' if prog.loss == 'xent' else 'mse'} {m:.4f}")
            layers = cl.layer_cycles() if per_layer and info.per_layer else None
            mem = cl.memory()
            device_params = cl.read_params(tinfo.params_bytes)
            crc_ok = zlib.crc32(device_params) == cl.train_info().params_crc32
    finally:
        target.stop()
    host = _host_replay(c, data, seq, lr)
    identical = host == device_params and crc_ok
    metric = "accuracy" if prog.loss == "xent" else "mse"
    rec: dict[str, Any] = {
        "model": g.name, "model_sha256": g.sha256, "board": target.name, "kernels": fw.kernels,
        "update": prog.spec.text, "ops": prog.spec.ops, "rounding": prog.spec.rounding, "qas": prog.spec.qas,
        "lr": lr, "epochs": epochs, "seed": seed, "train_samples": len(data.x_train), "test_samples": len(data.x_test),
        "metric": metric,
        f"{metric}_before": curve[0]["metric"], f"{metric}_after": curve[-1]["metric"],
        "curve": curve, "losses": [float(v) for v in losses],
        "step": latency(timing, cycles) if cycles else None,  # in timing.unit (instructions / cycles / ns)
        "counter_ticks": {"step_median": int(statistics.median(cycles)) if cycles else None, "per_layer": layers},  # raw
        "per_layer": _per_layer(g, prog, [convert(timing, v) for v in layers] if layers is not None else None),
        "clock": {"source": info.clock_source, "hz": info.clock_hz, "deterministic": fw.deterministic_clock,
                  "unit": timing.unit},
        "timing": timing_record(timing, info.clock_source, info.clock_hz),
        "memory": {"arena_bytes": mem.arena_bytes, "training_arena_bytes": mem.train_arena_bytes,
                   "inference_arena_bytes": c.plan.arena_size, "params_bytes": mem.params_bytes,
                   "stack_peak_bytes": None if info.clock_source == "host-ns" else mem.stack_peak_bytes,  # None: not measured
                   "static_ram_bytes": fw.ram_bytes,
                   "flash_bytes": fw.flash_bytes,
                   "training_sram_bytes": mem.arena_bytes + mem.params_bytes},
        "params_identical": bool(identical), "params_crc32": f"{zlib.crc32(device_params):08x}",
        "retries": cl.retried,
    }
    if metric == "accuracy":
        rec["accuracy_before"], rec["accuracy_after"] = curve[0]["metric"], curve[-1]["metric"]
    return rec


def _per_layer(g: Graph, prog, layers: list[int] | None) -> list[dict[str, Any]] | None:
    """The last training step's cycles per operator: forward (the first n counts) and backward
    (the next n; 0 where an operator has no backward step)."""
    if layers is None:
        return None
    n = len(g.ops)
    back = set(prog.backward_of.values())
    fwd_ops = {l.op.index for l in prog.layers if l.op.index < n}
    return [dict(op=i, type=g.ops[i].type, forward=layers[i] if i in fwd_ops else None,
                 backward=layers[n + i] if i in back and n + i < len(layers) else None) for i in range(n)]


def _host_replay(c: Compiled, data: Dataset, seq: np.ndarray, lr: float) -> bytes:
    """The parameters the host build of the same training C ends with on the same sequence."""
    from ..training.simulate import simulate

    host = compile_model(c.graph.path, c.prefix, train=c.train.spec)
    return simulate(host, data.x_train[seq], data.y_train[seq], lr).params


def train_model(model: str | Path, board: str, update: Any, data_path: str | Path, port: str | None = None,
                epochs: int = 1, lr: float = 0.01, seed: int = 0, per_layer: bool = False,
                limit_train: int | None = None, limit_test: int | None = None,
                log: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    target = make_target(board, port, log=log)
    c = compile_model(model, "model", target=target.cpu, train=update)
    data = load_data(data_path, c.graph, c.train.loss, limit_train, limit_test)
    return train_on_target(c, target, data, epochs=epochs, lr=lr, seed=seed, per_layer=per_layer, log=log)


def markdown(rec: dict[str, Any]) -> str:
    m = rec["metric"]
    lines = [f"# on-device training: {rec['model']} on {rec['board']}", "",
             f"update `{rec['update']}` (ops {', '.join(map(str, rec['ops']))}), write-back {rec['rounding']}, "
             f"QAS {'on' if rec['qas'] else 'off'}, lr {rec['lr']}, {rec['epochs']} epoch(s) of {rec['train_samples']} "
             f"samples, scored on {rec['test_samples']}", "",
             f"| | {m} |", "|---|---:|"]
    for p in rec["curve"]:
        lines.append(f"| {'before' if p['epoch'] == 0 else 'after epoch %d' % p['epoch']} | {p['metric']:.4f} |")
    sc = rec["step"] or {}
    mem = rec["memory"]
    unit = rec["clock"]["unit"]
    stack = "not measured (host)" if mem["stack_peak_bytes"] is None else f"{mem['stack_peak_bytes']:,} B"
    when = (f", {fmt_ms(sc['ms']['median'])}" if "ms" in sc else
            f", ~{fmt_ms(sc['estimate_ms']['median'])} ({sc['estimate_assumption']})" if "estimate_ms" in sc else "")
    lines += ["", f"- step: median {sc.get('median', 0):,} {unit}{when} (min {sc.get('min', 0):,}, max {sc.get('max', 0):,})",
              f"- {rec['timing']['how']}",
              f"- SRAM: arena {mem['arena_bytes']:,} B (training plan {mem['training_arena_bytes']:,}, inference plan "
              f"{mem['inference_arena_bytes']:,}) + parameters {mem['params_bytes']:,} B; stack peak "
              f"{stack}; static RAM {mem['static_ram_bytes'] or 0:,} B; flash {mem['flash_bytes'] or 0:,} B",
              f"- parameters identical to the host build's: {'yes' if rec['params_identical'] else 'NO'} "
              f"(CRC-32 {rec['params_crc32']})"]
    if rec.get("per_layer"):
        lines += ["", f"| op | type | forward ({unit}) | backward + update ({unit}) |", "|---:|---|---:|---:|"]
        lines += [f"| {r['op']} | {r['type']} | {'' if r['forward'] is None else format(r['forward'], ',')} | "
                  f"{'' if r['backward'] is None else format(r['backward'], ',')} |" for r in rec["per_layer"]]
    return "\n".join(lines)


def plot(rec: dict[str, Any], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [p["samples"] for p in rec["curve"]]
    ys = [p["metric"] for p in rec["curve"]]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(xs, ys, marker="o", label=f"{rec['update']} ({rec['rounding']})")
    ax.set_xlabel("training samples seen on the device")
    ax.set_ylabel("test accuracy" if rec["metric"] == "accuracy" else "test MSE")
    ax.set_title(f"{rec['model']} on {rec['board']}")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
