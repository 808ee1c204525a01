"""The host training simulator: the generated training C itself, compiled for the host, fed a
sample sequence. The device runs the same C, so its final parameters must equal these (the HIL
training run checks that); `auto:BYTES` and the benchmarks use it to compare schemes on data."""

from __future__ import annotations

import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..hostbuild import HostBuildError, build_executable
from .check import harness_source, records


@dataclass
class SimResult:
    losses: list[float]
    params: bytes  # the parameters after the last step
    outputs: list[np.ndarray]  # model output 0 for each evaluation input, after training


def simulate(compiled, x: np.ndarray, y: np.ndarray, lr: float, x_eval: np.ndarray | None = None,
             workdir: Path | None = None) -> SimResult:
    """Train on samples x[i] (model input dtype) with labels/targets y[i], then run x_eval."""
    g = compiled.graph
    prog = compiled.train
    out_t = g.t(g.outputs[0])
    with tempfile.TemporaryDirectory(prefix="tinyml-sim-") as tmp:
        wd = Path(workdir or tmp)
        exe = build_executable({**compiled.files, "train_main.c": harness_source(compiled.prefix)}, wd, name="train_sim")
        blob = bytearray(struct.pack("<i", len(x)))
        for xi, yi in zip(x, y):
            blob += np.ascontiguousarray(xi).tobytes()
            blob += struct.pack("<i", int(yi)) if prog.loss == "xent" else np.asarray(yi, np.float32).tobytes()
            blob += struct.pack("<f", lr)
        evals = [] if x_eval is None else list(x_eval)
        blob += struct.pack("<i", len(evals))
        for xi in evals:
            blob += np.ascontiguousarray(xi).tobytes()
        (wd / "steps.bin").write_bytes(bytes(blob))
        r = subprocess.run([str(exe), str(wd / "steps.bin"), str(wd / "trace.bin"), "quiet"], capture_output=True)
        if r.returncode != 0:
            raise HostBuildError(f"the training simulator exited with {r.returncode}: "
                                 f"{r.stderr.decode(errors='replace')[-2000:]}")
        data = (wd / "trace.bin").read_bytes()
    losses, outputs, params = [], [], b""
    dt = np.dtype(np.float32) if out_t.dtype == "float32" else np.dtype(np.int8 if out_t.dtype == "int8" else np.uint8)
    for tag, a, _, payload in records(data):
        if tag == 4:
            losses.append(struct.unpack("<f", payload)[0])
        elif tag == 3 and a >= 0:
            params = payload
        elif tag == 5:
            outputs.append(np.frombuffer(payload, dt).reshape(out_t.shape).copy())
    return SimResult(losses, params, outputs)
