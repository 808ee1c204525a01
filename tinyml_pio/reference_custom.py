"""The reference for models with custom operators: TFLite's interpreters cannot run an operator they
do not know, so the model is cut at its custom operators. Each run of builtin operators becomes a
model of its own, run by TFLite's reference kernels (reference.Reference); each custom operator
runs the user's Python function (`verify --custom-ref module.py:function`).

A cut model reuses the original file untouched: a new Model and SubGraph table, written in front
of the original bytes, point forward into its tensors, buffers, operator codes and operators
(flatbuffer offsets are unsigned and point forward, so no table is copied or re-encoded).
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from pathlib import Path
from typing import Any, Callable

import flatbuffers
import numpy as np
import tflite

from .custom_ops import op_key
from .errors import TinymlError, UsageError
from .ir import DTYPES, Graph, Op
from .reference import Reference, preferred_reference

CustomRef = Callable[[list[np.ndarray], bytes, dict[str, Any]], Any]


def _field(table: Any, slot: int) -> int:
    """Absolute position of the vector in `table`'s field at vtable slot `slot` (its length word)."""
    o = table._tab.Offset(slot)
    if not o:
        raise TinymlError("the model lacks a table the reference needs.", hint="re-export the model.")
    return table._tab.Vector(o) - 4


def cut_model(buf: bytes, ops: list[int], inputs: list[int], outputs: list[int]) -> bytes:
    """The model with only operators `ops` (in that order) and these subgraph inputs and outputs."""
    model = tflite.Model.GetRootAsModel(buf, 0)
    sg = model.Subgraphs(0)
    chunk = bytes(buf) + b"\0" * (-len(buf) % 16)  # keeps the original alignments (relative to the end)
    b = flatbuffers.Builder(len(chunk) + 1024)
    b.Prep(16, len(chunk))
    b.head -= len(chunk)
    b.Bytes[b.head:b.head + len(chunk)] = chunk

    def at(pos: int) -> int:  # builder offset of a position in the original bytes
        return len(chunk) - pos

    b.StartVector(4, len(ops), 4)
    for i in reversed(ops):
        b.PrependUOffsetTRelative(at(sg.Operators(i)._tab.Pos))
    op_vec = b.EndVector()
    ins = b.CreateNumpyVector(np.asarray(inputs, np.int32))
    outs = b.CreateNumpyVector(np.asarray(outputs, np.int32))
    S, M = importlib.import_module("tflite.SubGraph"), importlib.import_module("tflite.Model")
    S.SubGraphStart(b)
    S.SubGraphAddTensors(b, at(_field(sg, 4)))
    S.SubGraphAddInputs(b, ins)
    S.SubGraphAddOutputs(b, outs)
    S.SubGraphAddOperators(b, op_vec)
    sub = S.SubGraphEnd(b)
    b.StartVector(4, 1, 4)
    b.PrependUOffsetTRelative(sub)
    subs = b.EndVector()
    M.ModelStart(b)
    M.ModelAddVersion(b, model.Version())
    M.ModelAddOperatorCodes(b, at(_field(model, 6)))
    M.ModelAddSubgraphs(b, subs)
    M.ModelAddBuffers(b, at(_field(model, 12)))
    b.Finish(M.ModelEnd(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def load_custom_refs(specs: list[str] | None) -> dict[str, CustomRef]:
    """`[NAME=]module.py:function` entries -> {operator name or "*": function}."""
    refs: dict[str, CustomRef] = {}
    for spec in specs or []:
        m = re.match(r"^(?:([^=]+)=)?(.+\.py):([A-Za-z_][A-Za-z0-9_]*)$", spec.strip())
        if not m:
            raise UsageError(f"--custom-ref '{spec}' is not of the form [NAME=]module.py:function.")
        name, path, fn = m.group(1) or "*", Path(m.group(2)), m.group(3)
        if not path.is_file():
            raise UsageError(f"--custom-ref '{spec}': {path} does not exist.")
        try:
            sp = importlib.util.spec_from_file_location(f"tinyml_custom_ref_{len(refs)}", path)
            mod = importlib.util.module_from_spec(sp)
            sp.loader.exec_module(mod)  # type: ignore[union-attr]
        except Exception as e:  # the user's module: any error it raises is theirs to fix
            raise TinymlError(f"cannot load --custom-ref {path}: {type(e).__name__}: {e}", path=str(path),
                              hint="fix the module so `python -c 'import runpy; runpy.run_path(PATH)'` runs.") from None
        if not callable(getattr(mod, fn, None)):
            raise UsageError(f"--custom-ref '{spec}': {path} has no function {fn}.")
        refs[name] = getattr(mod, fn)
    return refs


def _describe(g: Graph, op: Op) -> dict[str, Any]:
    """What the Python reference gets about the operator (the C descriptor's fields)."""
    def t(i: int) -> dict[str, Any] | None:
        if i < 0:
            return None
        x = g.t(i)
        q = x.quant
        return dict(name=x.name, shape=tuple(x.shape), dtype=x.dtype, scale=q.s if q else 0.0,
                    zero_point=q.zp if q else 0, scales=list(map(float, q.scale)) if q else [],
                    zero_points=list(map(int, q.zero_point)) if q else [])
    return dict(name=op_key(op), index=op.index, inputs=[t(i) for i in op.inputs], outputs=[t(i) for i in op.outputs])


class PiecewiseReference:
    """Reference's interface (kind, refused, run, tensor) over a model with custom operators."""

    def __init__(self, g: Graph, buf: bytes, refs: dict[str, CustomRef], user: set[int]):
        """`user`: the indices of the operators that run user kernels (the rest run in TFLite)."""
        missing = sorted({op_key(g.ops[i]) for i in user} - set(refs) if "*" not in refs else set())
        if missing:
            raise UsageError(f"no --custom-ref for {', '.join(missing)}.", hint="give NAME=module.py:function for each.")
        self.g, self.refs = g, refs
        self.steps: list[tuple[str, Any, list[int], list[int]]] = []  # ("tflite", Reference) or ("custom", op)
        run: list[int] = []
        for op in g.ops:
            if op.index in user:
                self._segment(buf, run)
                run = []
                self.steps.append(("custom", op, [i for i in op.inputs], list(op.outputs)))
            else:
                run.append(op.index)
        self._segment(buf, run)
        kinds = sorted({s[1].kind for s in self.steps if s[0] == "tflite"})
        names = sorted({op_key(g.ops[i]) for i in user})
        self.kind = "+".join(kinds + [f"custom-ref ({', '.join(names)})"])
        self.refused = sorted({r for s in self.steps if s[0] == "tflite" for r in s[1].refused})
        self.values: dict[int, np.ndarray] = {}

    def _segment(self, buf: bytes, ops: list[int]) -> None:
        if not ops:
            return
        g = self.g
        made = {o for i in ops for o in g.ops[i].outputs}
        ins = sorted({t for i in ops for t in g.ops[i].inputs if t >= 0 and t not in made and not g.t(t).is_const})
        outs = sorted(made)
        cut = cut_model(buf, ops, ins, outs)
        ref = Reference(cut, prefer=preferred_reference(g.ops[i].type for i in ops), num_outputs=len(outs),
                        num_inputs=len(ins))
        self.steps.append(("tflite", ref, ins, outs))

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        g = self.g
        vals: dict[int, np.ndarray] = {t: np.asarray(x).reshape(g.t(t).shape) for t, x in zip(g.inputs, inputs)}
        for t in g.tensors:
            if t.is_const:
                vals[t.index] = t.data
        for kind, what, ins, outs in self.steps:
            if kind == "tflite":
                res = what.run([vals[t] for t in ins])
            else:
                res = self._custom(what, [vals.get(t) for t in ins])
            for t, v in zip(outs, res):
                vals[t] = np.asarray(v).reshape(g.t(t).shape)
        self.values = vals
        return [vals[t] for t in g.outputs]

    def _custom(self, op: Op, xs: list[np.ndarray | None]) -> list[np.ndarray]:
        fn = self.refs.get(op_key(op)) or self.refs["*"]
        try:
            res = fn(xs, op.custom_options, _describe(self.g, op))
        except Exception as e:  # the user's reference failed: say where, no traceback
            raise TinymlError(f"the --custom-ref function for {op.describe()} raised {type(e).__name__}: {e}",
                              path=self.g.path, hint="fix the reference function.") from None
        res = list(res) if isinstance(res, (list, tuple)) else [res]
        if len(res) != len(op.outputs):
            raise TinymlError(f"the --custom-ref function for {op.describe()} returned {len(res)} array(s) for "
                              f"{len(op.outputs)} output(s).", path=self.g.path, hint="return one array per output.")
        out = []
        for t, v in zip(op.outputs, res):
            want = self.g.t(t)
            a = np.asarray(v)
            if a.size != want.size or a.dtype != np.dtype(DTYPES[want.dtype][1]):
                raise TinymlError(f"the --custom-ref function for {op.describe()} returned {a.dtype}{list(a.shape)} "
                                  f"for output '{want.name}' ({want.dtype}{list(want.shape)}).", path=self.g.path,
                                  hint="return arrays of the output's dtype and size.")
            out.append(a)
        return out

    def tensor(self, index: int) -> np.ndarray | None:
        return self.values.get(index)

