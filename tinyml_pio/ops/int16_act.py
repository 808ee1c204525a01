"""16x8 SOFTMAX, LOGISTIC, TANH and CONCATENATION (int16 -> int16), as TFLite 2.14 runs them under
kReference.

- SOFTMAX (softmax.cc, int16): output scale 1/32768 and zero points 0; the input difference to
  the row maximum is rescaled so that [-65535, 0] covers [-10, 0] (QuantizeMultiplier of
  input_scale * beta / (10 / 65535)), exp and 1/(1+x) come from two 513-entry LUTs built by
  gen_lut (here `gen_lut_s16`), reference_ops::SoftmaxInt16 does the rest.
- LOGISTIC / TANH (activations.cc, int16, kReference): reference_integer_ops::Logistic / Tanh, the
  input rescaled to 1/(3 * 4096) (a multiplier and right shift found by doubling), interpolation in
  the 256-entry table of sigmoid(i / 24) in Q0.16; a power-of-two input scale 2^-12 takes the
  multiplier 3 with no shift. Output scale 1/32768, zero point 0.
- CONCATENATION: the int8 byte copy on int16 elements (no rescaling, like TFLite).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from .. import quant
from ..ir import Graph, Op, Tensor
from . import ConstArg, Layer, ScratchArg, TensorArg, Unsupported, register_int16, require_same_shape
from .datamove import lower_concat
from .int16 import _io
from .softmax import _rows

Q15_SCALE = 1.0 / 32768


def _round(v: float) -> float:
    """TfLiteRound (std::round): half away from zero."""
    return math.copysign(math.floor(abs(v) + 0.5), v)


def gen_lut_s16(func: Callable[[float], float], lo: float, hi: float) -> np.ndarray:
    """TFLite's gen_lut<double, int16_t, int16_t> with output range [-1, 1]: 512 samples of func on
    [lo, hi), each biased by half the interpolation error at its midpoint, and func(hi) last."""
    steps = 512
    step = (hi - lo) / steps
    half = step / 2
    inv = 65536.0 / 2.0
    lut = np.zeros(steps + 1, np.int64)
    for i in range(steps):
        val, mid, nxt = func(lo + i * step), func(lo + i * step + half), func(lo + (i + 1) * step)
        sample = _round(val * inv)
        interp = _round((nxt * inv + _round(val * inv)) / 2)
        bias = _round((interp - _round(mid * inv)) / 2)
        lut[i] = min(max(sample - bias, -32768.0), 32767.0)
    lut[steps] = min(max(_round(func(hi) * inv), -32768.0), 32767.0)
    return lut.astype(np.int16)


def _q15_output(y: Tensor, what: str) -> None:
    if abs(float(np.float32(y.quant.s)) - Q15_SCALE) > 1e-3 * Q15_SCALE:
        raise Unsupported(f"int16 {what} output must have scale 1/32768 (got {y.quant.s:g}); TFLite refuses it too")


@register_int16("SOFTMAX")
def lower_softmax_16x8(g: Graph, op: Op) -> Layer:
    x, y, si, _ = _io(g, op)
    require_same_shape(x, y)
    _q15_output(y, "softmax")
    beta = np.float32(op.options.get("beta", 1.0))
    mult, shift = quant.quantize_multiplier(float(np.float32(si) * beta) / (10.0 / 65535.0))
    outer, depth = _rows(x.shape)
    return Layer(
        op=op, func="tinyml_softmax_s16", header="tinyml/softmax.h", params_type="tinyml_softmax_s16_params_t",
        params=dict(outer=outer, depth=depth, input_multiplier=mult, input_shift=shift),
        args=[ConstArg("exp_lut"), ConstArg("recip_lut"), TensorArg(x.index), ScratchArg("int16_t"),
              TensorArg(y.index, const=False)],
        consts={"exp_lut": gen_lut_s16(math.exp, -10.0, 0.0), "recip_lut": gen_lut_s16(lambda v: 1.0 / (1.0 + v), 0.0, 1.0)},
        scratch_bytes=2 * depth, inplace=(x.index, y.index), comment=f"beta={float(beta):g}",
    )


# TFLite's int16 sigmoid table (sigmoid(i / 24) in Q0.16, i = 0..255). Its entries are not a plain
# rounding of 65536 * sigmoid(i / 24) (27 of them are 1 higher, tuned for the interpolation), so they
# are measured, not computed: tflite-runtime's int16 TANH at input scale 1/6144 takes x = 128 * i to
# table[i] - 32768 exactly. tests/test_int16.py::test_sigmoid_table_is_tflites re-measures them.
_SIGMOID_Q16 = (
    32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149, 40794, 41432, 42064, 42688,
    43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369, 47911, 48443, 48964, 49475, 49975, 50464, 50942, 51409,
    51865, 52311, 52745, 53169, 53581, 53983, 54374, 54755, 55125, 55485, 55834, 56174, 56503, 56823, 57133, 57433,
    57724, 58007, 58280, 58544, 58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370, 60565, 60753, 60935, 61110,
    61279, 61441, 61599, 61750, 61896, 62036, 62172, 62302, 62428, 62549, 62666, 62778, 62886, 62990, 63090, 63186,
    63279, 63368, 63454, 63536, 63615, 63691, 63765, 63835, 63903, 63968, 64030, 64090, 64148, 64204, 64257, 64308,
    64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652, 64687, 64721, 64754, 64786, 64816, 64845, 64873, 64900,
    64926, 64950, 64974, 64997, 65019, 65039, 65060, 65079, 65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208,
    65221, 65234, 65246, 65258, 65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360, 65367,
    65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425, 65429, 65433, 65438, 65442, 65445, 65449,
    65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474, 65476, 65479, 65481, 65483, 65485, 65488, 65489, 65491,
    65493, 65495, 65497, 65498, 65500, 65501, 65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513,
    65514, 65515, 65516, 65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522, 65523, 65523, 65524, 65524,
    65525, 65525, 65526, 65526, 65526, 65527, 65527, 65528, 65528, 65528, 65529, 65529, 65529, 65529, 65530, 65530,
    65530, 65530, 65531, 65531, 65531, 65531, 65531, 65532, 65532, 65532, 65532, 65532, 65532, 65533, 65533, 65533,
    65533, 65533, 65533, 65533, 65533, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65535,
)


def sigmoid_table() -> np.ndarray:
    """The 256-entry Q0.16 sigmoid table of TFLite's int16 LOGISTIC and TANH."""
    return np.array(_SIGMOID_Q16, np.uint16)


def checked_log2(x: float) -> tuple[bool, int]:
    """CheckedLog2 in float: (whether x is a power of two within 1e-3 in the exponent, the rounded exponent)."""
    f = np.float32
    lg = f(np.log(f(x))) * (f(1.0) / f(np.log(f(2.0))))
    r = f(np.round(lg))
    return bool(abs(lg - r) < f(1e-3)), int(r)


def sigmoid_input_scaling(in_scale: float) -> tuple[int, int]:
    """(multiplier, right shift) taking the int16 input to the table's 1/(3 * 4096) scale."""
    pot, log2 = checked_log2(in_scale)
    if pot and (15 - 3) + log2 == 0:
        return 3, 0  # the reference's power-of-two case: 3 << 0
    m, shift = float(np.float32(in_scale)) * 4096.0 * 3.0, 0
    while m <= 32767.0 / 2.0 and shift <= 30:
        shift += 1
        m *= 2.0
    if int(m) > 0x7FFFFFFF // 32768:
        raise Unsupported(f"input scale {in_scale:g} is too large for TFLite's int16 logistic/tanh")
    return int(m), shift


def _sigmoid_layer(g: Graph, op: Op, func: str) -> Layer:
    x, y, si, _ = _io(g, op)
    require_same_shape(x, y)
    _q15_output(y, op.type.lower())
    mult, shift = sigmoid_input_scaling(si)
    return Layer(
        op=op, func=func, header="tinyml/lut.h", params_type="tinyml_sigmoid_s16_params_t",
        params=dict(input_multiplier=mult, input_left_shift=shift),
        # the Q0.16 table as int16 bits (no uint16 constant arrays), read through a uint16 pointer
        args=[ConstArg("table", cast="const uint16_t *"), TensorArg(x.index), TensorArg(y.index, const=False),
              str(x.size)],
        consts={"table": sigmoid_table().view(np.int16)}, inplace=(x.index, y.index), comment=f"x * {mult} >> {shift}",
    )


@register_int16("LOGISTIC")
def lower_logistic_16x8(g: Graph, op: Op) -> Layer:
    return _sigmoid_layer(g, op, "tinyml_logistic_s16")


@register_int16("TANH")
def lower_tanh_16x8(g: Graph, op: Op) -> Layer:
    return _sigmoid_layer(g, op, "tinyml_tanh_s16")


@register_int16("CONCATENATION")
def lower_concat_16x8(g: Graph, op: Op) -> Layer:
    return lower_concat(g, op, "int16")
