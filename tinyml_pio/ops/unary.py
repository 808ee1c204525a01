"""ELU and RSQRT (int8): 256-entry tables of TFLite 2.14's exact computation.

- ELU (activations.cc EluPrepare): PopulateLookupTable<int8_t> with x < 0 ? expm1f(x) : x, float32
  arithmetic, the C library's expm1f.
- RSQRT (elementwise.cc, int8): QuantizeMultiplier(1 / (sqrtf(in_scale) * out_scale)) in Prepare;
  per value v = x - zp: 0 gives 127, else GetInvSqrtQuantizedMultiplierExp(v), then
  MultiplyByQuantizedMultiplier(1, m, s + 20) and MultiplyByQuantizedMultiplier(that, mult,
  shift - 20) + out_zp. TFLite fails the invoke when an input is below the zero point (a negative
  real); the table gives 127 there.
"""

from __future__ import annotations

import ctypes
import ctypes.util

import numpy as np

from .. import fixedpoint as fp
from .. import quant
from ..ir import Graph, Op
from . import Layer, Unsupported, int8_io, lut_layer, register, require_nonconst, require_quant

F32 = np.float32


def _expm1f():
    name = ctypes.util.find_library("m")
    lib = ctypes.CDLL(name) if name else None
    if lib is None:
        return lambda v: F32(np.expm1(F32(v)))
    lib.expm1f.restype, lib.expm1f.argtypes = ctypes.c_float, [ctypes.c_float]
    return lambda v: F32(lib.expm1f(F32(v)))


_EXPM1F = _expm1f()


def _params(g: Graph, op: Op) -> tuple[float, int, float, int]:
    x, y = int8_io(g, op)
    require_nonconst(x, "input")
    (si, zi), (so, zo) = require_quant(x, "input"), require_quant(y, "output")
    if not (si > 0 and so > 0):
        raise Unsupported("non-positive quantization scale")
    return si, zi, so, zo


def elu_table(si: float, zi: int, so: float, zo: int) -> np.ndarray:
    return fp.lut_populate_s8(si, zi, so, zo, lambda v: _EXPM1F(v) if v < 0 else v)


def rsqrt_table(si: float, zi: int, so: float, zo: int) -> np.ndarray:
    mult, shift = quant.quantize_multiplier(1.0 / float(F32(np.sqrt(F32(si)) * F32(so))))
    table = np.zeros(256, np.int64)
    for i, q in enumerate(range(-128, 128)):
        v = q - zi
        if v <= 0:
            table[i] = 127
            continue
        m, s = fp.get_inv_sqrt_quantized_multiplier_exp(v)
        data = int(quant.multiply_by_quantized_multiplier(np.array([1]), m, s + 20)[0])
        o = int(quant.multiply_by_quantized_multiplier(np.array([data]), mult, shift - 20)[0]) + zo
        table[i] = min(127, max(-128, o))
    return table


@register("ELU")
def lower_elu(g: Graph, op: Op) -> Layer:
    return lut_layer(g, op, elu_table(*_params(g, op)), comment="elu as a 256-entry table")


@register("RSQRT")
def lower_rsqrt(g: Graph, op: Op) -> Layer:
    return lut_layer(g, op, rsqrt_table(*_params(g, op)), comment="rsqrt as a 256-entry table")
