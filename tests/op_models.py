"""Small int8 graphs of any builtin operators, written directly as TFLite flatbuffers (no TensorFlow).

`Net` declares tensors and operators by name; `write` serializes them with tests/tflite_writer.py.
Options are given as {"field_name": value} for the operator's options table (the schema's own
builder functions, looked up by name), so any op with scalar options can be written. TFLite's
interpreter is the reference for these models, so their quantization only has to be plausible.
"""

from __future__ import annotations

from pathlib import Path

import flatbuffers
import numpy as np

from tflite_writer import Tables, fb, finish_model, operator, write_tensors

TYPES = {"float32": 0, "int32": 2, "int8": 9, "int64": 4, "int16": 7, "uint8": 3}
# op name -> its options table (None: the op has no options table we need to write)
OPTIONS = {
    "SUB": "SubOptions", "SQUARED_DIFFERENCE": None, "RSQRT": None, "ELU": None, "PRELU": None,
    "SUM": "ReducerOptions", "REDUCE_MAX": "ReducerOptions", "ARG_MAX": "ArgMaxOptions", "ARG_MIN": "ArgMinOptions",
    "STRIDED_SLICE": "StridedSliceOptions", "SLICE": None, "SPLIT": "SplitOptions", "SPLIT_V": "SplitVOptions",
    "PACK": "PackOptions", "UNPACK": "UnpackOptions", "GATHER": "GatherOptions",
    "DEPTH_TO_SPACE": "DepthToSpaceOptions", "SPACE_TO_DEPTH": "SpaceToDepthOptions", "ADD": "AddOptions",
    "FULLY_CONNECTED": "FullyConnectedOptions", "RESHAPE": None,
}


def _camel(name: str) -> str:
    return "".join(p.capitalize() for p in name.split("_"))


class Net:
    """Tensors by name, operators in order; `write(path)` makes the .tflite."""

    def __init__(self) -> None:
        self.tables = Tables()
        self.names: dict[str, int] = {}
        self.ops: list[tuple[str, list[str], list[str], dict]] = []
        self.inputs: list[str] = []
        self.outputs: list[str] = []

    def tensor(self, name: str, shape, dtype: str = "int8", scale: float = 0.05, zp: int = 0,
               data: np.ndarray | None = None) -> str:
        raw = None if data is None else np.asarray(data, dtype=dtype).tobytes()
        quantized = dtype in ("int8", "int16", "uint8")
        self.names[name] = self.tables.tensor(name, shape, TYPES[dtype], scale if quantized else [],
                                              zp if quantized else [], raw)
        return name

    def const(self, name: str, values, dtype: str = "int32", **q) -> str:
        v = np.asarray(values, dtype=dtype)
        return self.tensor(name, list(v.shape), dtype, data=v, **q)

    def input(self, name: str, shape, dtype: str = "int8", scale: float = 0.05, zp: int = 0) -> str:
        self.inputs.append(self.tensor(name, shape, dtype, scale, zp))
        return name

    def op(self, kind: str, inputs: list[str], outputs: list[str], **options) -> None:
        self.ops.append((kind, inputs, outputs, options))

    def write(self, path: str | Path, outputs: list[str], description: str = "tinyml-pio op test model") -> Path:
        b = flatbuffers.Builder(4096)
        buf_offs, t_offs = write_tensors(b, self.tables)
        BO, BOp = fb("BuiltinOptions").BuiltinOptions, fb("BuiltinOperator").BuiltinOperator
        kinds = list(dict.fromkeys(k for k, *_ in self.ops))
        op_offs = []
        for kind, ins, outs, options in self.ops:
            table = OPTIONS[kind]
            opt_type, opt = 0, 0
            if table is not None:
                mod = fb(table)
                getattr(mod, f"{table}Start")(b)
                for k, v in options.items():
                    getattr(mod, f"{table}Add{_camel(k)}")(b, v)
                opt, opt_type = getattr(mod, f"{table}End")(b), getattr(BO, table)
            idx = lambda names: [self.names[n] if n else -1 for n in names]  # noqa: E731
            op_offs.append(operator(b, kinds.index(kind), idx(ins), idx(outs), opt_type, opt))
        codes = [(getattr(BOp, k), 1) for k in kinds]
        return finish_model(b, path, buf_offs, t_offs, op_offs, codes, [self.names[n] for n in self.inputs],
                            [self.names[n] for n in outputs], description)
