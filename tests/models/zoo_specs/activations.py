"""Standalone activations (RELU, RELU6, RELU_N1_TO_1, LEAKY_RELU, HARD_SWISH) and QUANTIZE/DEQUANTIZE.

Each activation reads the model input directly, so the converter cannot fuse it into a preceding
operator (it fuses or duplicates Dense + activation); the "shifted" data gives other zero points. The float32 / uint8 I/O variants add QUANTIZE (float -> int8,
uint8 -> int8), QUANTIZE (int8 -> uint8) and DEQUANTIZE (int8 -> float) at the edges; the
concatenation of the model input with a wider-ranged Dense output makes the converter insert an
int8 -> int8 QUANTIZE (the input's scale is fixed).
"""

import numpy as np
import tensorflow as tf

from . import Spec

L = tf.keras.layers


def shifted(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """Asymmetric data (mostly positive): a non-trivial zero point."""
    return rng.normal(1.5, 2.0, size=(1,) + tuple(shape[1:]))


def act_then_dense(act):
    def build():
        x = inp = tf.keras.Input((24,), batch_size=1)
        x = act(x)
        x = L.Dense(10)(x)
        return tf.keras.Model(inp, x)

    return build


def hard_swish(x):
    return L.Lambda(lambda t: t * tf.nn.relu6(t + 3.0) / 6.0)(x)


def relu_n1_to_1(x):
    return L.Lambda(lambda t: tf.clip_by_value(t, -1.0, 1.0))(x)


def requantize_concat():
    """The input joins two concatenations whose other operands have very different ranges: the
    input cannot take both scales, so the converter requantizes it (int8 -> int8 QUANTIZE)."""
    x = inp = tf.keras.Input((24,), batch_size=1)
    a = L.Lambda(lambda t: t * 20.0)(L.Dense(8)(x))
    b = L.Lambda(lambda t: t * 0.1)(L.Dense(8)(x))
    return tf.keras.Model(inp, [L.Concatenate()([x, a]), L.Concatenate()([x, b])])


SPECS = [
    Spec("activations_relu", act_then_dense(L.ReLU())),
    Spec("activations_relu_shifted", act_then_dense(L.ReLU()), seed=1, data=shifted),
    Spec("activations_relu6", act_then_dense(L.ReLU(6.0)), seed=2, data=shifted),
    Spec("activations_relu6_nn", act_then_dense(lambda t: L.Lambda(tf.nn.relu6)(t)), seed=3),
    Spec("activations_relu_n1_to_1", act_then_dense(relu_n1_to_1), seed=4),
    Spec("activations_leaky_relu", act_then_dense(L.LeakyReLU(0.2)), seed=5),
    Spec("activations_leaky_relu_shifted", act_then_dense(L.LeakyReLU(0.2)), seed=6, data=shifted),
    Spec("activations_hard_swish", act_then_dense(hard_swish), seed=7),
    Spec("activations_hard_swish_shifted", act_then_dense(hard_swish), seed=8, data=shifted),
    Spec("activations_float_io", act_then_dense(L.LeakyReLU(0.2)), io="float32", seed=9),
    Spec("activations_uint8_io", act_then_dense(hard_swish), io="uint8", seed=10),
    Spec("activations_requantize", requantize_concat, seed=11),
]
