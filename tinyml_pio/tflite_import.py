"""Read a .tflite flatbuffer into the IR. Every TFLite quirk is handled here and nowhere else."""

from __future__ import annotations

import hashlib
import os
import re
from typing import Any

import numpy as np
import tflite

from .errors import TinymlError
from .ir import DTYPES, Graph, Op, Quant, Tensor
from .validate import check_graph, check_limits, check_tensor

_TENSOR_TYPES = {
    getattr(tflite.TensorType, n): n.lower()
    for n in dir(tflite.TensorType)
    if n.isupper()
}
_BUILTIN_NAMES = {
    v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")
}
_OPTIONS_NAMES = {
    v: k for k, v in vars(tflite.BuiltinOptions).items() if not k.startswith("_")
}
_ENUMS = {
    "padding": {0: "SAME", 1: "VALID"},
    "fused_activation_function": {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"},
}
_SKIP_METHODS = {"Init"}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _read_options(op: Any) -> dict[str, Any]:
    """Decode an operator's builtin options table generically into a snake_case dict."""
    kind = _OPTIONS_NAMES.get(op.BuiltinOptionsType(), "NONE")
    table = op.BuiltinOptions()
    if kind == "NONE" or table is None or not hasattr(tflite, kind):
        return {}
    opts = getattr(tflite, kind)()
    opts.Init(table.Bytes, table.Pos)
    out: dict[str, Any] = {}
    for name in dir(opts):
        if not name[0].isupper() or name in _SKIP_METHODS or name.startswith("GetRootAs"):
            continue
        if name.endswith(("BufferHasIdentifier", "IsNone", "Length")) or name == "GetRootAs":
            continue
        attr = getattr(opts, name)
        if name.endswith("AsNumpy"):
            value = attr()
            out[_snake(name[: -len("AsNumpy")])] = [] if isinstance(value, int) else [int(v) for v in value]
            continue
        try:
            value = attr()
        except TypeError:
            continue  # vector element accessors take an index; the AsNumpy form covers them
        key = _snake(name)
        if key in _ENUMS:
            if value not in _ENUMS[key]:
                raise _BadEnum(key, value, kind)
            value = _ENUMS[key][value]
        out[key] = value
    return out


class _BadEnum(Exception):
    """An option holds a value outside its enum (reported with the operator by _parse)."""

    def __init__(self, key: str, value: int, kind: str):
        self.key, self.value, self.kind = key, value, kind
        super().__init__(f"{kind} option {key} = {value} is not a valid value ({', '.join(_ENUMS[key].values())})")


def _fail(path: str, message: str, hint: str) -> TinymlError:
    return TinymlError(message, path=path, hint=hint)


def load_model(path: str | os.PathLike[str]) -> Graph:
    """Parse `path` into a Graph, or raise TinymlError saying what is wrong with the file."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise _fail(path, "is a directory, not a .tflite model file.", "pass the path of the .tflite file itself.")
    try:
        with open(path, "rb") as f:
            buf = f.read()
    except FileNotFoundError:
        raise _fail(path, "no such file.", "check the path to the .tflite model.") from None
    except OSError as e:
        raise _fail(path, f"cannot be read ({e.strerror}).", "check the file's permissions.") from None
    return load_model_bytes(buf, path)


def load_model_bytes(buf: bytes, path: str = "<model>") -> Graph:
    if len(buf) == 0:
        raise _fail(path, "the file is empty.", "re-export the model with the TFLite converter.")
    if len(buf) < 16 or buf[4:8] != b"TFL3":
        raise _fail(
            path,
            "is not a TFLite flatbuffer (the 'TFL3' file identifier is missing).",
            "pass a .tflite file produced by tf.lite.TFLiteConverter.",
        )
    try:
        graph = _parse(buf, path)
    except TinymlError:
        raise
    except Exception as e:  # a corrupt flatbuffer fails deep inside the reader in many ways
        raise _fail(
            path,
            f"the flatbuffer is truncated or corrupt ({type(e).__name__} while reading it).",
            "re-export or re-download the model; compare its size with the original.",
        ) from None
    graph.sha256 = hashlib.sha256(buf).hexdigest()
    graph.path = path
    check_graph(graph)
    return graph


def _parse(buf: bytes, path: str) -> Graph:
    model = tflite.Model.GetRootAsModel(buf, 0)
    if model.SubgraphsLength() != 1:
        raise _fail(
            path,
            f"has {model.SubgraphsLength()} subgraphs; tinyml-pio supports exactly one.",
            "convert without control flow (no tf.cond/tf.while_loop) so the model is a single graph.",
        )
    codes = []
    for i in range(model.OperatorCodesLength()):
        oc = model.OperatorCodes(i)
        # Schema v3a: the real code is max(builtin_code, deprecated_builtin_code).
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        name = _BUILTIN_NAMES.get(code, f"BUILTIN_{code}")
        if name == "CUSTOM":
            custom = oc.CustomCode()
            name = "CUSTOM:" + (custom.decode() if custom else "?")
        codes.append((name, oc.Version()))

    sg = model.Subgraphs(0)
    check_limits(path, sg.OperatorsLength(), sg.TensorsLength())
    intermediates = {int(v) for i in range(sg.OperatorsLength()) if sg.Operators(i).IntermediatesLength()
                     for v in sg.Operators(i).IntermediatesAsNumpy()}
    tensors = []
    for i in range(sg.TensorsLength()):
        tensors.append(_read_tensor(model, sg.Tensors(i), i, buf, path, i in intermediates))
    ops = []
    for i in range(sg.OperatorsLength()):
        o = sg.Operators(i)
        if not 0 <= o.OpcodeIndex() < len(codes):
            raise _fail(path, f"operator #{i} names operator code {o.OpcodeIndex()}; the model has {len(codes)}.",
                        "the file is corrupt; re-export the model.")
        name, version = codes[o.OpcodeIndex()]
        ins = [int(v) for v in o.InputsAsNumpy()] if o.InputsLength() else []
        outs = [int(v) for v in o.OutputsAsNumpy()] if o.OutputsLength() else []
        try:
            options = _read_options(o)
        except _BadEnum as e:
            raise _fail(path, f"operator #{i} ({name}): {e}.", "the file is corrupt; re-export the model.") from None
        blob = o.CustomOptionsAsNumpy().tobytes() if o.CustomOptionsLength() else b""
        table = _OPTIONS_NAMES.get(o.BuiltinOptionsType(), "NONE") if o.BuiltinOptions() is not None else "NONE"
        mids = [int(v) for v in o.IntermediatesAsNumpy()] if o.IntermediatesLength() else []
        if any(not 0 <= t < len(tensors) for t in mids):
            raise _fail(path, f"operator #{i} ({name}) names intermediate tensors {mids}; the model has "
                        f"{len(tensors)} tensors.", "the file is corrupt; re-export the model.")
        ops.append(Op(index=i, type=name, inputs=ins, outputs=outs, options=options, version=version,
                      custom_options=blob, options_table="" if table == "NONE" else table, intermediates=mids))
    desc = model.Description()
    name = os.path.splitext(os.path.basename(path))[0]
    return Graph(
        tensors=tensors,
        ops=ops,
        inputs=[int(v) for v in sg.InputsAsNumpy()],
        outputs=[int(v) for v in sg.OutputsAsNumpy()],
        name=name,
        description=desc.decode(errors="replace") if desc else "",
    )


def _read_tensor(model: Any, t: Any, index: int, buf: bytes, path: str, intermediate: bool = False) -> Tensor:
    dtype = _TENSOR_TYPES.get(t.Type(), f"type{t.Type()}")
    shape = tuple(int(v) for v in t.ShapeAsNumpy()) if t.ShapeLength() else ()
    name = (t.Name() or b"").decode(errors="replace")
    if t.ShapeSignatureLength():
        sig = [int(v) for v in t.ShapeSignatureAsNumpy()]
        if any(v < 0 for v in sig[1:]) or (sig and sig[0] < 0 and shape and shape[0] != 1):
            raise _fail(
                path,
                f"tensor #{index} '{name}' has a dynamic shape {sig}.",
                "fix every dimension when converting (e.g. a concrete input_signature), batch 1.",
            )
    quant = None
    q = t.Quantization()
    if q is not None and q.ScaleLength() > 0:
        scale = q.ScaleAsNumpy().astype(np.float32)
        # as many zero points as scales (TFLite's interpreter refuses anything else; check_tensor)
        zp = q.ZeroPointAsNumpy().astype(np.int64) if q.ZeroPointLength() else np.zeros(0, np.int64)
        axis: int | None = int(q.QuantizedDimension())
        if scale.size == 1:
            axis = None  # per-tensor; a stray quantized_dimension means nothing
        elif not 0 <= axis < len(shape) or shape[axis] != scale.size:
            # Quirk (person_detect): 1-D biases carry the weights' quantized_dimension.
            matches = [d for d, n in enumerate(shape) if n == scale.size]
            axis = matches[0] if matches else None
        quant = Quant(scale=scale, zero_point=zp, axis=axis, quantized_dimension=int(q.QuantizedDimension()))
    tensor = Tensor(index=index, name=name, shape=shape, dtype=dtype, quant=quant)
    if not 0 <= t.Buffer() < max(model.BuffersLength(), 1):
        raise _fail(path, f"tensor #{index} '{name}' names buffer {t.Buffer()}; the model has {model.BuffersLength()}.",
                    "the file is corrupt; re-export the model.")
    b = model.Buffers(t.Buffer()) if model.BuffersLength() else None
    raw = b""
    if b is not None and b.Offset() > 1:
        if b.Offset() + b.Size() > len(buf):
            raise _fail(path, f"tensor #{index} '{name}': its data lies beyond the end of the file.",
                        "the file is truncated; re-download or re-export the model.")
        raw = buf[b.Offset() : b.Offset() + b.Size()]
    elif b is not None and b.DataLength() > 0:
        raw = b.DataAsNumpy().tobytes()
    if raw and dtype not in DTYPES:
        raise _fail(path, f"constant tensor #{index} '{name}' has unsupported type {dtype}.",
                    "quantize the model to int8 (full integer quantization).")
    check_tensor(path, tensor, intermediate)
    if t.IsVariable():
        # a state tensor (SVDF, LSTM): TFLite zeroes it when it allocates tensors and ignores any
        # buffer it names, so do we
        tensor.variable = True
        raw = b""
    if raw:
        np_dtype = np.dtype(DTYPES[dtype][1]).newbyteorder("<")
        expected = tensor.size
        if len(raw) != expected * np_dtype.itemsize:
            raise _fail(path, f"constant tensor #{index} '{name}' holds {len(raw)} bytes; its shape {list(shape)} "
                        f"({dtype}) needs {expected * np_dtype.itemsize}.", "the file is corrupt; re-export the model.")
        tensor.data = np.frombuffer(raw, dtype=np_dtype).reshape(shape).copy()
    return tensor
