"""The graph IR: plain dataclasses that every pass, the planner and codegen share.

Kept small on purpose: a tensor knows its shape, dtype, quantization and (if constant) its data;
an operator knows its type, tensor indices and options. Later passes (in-place marking, patch
splitting, backward graphs) add fields here rather than side tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

# dtype name -> (C type, numpy dtype)
DTYPES: dict[str, tuple[str, Any]] = {
    "int8": ("int8_t", np.int8),
    "uint8": ("uint8_t", np.uint8),
    "int16": ("int16_t", np.int16),
    "int32": ("int32_t", np.int32),
    "int64": ("int64_t", np.int64),
    "float32": ("float", np.float32),
    "bool": ("uint8_t", np.bool_),
}


@dataclass
class Quant:
    """Affine quantization: real = scale * (q - zero_point), per tensor or per `axis` channel."""

    scale: np.ndarray  # float32, shape (1,) or (channels,)
    zero_point: np.ndarray  # int64, same shape as scale
    axis: int | None = None  # set only for per-channel quantization
    quantized_dimension: int = 0  # as written in the file (validate.py checks it as TFLite does)

    @property
    def per_channel(self) -> bool:
        return self.axis is not None and self.scale.size > 1

    @property
    def s(self) -> float:
        """The per-tensor scale (first element)."""
        return float(self.scale[0])

    @property
    def zp(self) -> int:
        return int(self.zero_point[0])


@dataclass
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    quant: Quant | None = None
    data: np.ndarray | None = None  # constant tensors only
    variable: bool = False  # a state tensor (is_variable): kept across invokes, outside the arena

    @property
    def is_const(self) -> bool:
        return self.data is not None

    @property
    def in_arena(self) -> bool:
        """Planned in the scratch arena: neither a constant (flash) nor a state tensor (the state buffer)."""
        return self.data is None and not self.variable

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def itemsize(self) -> int:
        return np.dtype(DTYPES[self.dtype][1]).itemsize

    @property
    def nbytes(self) -> int:
        return self.size * self.itemsize

    @property
    def ctype(self) -> str:
        return DTYPES[self.dtype][0]


@dataclass
class Op:
    index: int
    type: str  # TFLite builtin name, e.g. "CONV_2D"
    inputs: list[int]  # tensor indices, -1 for an omitted optional input
    outputs: list[int]
    options: dict[str, Any] = field(default_factory=dict)
    version: int = 1
    custom_options: bytes = b""  # a CUSTOM operator's options blob, as stored in the model
    options_table: str = ""  # the file's builtin options table ("Conv2DOptions"), "" if none
    intermediates: list[int] = field(default_factory=list)  # tensors that only carry quantization (integer LSTM)

    def describe(self) -> str:
        return f"operator #{self.index} ({self.type})"


@dataclass
class Graph:
    tensors: list[Tensor]
    ops: list[Op]
    inputs: list[int]
    outputs: list[int]
    name: str = "model"
    path: str = ""
    sha256: str = ""
    description: str = ""
    folded: set[int] = field(default_factory=set)  # indices of ops computed at generation time (passes/fold.py)

    def t(self, index: int) -> Tensor:
        return self.tensors[index]

    def consumers(self, tensor_index: int) -> list[Op]:
        return [op for op in self.ops if tensor_index in op.inputs]

    def producer(self, tensor_index: int) -> Op | None:
        for op in self.ops:
            if tensor_index in op.outputs:
                return op
        return None
