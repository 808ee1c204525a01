"""The flatbuffer plumbing shared by the test-model writers (tests/fc_models.py, tests/conv_models.py):
tensors and buffers in, a TFLite file out. Each writer builds its operators' options itself."""

from __future__ import annotations

import importlib
from pathlib import Path

import flatbuffers
import numpy as np


def fb(name: str):
    """A module of the TFLite schema (the tflite-micro wheel's `tflite` package)."""
    return importlib.import_module(f"tflite.{name}")


def bytes_vector(b: flatbuffers.Builder, data: bytes, alignment: int = 16) -> int:
    b.StartVector(1, len(data), alignment)
    b.head = b.head - len(data)
    b.Bytes[b.head:b.head + len(data)] = data
    return b.EndVector()


def int_vector(b: flatbuffers.Builder, values, kind: str = "int32") -> int:
    return b.CreateNumpyVector(np.asarray(values, dtype=kind))


def table_vector(b: flatbuffers.Builder, offsets: list[int]) -> int:
    b.StartVector(4, len(offsets), 4)
    for off in reversed(offsets):
        b.PrependUOffsetTRelative(off)
    return b.EndVector()


class Tables:
    """The model's tensors and buffers as they are declared (buffer 0: empty, for activations)."""

    def __init__(self) -> None:
        self.buffers: list[bytes] = [b""]
        self.tensors: list[dict] = []

    def tensor(self, name: str, shape, ttype: int, scale, zp, data: bytes | None = None, qdim: int = 0,
               variable: bool = False) -> int:
        """Declare a tensor (constant when `data` is given, a state tensor when `variable`); returns its index."""
        buf = 0
        if data is not None:
            self.buffers.append(data)
            buf = len(self.buffers) - 1
        self.tensors.append(dict(name=name, shape=list(shape), type=ttype, scale=np.atleast_1d(scale).astype(np.float32),
                                 zp=np.atleast_1d(zp).astype(np.int64), buffer=buf, qdim=qdim,
                                 variable=variable))
        return len(self.tensors) - 1


def write_tensors(b: flatbuffers.Builder, tables: Tables) -> tuple[list[int], list[int]]:
    """Serialize the buffers and the tensors; children go before parents, so call this before
    building operators."""
    buffers, tensors = tables.buffers, tables.tensors
    B, T, Q = fb("Buffer"), fb("Tensor"), fb("QuantizationParameters")
    buf_offs = []
    for data in buffers:
        vec = bytes_vector(b, data) if data else None
        B.BufferStart(b)
        if vec is not None:
            B.BufferAddData(b, vec)
        buf_offs.append(B.BufferEnd(b))
    t_offs = []
    for t in tensors:
        name = b.CreateString(t["name"])
        shape = int_vector(b, t["shape"])
        scale = b.CreateNumpyVector(t["scale"])
        zp = b.CreateNumpyVector(t["zp"])
        Q.QuantizationParametersStart(b)
        Q.QuantizationParametersAddScale(b, scale)
        Q.QuantizationParametersAddZeroPoint(b, zp)
        Q.QuantizationParametersAddQuantizedDimension(b, t["qdim"])
        q = Q.QuantizationParametersEnd(b)
        T.TensorStart(b)
        T.TensorAddShape(b, shape)
        T.TensorAddType(b, t["type"])
        T.TensorAddBuffer(b, t["buffer"])
        T.TensorAddName(b, name)
        T.TensorAddQuantization(b, q)
        if t.get("variable"):
            T.TensorAddIsVariable(b, True)
        t_offs.append(T.TensorEnd(b))
    return buf_offs, t_offs


def operator(b: flatbuffers.Builder, opcode_index: int, inputs: list[int], outputs: list[int], options_type: int,
             options: int | None, intermediates: list[int] | None = None, *,
             custom_options: bytes | None = None) -> int:
    """One operator; `custom_options`: a CUSTOM operator's options blob (then options_type 0, options None)."""
    O = fb("Operator")
    ins, outs = int_vector(b, inputs), int_vector(b, outputs)
    blob = bytes_vector(b, custom_options, 4) if custom_options else None
    mids = int_vector(b, intermediates) if intermediates else None
    O.OperatorStart(b)
    if mids is not None:
        O.OperatorAddIntermediates(b, mids)
    O.OperatorAddOpcodeIndex(b, opcode_index)
    O.OperatorAddInputs(b, ins)
    O.OperatorAddOutputs(b, outs)
    O.OperatorAddBuiltinOptionsType(b, options_type)
    if options is not None:
        O.OperatorAddBuiltinOptions(b, options)
    if blob is not None:
        O.OperatorAddCustomOptions(b, blob)
    return O.OperatorEnd(b)


def finish_model(b: flatbuffers.Builder, path: str | Path, buf_offs: list[int], t_offs: list[int], op_offs: list[int],
                 codes: list[tuple], inputs: list[int], outputs: list[int], description: str) -> Path:
    """One subgraph "main"; `codes` are (builtin code, version) in opcode-index order, or (32, version,
    custom code) for a CUSTOM operator. Writes `path`."""
    S, M, OC = fb("SubGraph"), fb("Model"), fb("OperatorCode")
    tv, ov = table_vector(b, t_offs), table_vector(b, op_offs)
    sin, sout = int_vector(b, inputs), int_vector(b, outputs)
    sname = b.CreateString("main")
    S.SubGraphStart(b)
    S.SubGraphAddTensors(b, tv)
    S.SubGraphAddInputs(b, sin)
    S.SubGraphAddOutputs(b, sout)
    S.SubGraphAddOperators(b, ov)
    S.SubGraphAddName(b, sname)
    sg = S.SubGraphEnd(b)
    oc_offs = []
    names = {i: b.CreateString(c[2]) for i, c in enumerate(codes) if len(c) > 2}
    for i, (code, version, *_) in enumerate(codes):
        OC.OperatorCodeStart(b)
        if i in names:
            OC.OperatorCodeAddCustomCode(b, names[i])
        OC.OperatorCodeAddDeprecatedBuiltinCode(b, code)
        OC.OperatorCodeAddBuiltinCode(b, code)
        OC.OperatorCodeAddVersion(b, version)
        oc_offs.append(OC.OperatorCodeEnd(b))
    ocv, sgv, bv = table_vector(b, oc_offs), table_vector(b, [sg]), table_vector(b, buf_offs)
    desc = b.CreateString(description)
    M.ModelStart(b)
    M.ModelAddVersion(b, 3)
    M.ModelAddOperatorCodes(b, ocv)
    M.ModelAddSubgraphs(b, sgv)
    M.ModelAddDescription(b, desc)
    M.ModelAddBuffers(b, bv)
    b.Finish(M.ModelEnd(b), file_identifier=b"TFL3")
    out = Path(path)
    out.write_bytes(bytes(b.Output()))
    return out
