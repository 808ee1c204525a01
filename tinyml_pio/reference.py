"""Run TFLite's own interpreters as the reference: tflite-runtime's reference kernels
(OpResolverType.BUILTIN_REF), falling back to the tflite-micro interpreter where tflite-runtime
refuses a model (e.g. person_detect's bias quantized_dimension quirk)."""

from __future__ import annotations

import os
import signal

import numpy as np

from .errors import TinymlError

# Operators whose int8 kernel in tflite-runtime 2.14's BUILTIN_REF resolver is not TFLite's
# reference arithmetic: SUM with rescaling returns unrelated values whenever the sum is negative
# (e.g. six inputs of -100 at scale 0.01, zp 7, summed to scale 0.4: 22 instead of -16; tflite-micro
# and the integer QuantizedMeanOrSum give -16). Models containing them are checked against the
# tflite-micro interpreter first.
MICRO_PREFERRED = frozenset({"SUM"})


def micro_mismatch(g) -> str:
    """Why the tflite-micro interpreter cannot stand for TFLite's reference kernels on graph `g`
    ("" if it can): its int8/int16 RELU6 only clamps the input, ignoring a change of scale or zero
    point to the output, which TFLite's reference (QuantizedReluX) requantizes."""
    for op in g.ops:
        if op.type != "RELU6" or not op.inputs or not op.outputs or op.inputs[0] < 0:
            continue
        qi, qo = g.t(op.inputs[0]).quant, g.t(op.outputs[0]).quant
        if qi is not None and qo is not None and (qi.s != qo.s or qi.zp != qo.zp):
            return (f"{op.describe()} changes the quantization (scale {qi.s:g} zp {qi.zp} -> {qo.s:g} zp {qo.zp}), "
                    "and tflite-micro's RELU6 only clamps, unlike TFLite's reference kernel")
    return ""


def reference_for(g) -> "Reference":
    """The reference interpreter for graph `g` (verify, hil): a TinymlError when only one that
    computes `g` differently from TFLite's reference kernels would take it (micro_mismatch)."""
    with open(g.path, "rb") as f:
        ref = Reference(f.read(), prefer=preferred_reference(op.type for op in g.ops), num_outputs=len(g.outputs),
                        num_inputs=len(g.inputs))
    why = micro_mismatch(g) if ref.kind == "tflite-micro" else ""
    if why:
        raise TinymlError(f"cannot be verified: only tflite-micro accepts the model ({'; '.join(ref.refused)}), "
                          f"and {why}.", path=g.path,
                          hint="re-export the model with the TFLite converter, so that tflite-runtime accepts it.")
    return ref


def preferred_reference(op_types) -> str:
    """The interpreter to try first for a model with these operator types."""
    return "tflite-micro" if MICRO_PREFERRED & set(op_types) else "tflite-runtime"


class Reference:
    """One loaded reference interpreter. `run` returns outputs; `tensor` reads an intermediate."""

    def __init__(self, model: bytes, prefer: str = "tflite-runtime", num_outputs: int | None = None,
                 num_inputs: int | None = None):
        self.kind = ""
        self.num_outputs = num_outputs
        self.num_inputs = num_inputs
        errors = []
        order = ["tflite-runtime", "tflite-micro"] if prefer == "tflite-runtime" else ["tflite-micro", "tflite-runtime"]
        for kind in order:
            crash = _crashes(self, kind, model)
            if crash:
                errors.append(f"{kind}: {crash}")
                continue
            try:
                self._open(kind, model)
                self.kind = kind
                break
            except ImportError as e:
                errors.append(f"{kind}: not installed ({e})")
            except Exception as e:  # the interpreters raise RuntimeError/ValueError on models they refuse
                first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                errors.append(f"{kind}: {first[:120]}{'...' if len(first) > 120 else ''}")
        self.refused = errors  # why earlier interpreters were not used (shown by verify)
        if not self.kind:
            missing = all("not installed" in e for e in errors)
            raise TinymlError("no reference interpreter accepts this model: " + "; ".join(errors),
                              hint="install the verification extras: pip install 'tinyml-pio[verify]'." if missing else
                              "TFLite's own interpreters reject (or crash on) this model, so it cannot be verified; "
                              "re-export it with the TFLite converter.")

    def _open(self, kind: str, model: bytes) -> None:
        if kind == "tflite-runtime":
            from tflite_runtime.interpreter import Interpreter, OpResolverType

            it = Interpreter(model_content=model, experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                             num_threads=1, experimental_preserve_all_tensors=True)
            it.allocate_tensors()
            self._tfl = it
            self._in = [d["index"] for d in it.get_input_details()]
            self._out = [d["index"] for d in it.get_output_details()]
        else:
            from tflite_micro import runtime

            self._model = model

            self._tflm = runtime.Interpreter.from_bytes(
                model, arena_size=max(len(model) * 10, 1 << 20),
                intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors)

    def zero_inputs(self) -> list[np.ndarray]:
        """One all-zero sample of the model's inputs, as the opened interpreter describes them."""
        if self.kind == "tflite-runtime":
            return [np.zeros(d["shape"], d["dtype"]) for d in self._tfl.get_input_details()]
        return [np.zeros(d["shape"], d["dtype"]) for d in
                (self._tflm.get_input_details(i) for i in range(self.num_inputs or 0))]

    def run(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        if self.kind == "tflite-runtime":
            for idx, x in zip(self._in, inputs):
                self._tfl.set_tensor(idx, x)
            self._tfl.invoke()
            return [self._tfl.get_tensor(i).copy() for i in self._out]
        for i, x in enumerate(inputs):
            self._tflm.set_input(x, i)
        self._tflm.invoke()
        if self.num_outputs is None:
            from .tflite_import import load_model_bytes

            self.num_outputs = len(load_model_bytes(self._model).outputs)
        return [np.array(self._tflm.get_output(i)).copy() for i in range(self.num_outputs)]

    def tensor(self, index: int) -> np.ndarray | None:
        """An intermediate tensor from the last run (None if the interpreter cannot give it)."""
        try:
            if self.kind == "tflite-runtime":
                return self._tfl.get_tensor(index).copy()
            # tflite-micro's wrapper does not reliably expose intermediates: callers check the size
            return np.array(self._tflm.GetTensor(index, 0)).copy()
        except Exception:
            return None


def _crashes(ref: Reference, kind: str, model: bytes) -> str:
    """Open the interpreter and invoke it once in a forked child first: on a malformed model that
    tinyml-pio accepts, the interpreters' C++ may crash the process (a signal, not an exception).
    Returns why it crashed, or "" (also where fork is not available)."""
    if not hasattr(os, "fork"):
        return ""
    pid = os.fork()
    if pid == 0:  # the child: never returns into the caller
        code = 0
        try:
            ref._open(kind, model)
            ref.kind = kind
            ref.run(ref.zero_inputs())
        except BaseException:
            code = 1  # an exception: the parent's own attempt reports it properly
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        return f"crashed on this model (signal {signal.Signals(sig).name})"
    return ""
