"""For an operator tinyml-pio does not implement, the closest one it does (shown by `inspect` and in
the refusal of `convert`), so a user knows how to re-export the model. Every name on the right is a
supported operator (tests/test_op_coverage.py checks it)."""

from __future__ import annotations

# unsupported op -> (supported ops the suggestion uses, how)
ALTERNATIVES: dict[str, tuple[tuple[str, ...], str]] = {
    "RESIZE_BILINEAR": (("RESIZE_NEAREST_NEIGHBOR",), "RESIZE_NEAREST_NEIGHBOR (or a TRANSPOSE_CONV upsampler)"),
    "MIRROR_PAD": (("PAD",), "PAD (constant padding)"),
    "TILE": (("CONCATENATION",), "CONCATENATION of the input with itself"),
    "BROADCAST_TO": (("ADD", "MUL"), "the broadcasting of ADD / MUL"),
    "GATHER_ND": (("GATHER",), "GATHER along one axis"),
    "REVERSE_V2": (("STRIDED_SLICE",), "STRIDED_SLICE with a negative stride"),
    "SPACE_TO_BATCH_ND": (("SPACE_TO_DEPTH", "CONV_2D"), "SPACE_TO_DEPTH, or a dilated CONV_2D"),
    "BATCH_TO_SPACE_ND": (("DEPTH_TO_SPACE", "CONV_2D"), "DEPTH_TO_SPACE, or a dilated CONV_2D"),
    "L2_POOL_2D": (("AVERAGE_POOL_2D",), "AVERAGE_POOL_2D"),
    "LOCAL_RESPONSE_NORMALIZATION": (("L2_NORMALIZATION",), "L2_NORMALIZATION"),
    "REDUCE_MIN": (("REDUCE_MAX",), "REDUCE_MAX (of the negated input)"),
    "REDUCE_PROD": (("SUM",), "SUM"),
    "ADD_N": (("ADD",), "a chain of ADD"),
    "SQUARE": (("MUL",), "MUL of the input with itself"),
    "POW": (("MUL",), "MUL (integer powers)"),
    "DIV": (("MUL",), "MUL by the reciprocal (a constant divisor)"),
    "NEG": (("SUB",), "SUB from zero"),
    "ABS": (("MAXIMUM", "SUB"), "MAXIMUM of x and 0 - x (SUB)"),
    "SQRT": (("RSQRT", "MUL"), "RSQRT times the input (MUL)"),
    "GELU": (("HARD_SWISH", "LOGISTIC", "MUL"), "HARD_SWISH, or x * LOGISTIC(1.702 x)"),
    "RELU_0_TO_1": (("RELU6", "RELU_N1_TO_1"), "RELU6 or RELU_N1_TO_1"),
    "SELECT": (("MAXIMUM", "MINIMUM"), "MAXIMUM / MINIMUM"),
    "SELECT_V2": (("MAXIMUM", "MINIMUM"), "MAXIMUM / MINIMUM"),
    "TOPK_V2": (("ARG_MAX",), "ARG_MAX (top 1)"),
    "CONV_3D": (("CONV_2D",), "CONV_2D over folded depth"),
    "ZEROS_LIKE": (("FILL",), "a constant (FILL, folded at generation time)"),
    "ONES_LIKE": (("FILL",), "a constant (FILL, folded at generation time)"),
    "LSTM": (("UNIDIRECTIONAL_SEQUENCE_LSTM",),
             "UNIDIRECTIONAL_SEQUENCE_LSTM (a Keras LSTM converted with full-integer quantization)"),
    "BIDIRECTIONAL_SEQUENCE_LSTM": (("UNIDIRECTIONAL_SEQUENCE_LSTM", "CONCATENATION"),
                                    "two UNIDIRECTIONAL_SEQUENCE_LSTMs (one on the reversed sequence) and CONCATENATION"),
    "UNIDIRECTIONAL_SEQUENCE_RNN": (("FULLY_CONNECTED", "TANH", "ADD"), "the RNN unrolled into FULLY_CONNECTED, ADD, TANH"),
    "RNN": (("FULLY_CONNECTED", "TANH", "ADD"), "the RNN unrolled into FULLY_CONNECTED, ADD, TANH"),
}


def alternative(op_type: str) -> str:
    """'; closest supported: ...' for an unsupported op type, or ''."""
    alt = ALTERNATIVES.get(op_type)
    return f"; closest supported alternative: {alt[1]}" if alt else ""
