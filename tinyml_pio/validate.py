"""Structural checks on an imported graph, before any pass, the planner or codegen sees it.

A .tflite file is untrusted input: every index, shape, quantization parameter and the graph's
structure are checked here once, so later code may rely on them (asserts there are our own
invariants). Each failure is a TinymlError naming the file, the operator or tensor, what is wrong
and what to do.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import TinymlError
from .ir import DTYPES, Graph, Op, Tensor
from .quant import QRANGE

# Limits: far above any microcontroller model, low enough that sizes, offsets and every product of
# dimensions inside one tensor fit the generated C's int32 arithmetic.
MAX_OPERATORS = 10_000
MAX_TENSORS = 100_000
MAX_RANK = 8
MAX_TENSOR_BYTES = 1 << 28  # 256 MiB
MAX_ARENA_BYTES = 1 << 28

# Input positions TFLite lets a model omit (index -1), per operator type; other operators the
# compiler knows must give every input. Operators it does not support are reported by lowering.
OPTIONAL_INPUTS: dict[str, frozenset[int]] = {
    "FULLY_CONNECTED": frozenset({2}),
    "CONV_2D": frozenset({2}),
    "DEPTHWISE_CONV_2D": frozenset({2}),
    "PADV2": frozenset({2}),
    "SVDF": frozenset({3}),  # the bias
    # CIFG (no input gate), peephole, projection, layer norm: each may be left out
    "UNIDIRECTIONAL_SEQUENCE_LSTM": frozenset({1, 5, 9, 10, 11, 12, 16, 17, 20, 21, 22, 23}),
}

def _camel_options(op_type: str) -> str:
    """CONV_2D -> Conv2DOptions: the schema's name of an operator's options table (its spellings)."""
    name = "".join(w.capitalize() for w in op_type.split("_"))
    return name.replace("2d", "2D").replace("Matmul", "MatMul").replace("Padv2", "PadV2") + "Options"


# The builtin options table TFLite reads for each operator type (every other supported type takes
# none); an operator carrying another table is read by TFLite as if it had none.
_POOL, _REDUCER, _MINMAX = "Pool2DOptions", "ReducerOptions", "MaximumMinimumOptions"
OPTIONS_TABLES: dict[str, str] = {
    "AVERAGE_POOL_2D": _POOL, "MAX_POOL_2D": _POOL, "L2_NORMALIZATION": "L2NormOptions", "MAXIMUM": _MINMAX,
    "MINIMUM": _MINMAX, "MEAN": _REDUCER, "SUM": _REDUCER, "REDUCE_MAX": _REDUCER,
    **{t: _camel_options(t) for t in (
        "ADD", "ARG_MAX", "ARG_MIN", "BATCH_MATMUL", "CAST", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D",
        "DEPTH_TO_SPACE", "DEQUANTIZE", "EXPAND_DIMS", "FULLY_CONNECTED", "GATHER", "HARD_SWISH", "LEAKY_RELU",
        "LOG_SOFTMAX", "MUL", "PACK", "PAD", "PADV2", "QUANTIZE", "RESHAPE", "RESIZE_NEAREST_NEIGHBOR", "SLICE",
        "SOFTMAX", "SPACE_TO_DEPTH", "SPLIT", "SPLIT_V", "SQUARED_DIFFERENCE", "SQUEEZE", "STRIDED_SLICE", "SUB",
        "TRANSPOSE", "TRANSPOSE_CONV", "UNPACK")},
}
# Operators whose options TFLite cannot do without: with no table its kernels see all-zero
# parameters (stride 0, unknown padding, a 0x0 window, softmax beta 0), which the reference
# interpreters handle in their own ways (an empty output, a division by zero), never as a layer.
_ZERO_STRIDE = "stride 0 and no padding mode"
OPTIONS_REQUIRED: dict[str, str] = {"CONV_2D": _ZERO_STRIDE, "DEPTHWISE_CONV_2D": _ZERO_STRIDE,
                                    "TRANSPOSE_CONV": _ZERO_STRIDE, "AVERAGE_POOL_2D": "a 0x0 window of stride 0",
                                    "MAX_POOL_2D": "a 0x0 window of stride 0", "SOFTMAX": "beta 0"}

_CORRUPT = "the file is corrupt or was edited by hand; re-export the model with the TFLite converter."


def check_limits(path: str, n_ops: int, n_tensors: int) -> None:
    """Counts read from the file's header, checked before anything is built from them."""
    if n_ops > MAX_OPERATORS:
        raise TinymlError(f"has {n_ops} operators, more than the limit of {MAX_OPERATORS} (MAX_OPERATORS).",
                          path=path, hint="split the model, or check that the file is not corrupt.")
    if n_tensors > MAX_TENSORS:
        raise TinymlError(f"has {n_tensors} tensors, more than the limit of {MAX_TENSORS} (MAX_TENSORS).",
                          path=path, hint="split the model, or check that the file is not corrupt.")


def check_graph(g: Graph) -> None:
    """The graph structure the rest of the compiler relies on, or a TinymlError (tensors: check_tensor, as read)."""
    n = len(g.tensors)
    _check_io_lists(g, n)
    produced: dict[int, int] = {}
    available = set(g.inputs)
    from .ops import supported_ops  # lazily: ops imports the IR, not this module

    known = frozenset(supported_ops())
    for op in g.ops:
        _check_op_indices(g, op, n, op.type in known)
        for t in op.inputs:
            if t < 0:
                continue
            tensor = g.t(t)
            if tensor.in_arena and t not in available:
                later = next((o for o in g.ops[op.index:] if t in o.outputs), None)
                why = (f"which {later.describe()} produces only later (the graph has a cycle or is not in execution order)"
                       if later is not None else "which no operator produces and which is not a model input")
                raise _op_error(g, op, f"reads tensor #{t} '{tensor.name}', {why}.")
        for t in op.outputs:
            tensor = g.t(t)
            if t in produced:
                raise _op_error(g, op, f"writes tensor #{t} '{tensor.name}', which operator #{produced[t]} "
                                       "already produces (a tensor has one producer).")
            if t in g.inputs:
                raise _op_error(g, op, f"writes tensor #{t} '{tensor.name}', which is a model input.")
            if tensor.is_const:
                raise _op_error(g, op, f"writes tensor #{t} '{tensor.name}', which is a constant.")
            produced[t] = op.index
            available.add(t)
        _check_options(g, op)
    _check_quantized_dimensions(g)
    for i, t in enumerate(g.outputs):
        if t not in available:
            raise TinymlError(f"model output {i} (tensor #{t} '{g.t(t).name}') is neither produced by an operator "
                              "nor a model input.", path=g.path, hint=_CORRUPT)


def _check_io_lists(g: Graph, n: int) -> None:
    for kind, ts in (("input", g.inputs), ("output", g.outputs)):
        if not ts:
            raise TinymlError(f"the model has no {kind}s.", path=g.path,
                              hint=f"re-export the model so that it has at least one {kind} tensor.")
        for i, t in enumerate(ts):
            if not 0 <= t < n:
                raise TinymlError(f"model {kind} {i} names tensor #{t}; the model has tensors #0 to #{n - 1}.",
                                  path=g.path, hint=_CORRUPT)
            if g.t(t).is_const:
                raise TinymlError(f"model {kind} {i} '{g.t(t).name}' is a constant tensor.", path=g.path,
                                  hint=f"re-export the model so its {kind}s are real {kind}s.")
        if len(set(ts)) != len(ts):
            raise TinymlError(f"the model lists the same tensor twice among its {kind}s {ts}.", path=g.path,
                              hint=_CORRUPT)


def _check_op_indices(g: Graph, op: Op, n: int, known: bool) -> None:
    if not op.outputs:
        raise _op_error(g, op, "has no outputs.")
    optional = OPTIONAL_INPUTS.get(op.type)
    for pos, t in enumerate(op.inputs):
        if t == -1 and (not known or (optional is not None and pos in optional)):
            continue  # an omitted optional input
        if not 0 <= t < n:
            raise _op_error(g, op, f"input {pos} names tensor #{t}; the model has tensors #0 to #{n - 1}"
                                   + (" (-1, an omitted input, is not allowed here)" if t == -1 else "") + ".")
    for pos, t in enumerate(op.outputs):
        if not 0 <= t < n:
            raise _op_error(g, op, f"output {pos} names tensor #{t}; the model has tensors #0 to #{n - 1}.")
    if len(set(op.outputs)) != len(op.outputs):
        raise _op_error(g, op, f"lists the same tensor twice among its outputs {op.outputs}.")


def _check_options(g: Graph, op: Op) -> None:
    """The options table TFLite reads for the operator: another table, or none where TFLite's
    kernels would run on all-zero parameters, is refused (we would read something else)."""
    want = OPTIONS_TABLES.get(op.type)
    if want is None:
        return
    if op.options_table and op.options_table != want:
        raise _op_error(g, op, f"carries {op.options_table}, but TFLite reads a {op.type}'s options from {want} "
                               "and ignores any other table.")
    if not op.options_table and op.type in OPTIONS_REQUIRED:
        raise _op_error(g, op, f"has no {want} table: TFLite's kernel then runs on all-zero options "
                               f"({OPTIONS_REQUIRED[op.type]}), which has no defined result.")


def _check_quantized_dimensions(g: Graph) -> None:
    """quantized_dimension within the tensor's rank, as TFLite's interpreter requires: tflite-runtime
    refuses the model otherwise, and only tflite-micro (whose int8 RELU6, for one, ignores the
    output scale) would run it. A constant's stray value is tolerated: person_detect's 1-D biases
    carry the weights' dimension (3), a per-tensor value that means nothing."""
    for t in g.tensors:
        q = t.quant
        if q is None or not t.shape or 0 <= q.quantized_dimension < len(t.shape):
            continue
        if q.quantized_dimension >= 0 and t.is_const:
            continue
        user = next((o for o in g.ops if t.index in o.outputs), None) or \
            next((o for o in g.ops if t.index in o.inputs), None)
        where = f"{user.describe()}'s tensor" if user is not None else "tensor"
        raise TinymlError(f"{where} #{t.index} '{t.name}' of shape {list(t.shape)} has quantized_dimension "
                          f"{q.quantized_dimension}, outside [0, {len(t.shape)}): TFLite's interpreter refuses "
                          "such a tensor.", path=g.path, hint=_CORRUPT)


def _op_error(g: Graph, op: Op, message: str) -> TinymlError:
    return TinymlError(f"{op.describe()} {message}", path=g.path, hint=_CORRUPT)


def check_tensor(path: str, t: Tensor, intermediate: bool = False) -> None:
    """Shape, dtype, size and quantization of one tensor. An operator's `intermediate` (the integer
    LSTM's gate and hidden scales) only carries quantization: the converter gives it shape [0]."""
    where = f"tensor #{t.index} '{t.name}'"
    if len(t.shape) > MAX_RANK:
        raise TinymlError(f"{where} has rank {len(t.shape)}, more than the limit of {MAX_RANK} (MAX_RANK).",
                          path=path, hint=_CORRUPT)
    if any(d < 0 or (d == 0 and not intermediate) for d in t.shape):
        raise TinymlError(f"{where} has shape {list(t.shape)}: every dimension must be positive.", path=path,
                          hint="fix every dimension when converting (no empty or dynamic dimensions), or re-export the model.")
    if t.dtype not in DTYPES:
        raise TinymlError(f"{where} has type {t.dtype}, which tinyml-pio cannot store.", path=path,
                          hint="quantize the model to int8 (full integer quantization).")
    elements = math.prod(t.shape)
    if elements * np.dtype(DTYPES[t.dtype][1]).itemsize > MAX_TENSOR_BYTES:
        raise TinymlError(f"{where} of shape {list(t.shape)} ({t.dtype}) needs more than the limit of "
                          f"{MAX_TENSOR_BYTES} bytes (MAX_TENSOR_BYTES).", path=path,
                          hint="a microcontroller model's tensors are far smaller; check the shape or re-export the model.")
    if t.quant is not None:
        _check_quant(path, t, where)


def _check_quant(path: str, t: Tensor, where: str) -> None:
    q = t.quant
    assert q is not None
    scale = np.asarray(q.scale, np.float32)
    if not np.all(np.isfinite(scale)) or not np.all(scale > 0):
        bad = next(float(s) for s in scale.reshape(-1) if not (math.isfinite(float(s)) and s > 0))
        raise TinymlError(f"{where} has quantization scale {bad!r}: scales must be finite and positive "
                          "(in float32).", path=path, hint=_CORRUPT)
    if q.zero_point.size != scale.size:
        raise TinymlError(f"{where} has {scale.size} quantization scales but {q.zero_point.size} zero points "
                          "(TFLite requires as many of each).", path=path, hint=_CORRUPT)
    if scale.size > 1:
        if q.axis is None or not 0 <= q.axis < len(t.shape) or t.shape[q.axis] != scale.size:
            raise TinymlError(f"{where} of shape {list(t.shape)} has {scale.size} per-channel scales, which match "
                              "no dimension.", path=path, hint=_CORRUPT)
    lo, hi = QRANGE.get(t.dtype, (-(1 << 63), (1 << 63) - 1))
    zp = np.asarray(q.zero_point, np.int64)
    if np.any(zp < lo) or np.any(zp > hi):
        bad = next(int(z) for z in zp.reshape(-1) if not lo <= z <= hi)
        raise TinymlError(f"{where} ({t.dtype}) has zero point {bad}, outside the type's range [{lo}, {hi}].",
                          path=path, hint=_CORRUPT)
