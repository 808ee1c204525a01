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
    "FULLY_CONNECTED": "FullyConnectedOptions", "RESHAPE": None, "L2_NORMALIZATION": "L2NormOptions",
    "CAST": None, "DEQUANTIZE": None, "QUANTIZE": None, "NEG": None, "ABS": None, "RESIZE_BILINEAR": None, "SOFTMAX": "SoftmaxOptions", "LOG_SOFTMAX": None, "LOGISTIC": None,
    "TANH": None, "MEAN": "ReducerOptions", "CONCATENATION": "ConcatenationOptions", "BATCH_MATMUL": "BatchMatMulOptions", "TRANSPOSE_CONV": "TransposeConvOptions", "SHAPE": "ShapeOptions", "FILL": None, "MUL": "MulOptions",
    "SVDF": "SVDFOptions", "UNIDIRECTIONAL_SEQUENCE_LSTM": "UnidirectionalSequenceLSTMOptions",
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
        self.intermediates: dict[int, list[str]] = {}  # op position -> its intermediate tensors

    def tensor(self, name: str, shape, dtype: str = "int8", scale: float = 0.05, zp: int = 0,
               data: np.ndarray | None = None, variable: bool = False) -> str:
        raw = None if data is None else np.asarray(data, dtype=dtype).tobytes()
        quantized = dtype in ("int8", "int16", "uint8")
        self.names[name] = self.tables.tensor(name, shape, TYPES[dtype], scale if quantized else [],
                                              zp if quantized else [], raw, variable=variable)
        return name

    def const(self, name: str, values, dtype: str = "int32", **q) -> str:
        v = np.asarray(values, dtype=dtype)
        return self.tensor(name, list(v.shape), dtype, data=v, **q)

    def input(self, name: str, shape, dtype: str = "int8", scale: float = 0.05, zp: int = 0) -> str:
        self.inputs.append(self.tensor(name, shape, dtype, scale, zp))
        return name

    def op(self, kind: str, inputs: list[str], outputs: list[str], intermediates: list[str] | None = None,
           **options) -> None:
        self.ops.append((kind, inputs, outputs, options))
        if intermediates:
            self.intermediates[len(self.ops) - 1] = intermediates

    def write(self, path: str | Path, outputs: list[str], description: str = "tinyml-pio op test model") -> Path:
        b = flatbuffers.Builder(4096)
        buf_offs, t_offs = write_tensors(b, self.tables)
        BO, BOp = fb("BuiltinOptions").BuiltinOptions, fb("BuiltinOperator").BuiltinOperator
        kinds = list(dict.fromkeys(k for k, *_ in self.ops))
        op_offs = []
        for pos, (kind, ins, outs, options) in enumerate(self.ops):
            table = OPTIONS[kind]
            opt_type, opt = 0, 0
            if table is not None:
                mod = fb(table)
                getattr(mod, f"{table}Start")(b)
                for k, v in options.items():
                    getattr(mod, f"{table}Add{_camel(k)}")(b, v)
                opt, opt_type = getattr(mod, f"{table}End")(b), getattr(BO, table)
            idx = lambda names: [self.names[n] if n else -1 for n in names]  # noqa: E731
            op_offs.append(operator(b, kinds.index(kind), idx(ins), idx(outs), opt_type, opt,
                                    idx(self.intermediates.get(pos, []))))
        codes = [(getattr(BOp, k), 1) for k in kinds]
        return finish_model(b, path, buf_offs, t_offs, op_offs, codes, [self.names[n] for n in self.inputs],
                            [self.names[n] for n in outputs], description)


def coverage_chains(outdir: str | Path) -> dict[str, Path]:
    """Two models that chain every operator added for issue 13 (for the QEMU end-to-end tests).

    "ops_chain_runtime" is checked against tflite-runtime; "ops_chain_micro" holds ELU and SUM,
    whose reference is tflite-micro (tinyml_pio/reference.py)."""
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    q = dict(scale=0.05, zp=3)
    n = Net()
    x = n.input("x", [1, 8, 8, 4], **q)
    n.op("SPACE_TO_DEPTH", [x], [n.tensor("s2d", [1, 4, 4, 16], **q)], block_size=2)
    n.op("DEPTH_TO_SPACE", ["s2d"], [n.tensor("d2s", [1, 8, 8, 4], **q)], block_size=2)
    n.op("STRIDED_SLICE", ["d2s", n.const("ss_b", [0, 0, 1, 0]), n.const("ss_e", [1, 8, 8, 4]),
                           n.const("ss_s", [1, 2, 2, 1])], [n.tensor("ss", [1, 4, 4, 4], **q)])
    n.op("SLICE", ["ss", n.const("sl_b", [0, 1, 0, 0]), n.const("sl_s", [1, 3, -1, 4])], [n.tensor("sl", [1, 3, 4, 4], **q)])
    n.op("SPLIT", [n.const("sp_axis", [3]), "sl"], [n.tensor("a", [1, 3, 4, 2], **q), n.tensor("b", [1, 3, 4, 2], **q)],
         num_splits=2)
    n.op("SUB", ["a", "b"], [n.tensor("sub", [1, 3, 4, 2], scale=0.08, zp=-3)], fused_activation_function=0)
    n.op("SQUARED_DIFFERENCE", ["a", "b"], [n.tensor("sqd", [1, 3, 4, 2], scale=0.1, zp=-128)])
    n.op("PRELU", ["sub", n.const("alpha", np.array([[[[40, -90]]]]), "int8", scale=0.01, zp=0)],
         [n.tensor("prelu", [1, 3, 4, 2], scale=0.06, zp=5)])
    n.op("PACK", ["a", "b"], [n.tensor("pack", [2, 1, 3, 4, 2], **q)], values_count=2, axis=0)
    n.op("UNPACK", ["pack"], [n.tensor("u0", [1, 3, 4, 2], **q), n.tensor("u1", [1, 3, 4, 2], **q)], num=2, axis=0)
    n.op("GATHER", ["u1", n.const("g_idx", [3, 0, 0, 2])], [n.tensor("gather", [1, 3, 4, 2], **q)], axis=2)
    n.op("REDUCE_MAX", ["gather", n.const("rm_axis", [1])], [n.tensor("rmax", [1, 4, 2], **q)], keep_dims=False)
    n.op("RSQRT", ["sqd"], [n.tensor("rsqrt", [1, 3, 4, 2], scale=0.02, zp=-128)])
    n.op("SPLIT_V", ["d2s", n.const("sv_sizes", [1, -1]), n.const("sv_axis", [-1])],
         [n.tensor("sv0", [1, 8, 8, 1], **q), n.tensor("sv1", [1, 8, 8, 3], **q)], num_splits=2)
    n.op("ARG_MAX", ["sv1", n.const("am_axis", [3])], [n.tensor("argmax", [1, 8, 8], "int32")], output_type=2)
    n.op("ARG_MIN", ["u0", n.const("an_axis", [1])], [n.tensor("argmin", [1, 4, 2], "int32")], output_type=2)
    n.op("L2_NORMALIZATION", ["a"], [n.tensor("l2", [1, 3, 4, 2], scale=1 / 128, zp=0)])
    n.op("CAST", ["argmax"], [n.tensor("argmax_f", [1, 8, 8], "float32")])
    n.op("CAST", ["rmax"], [n.tensor("rmax_i16", [1, 4, 2], "int16")])
    n.op("BATCH_MATMUL", ["a", "b"], [n.tensor("bmm", [1, 3, 4, 4], scale=0.1, zp=1)], adj_y=True)
    rng = np.random.default_rng(13)
    w = n.tensor("tc_w", [3, 3, 3, 4], "int8", scale=[0.01, 0.02, 0.015], zp=[0, 0, 0],
                 data=rng.integers(-127, 128, size=(3, 3, 3, 4)))
    n.op("TRANSPOSE_CONV", [n.const("tc_shape", [1, 6, 8, 3]), w, "sl",
                            n.tensor("tc_b", [3], "int32", data=rng.integers(-500, 500, size=3))],
         [n.tensor("tconv", [1, 6, 8, 3], scale=0.1, zp=-5)], padding=0, stride_h=2, stride_w=2)
    runtime = n.write(out / "ops_chain_runtime.tflite", ["prelu", "argmax_f", "rsqrt", "rmax_i16", "argmin", "l2", "bmm",
                                                          "tconv"],
                      "tinyml-pio issue 13 operators, tflite-runtime reference")
    m = Net()
    m.input("x", [2, 5, 6], scale=0.04, zp=10)
    m.op("ELU", ["x"], [m.tensor("elu", [2, 5, 6], scale=0.03, zp=-90)])
    m.op("SUM", ["elu", m.const("axis", [2])], [m.tensor("sum", [2, 5], scale=0.1, zp=-20)], keep_dims=False)
    micro = m.write(out / "ops_chain_micro.tflite", ["sum", "elu"], "tinyml-pio issue 13 operators, tflite-micro reference")
    return {"ops_chain_runtime": runtime, "ops_chain_micro": micro}


def float_tail(outdir: str | Path) -> Path:
    """int8 FULLY_CONNECTED -> DEQUANTIZE -> a float tail with every float32 kernel: FULLY_CONNECTED,
    ADD (broadcast), MUL, TANH, LOGISTIC, CONCATENATION, RESHAPE, MEAN, SOFTMAX, LOG_SOFTMAX."""
    rng = np.random.default_rng(21)
    n = Net()
    x = n.input("x", [2, 16], scale=0.05, zp=-3)
    w = n.const("w", rng.integers(-127, 128, size=(12, 16)), "int8", scale=0.01, zp=0)
    bias = n.tensor("bias", [12], "int32", data=rng.integers(-300, 300, size=12))
    n.op("FULLY_CONNECTED", [x, w, bias], [n.tensor("fc", [2, 12], scale=0.12, zp=4)], fused_activation_function=0)
    n.op("DEQUANTIZE", ["fc"], [n.tensor("deq", [2, 12], "float32")])
    wf = n.const("wf", rng.normal(size=(10, 12)).astype(np.float32) * 0.3, "float32")
    bf = n.const("bf", rng.normal(size=10).astype(np.float32), "float32")
    n.op("FULLY_CONNECTED", ["deq", wf, bf], [n.tensor("ffc", [2, 10], "float32")], fused_activation_function=0)
    n.op("ADD", ["ffc", n.const("row", rng.normal(size=(1, 10)).astype(np.float32), "float32")],
         [n.tensor("fadd", [2, 10], "float32")], fused_activation_function=0)
    n.op("MUL", ["fadd", "ffc"], [n.tensor("fmul", [2, 10], "float32")], fused_activation_function=1)
    n.op("TANH", ["fadd"], [n.tensor("ftanh", [2, 10], "float32")])
    n.op("LOGISTIC", ["fmul"], [n.tensor("fsig", [2, 10], "float32")])
    n.op("CONCATENATION", ["ftanh", "fsig"], [n.tensor("fcat", [2, 20], "float32")], axis=1,
         fused_activation_function=0)
    n.op("RESHAPE", ["fcat", n.const("shape", [2, 4, 5])], [n.tensor("fres", [2, 4, 5], "float32")])
    n.op("MEAN", ["fres", n.const("axis", [1])], [n.tensor("fmean", [2, 5], "float32")], keep_dims=False)
    n.op("SOFTMAX", ["fmean"], [n.tensor("fsoft", [2, 5], "float32")], beta=1.7)
    n.op("LOG_SOFTMAX", ["ffc"], [n.tensor("flogsoft", [2, 10], "float32")])
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    return n.write(out / "float_tail.tflite", ["fsoft", "flogsoft"], "tinyml-pio float tail after DEQUANTIZE")
