"""Mutated .tflite files and the contract every front door keeps on them (tests/test_fuzz_models.py,
benchmarks/fuzz_models.py).

A mutant is a real model with one edit: byte-level (flips, truncation, zeroed runs) or structured
through the flatbuffers object API of the schema module tflite-micro ships (shapes, tensor indices,
buffers, quantization, options, graph structure). The contract: a command either succeeds or exits
with our error (exit code 1, one paragraph, no traceback), in bounded time, writing nothing on error.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import random
import signal
import tempfile
from pathlib import Path
from typing import Callable

import flatbuffers
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from conftest import ROOT, SHARED_MODELS, ZOO

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
EVIL_INTS = [-(1 << 31), -2, -1, 0, 1, 2, 3, 7, 46341, 65536, (1 << 31) - 1]
EVIL_SCALES = [float("nan"), float("inf"), -float("inf"), 0.0, -1.0, 1e-45, 1e-38, 1e38, 3e38]
EVIL_ZPS = [-(1 << 40), -(1 << 31), -129, 128, 256, 32768, (1 << 31), (1 << 40)]


def seed_models(shared: bool = True) -> list[Path]:
    """The models mutated: the repository's test models, plus ../shared/models when present."""
    models = sorted(ZOO.glob("*.tflite")) + sorted((ROOT / "example_projects").glob("*/models/*.tflite"))
    if shared and SHARED_MODELS.is_dir():
        models += sorted(SHARED_MODELS.glob("*.tflite"))
    return models


# ---- byte-level -------------------------------------------------------------------------------

def flip_bytes(buf: bytes, rng: random.Random) -> bytes:
    b = bytearray(buf)
    for _ in range(rng.choice([1, 2, 8, 32])):
        i = rng.randrange(len(b))
        b[i] = rng.choice([0, 0xFF, b[i] ^ (1 << rng.randrange(8)), rng.randrange(256)])
    return bytes(b)


def truncate(buf: bytes, rng: random.Random) -> bytes:
    return buf[: rng.randrange(len(buf))]


def zero_run(buf: bytes, rng: random.Random) -> bytes:
    i = rng.randrange(len(buf))
    n = rng.choice([4, 16, 256, 4096])
    return buf[:i] + bytes(min(n, len(buf) - i)) + buf[i + n:]


# ---- structured (object API) ------------------------------------------------------------------

def _pack(m: "schema.ModelT") -> bytes:
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def _lst(v) -> list:
    """A vector field of the object API (None, a list or a numpy array) as a list."""
    return [] if v is None else [x.item() if hasattr(x, "item") else x for x in v]


def _pick_int(rng: random.Random, n: int) -> int:
    return rng.choice(EVIL_INTS + [n, n + 1, rng.randrange(max(n, 1))])


def edit_shape(m, sg, rng: random.Random) -> None:
    t = rng.choice(sg.tensors)
    t.shape = _lst(t.shape)
    if not t.shape or rng.random() < 0.2:
        t.shape = [rng.choice(EVIL_INTS) for _ in range(rng.randrange(6))]
    else:
        t.shape[rng.randrange(len(t.shape))] = rng.choice(EVIL_INTS + [t.shape[0] * 2])


def edit_index(m, sg, rng: random.Random) -> None:
    ops = [o for o in sg.operators if len(_lst(o.inputs))] or sg.operators
    o = rng.choice(ops)
    which = "inputs" if rng.random() < 0.6 else "outputs"
    lst = _lst(getattr(o, which))
    if not lst or rng.random() < 0.15:
        lst = [] if rng.random() < 0.5 else lst + [_pick_int(rng, len(sg.tensors))]
    else:
        lst[rng.randrange(len(lst))] = _pick_int(rng, len(sg.tensors))
    setattr(o, which, lst)


def edit_buffer(m, sg, rng: random.Random) -> None:
    t = rng.choice(sg.tensors)
    if rng.random() < 0.5:
        t.buffer = _pick_int(rng, len(m.buffers or []))  & 0xFFFFFFFF  # a uint32 field
        return
    full = [b for b in (m.buffers or []) if len(_lst(b.data))]
    if full:
        b = rng.choice(full)
        data = _lst(b.data)
        b.data = data[: rng.randrange(len(data))] if rng.random() < 0.6 else data + [rng.randrange(256)] * rng.choice([1, 3, 4, 64])


def edit_quant(m, sg, rng: random.Random) -> None:
    qs = [t for t in sg.tensors if t.quantization is not None and len(_lst(t.quantization.scale))]
    if not qs:
        return
    q = rng.choice(qs).quantization
    kind = rng.randrange(4)
    if kind == 0:
        q.scale = _lst(q.scale)
        q.scale[rng.randrange(len(q.scale))] = rng.choice(EVIL_SCALES)
    elif kind == 1:
        zp = _lst(q.zeroPoint) or [0]
        zp[rng.randrange(len(zp))] = rng.choice(EVIL_ZPS)
        q.zeroPoint = zp
    elif kind == 2:
        q.quantizedDimension = rng.choice(EVIL_INTS)
    else:
        scale = _lst(q.scale)
        n = rng.choice([0, 1, 2, len(scale) + 1])
        q.scale = (scale * (n + 1))[:n]


_OPTION_FIELDS = ["padding", "fusedActivationFunction", "strideW", "strideH", "dilationWFactor", "dilationHFactor",
                  "filterWidth", "filterHeight", "depthMultiplier", "axis", "beta", "keepDims", "alpha", "weightsFormat"]


_BYTE_FIELDS = {"padding": [-128, -1, 2, 7, 127], "fusedActivationFunction": [-1, 4, 5, 6, 7, 127],
                "weightsFormat": [1, 2, 100], "keepDims": [True, False]}  # int8 / bool fields


def edit_options(m, sg, rng: random.Random) -> None:
    with_opts = [o for o in sg.operators if o.builtinOptions is not None]
    if not with_opts:
        return
    o = rng.choice(with_opts)
    if rng.random() < 0.15:
        o.builtinOptionsType, o.builtinOptions = 0, None
        return
    fields = [f for f in _OPTION_FIELDS if hasattr(o.builtinOptions, f)]
    if fields:
        f = rng.choice(fields)
        value = rng.choice(_BYTE_FIELDS.get(f, EVIL_INTS + [4, 5, 6, 100]))
        setattr(o.builtinOptions, f, float(value) if isinstance(getattr(o.builtinOptions, f), float) else value)


def edit_graph(m, sg, rng: random.Random) -> None:
    kind = rng.randrange(6)
    ops = sg.operators
    if kind == 0 and len(ops) > 1:  # swap two operators: execution order broken (or a cycle)
        i, j = rng.sample(range(len(ops)), 2)
        ops[i], ops[j] = ops[j], ops[i]
    elif kind == 1:  # duplicate an operator: two producers of its outputs
        ops.insert(rng.randrange(len(ops) + 1), rng.choice(ops))
    elif kind == 2:  # feed an operator its own output
        o = rng.choice(ops)
        ins, outs = _lst(o.inputs), _lst(o.outputs)
        if ins and outs:
            o.inputs = [outs[0]] + ins[1:]
    elif kind == 3:
        sg.inputs = [] if rng.random() < 0.5 else [_pick_int(rng, len(sg.tensors))]
    elif kind == 4:
        sg.outputs = [] if rng.random() < 0.5 else _lst(sg.outputs) + [_pick_int(rng, len(sg.tensors))]
    elif len(ops) > 1:  # drop an operator: its consumers read a tensor nobody writes
        del ops[rng.randrange(len(ops))]
    if kind != 0 and ops:
        o = rng.choice(ops)
        o.opcodeIndex = o.opcodeIndex if rng.random() < 0.9 else _pick_int(rng, len(m.operatorCodes or [])) & 0xFFFFFFFF


STRUCTURED: dict[str, Callable] = {"shape": edit_shape, "index": edit_index, "buffer": edit_buffer,
                                   "quant": edit_quant, "options": edit_options, "graph": edit_graph}
BYTES: dict[str, Callable[[bytes, random.Random], bytes]] = {"flip": flip_bytes, "truncate": truncate,
                                                             "zero": zero_run}
KINDS = sorted(STRUCTURED) + sorted(BYTES)


def mutate(buf: bytes, kind: str, seed: int) -> bytes:
    """One mutant of `buf`: the same (kind, seed) always gives the same bytes."""
    rng = random.Random(seed)
    if kind in BYTES:
        return BYTES[kind](buf, rng)
    for _ in range(8):  # an edit whose value the field's type cannot hold is drawn again
        m = schema.ModelT.InitFromPackedBuf(buf, 0)
        for _ in range(rng.choice([1, 1, 1, 2])):
            STRUCTURED[kind](m, m.subgraphs[0], rng)
        try:
            return _pack(m)
        except (TypeError, OverflowError):
            continue
    return buf


# ---- the contract -------------------------------------------------------------------------------

class Hang(Exception):
    """The command outlived its time budget."""


def _alarm(signum, frame):
    raise Hang()


def run_command(command: str, model: Path, workdir: Path, timeout: int = 60) -> tuple[str, str]:
    """Run one CLI command in-process: ("ok" | "error" | "fail" | "hang" | "traceback", detail).

    "error" is our clean error (exit 1, no traceback, nothing written); "fail" is a verify that ran
    but was not bit-exact (exit 1); anything else breaks the contract."""
    from tinyml_pio.cli import main

    out = workdir / f"out-{command}"  # each command its own: "nothing written" is per command
    args = {"convert": ["convert", str(model), "-o", str(out)], "inspect": ["inspect", str(model)],
            "convert-m4": ["convert", str(model), "-o", str(out), "--target", "cortex-m4"],  # optimized kernels
            "plan": ["plan", str(model)], "verify": ["verify", str(model), "--inputs", "2"],
            "verify-sanitize": ["verify", str(model), "--inputs", "2", "--sanitize"]}[command]
    stdout, stderr = io.StringIO(), io.StringIO()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(timeout)
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            rc = main(args)
    except Hang:
        return "hang", f"{command} took more than {timeout} s"
    except BaseException as e:  # the contract is broken: say where
        import traceback

        return "traceback", f"{command}: {type(e).__name__}: {e}\n" + "".join(traceback.format_tb(e.__traceback__)[-3:])
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    err = stderr.getvalue()
    if rc == 0:
        return "ok", ""
    written = out.exists() and any(out.iterdir())
    if rc == 1 and "Traceback" not in err and err.startswith("error: ") and "What to do:" in err and not written:
        return "error", err.splitlines()[0][:160]
    if command.startswith("verify") and rc == 1 and "bit-exact:" in stdout.getvalue() and "Traceback" not in err:
        return "fail", stdout.getvalue().strip().splitlines()[-1]
    return "traceback", f"{command}: exit {rc}, written={written}: {err[:300]}"


def check_mutant(data: bytes, commands: list[str], timeout: int = 60) -> list[tuple[str, str, str]]:
    """Write the mutant to a fresh directory and run each command on it: [(command, outcome, detail)]."""
    with tempfile.TemporaryDirectory(prefix="tinyml-fuzz-") as tmp:
        path = Path(tmp) / "mutant.tflite"
        path.write_bytes(data)
        results = []
        for c in commands:
            outcome, detail = run_command(c, path, Path(tmp), timeout)
            results.append((c, outcome, detail))
        return results


def check_mutant_isolated(data: bytes, commands: list[str], timeout: int = 60) -> list[tuple[str, str, str]]:
    """check_mutant in a forked child, so a crash (a signal, e.g. inside a reference interpreter)
    is an outcome ("crash") instead of the end of the fuzz run."""
    ctx = multiprocessing.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=lambda: send.send(check_mutant(data, commands, timeout)), daemon=True)
    child.start()
    send.close()
    results = None
    if recv.poll(timeout * len(commands) + 30):
        with contextlib.suppress(EOFError):
            results = recv.recv()
    child.join(5)
    if child.is_alive():
        child.kill()
        child.join()
        return [(commands[0], "hang", "the child did not finish")]
    if results is None:
        return [(commands[0], "crash", f"the process died with exit code {child.exitcode}")]
    return results
