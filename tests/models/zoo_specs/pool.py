"""AVERAGE_POOL_2D, MAX_POOL_2D and MEAN variants: SAME/VALID, strides, partial edge windows,
fused activations, global average pooling, MEAN with keep_dims, other axis sets and equal
input/output quantization."""

import numpy as np
import tensorflow as tf

from . import Spec

L = tf.keras.layers


def single(shape, layers):
    def build():
        x = inp = tf.keras.Input(shape, batch_size=1)
        for layer in layers():
            x = layer(x)
        return tf.keras.Model(inp, x)

    return build


def conv_then(shape, fn):
    def build():
        inp = tf.keras.Input(shape, batch_size=1)
        x = L.Conv2D(8, 3, activation="relu")(inp)
        return tf.keras.Model(inp, fn(x))

    return build


def constant_over_space(rng, shape):
    """Every spatial position holds the same dyadic values, so the mean's calibrated range
    equals its input's and the converter gives both the same quantization."""
    return np.broadcast_to(np.round(rng.normal(size=(1, 1, 1, shape[-1])) * 16) / 16, (1,) + tuple(shape[1:]))


def wide(rng, shape):
    """Range about +-9 so that the fused RELU6's upper clamp is below 127."""
    return 3.0 * rng.normal(size=(1,) + tuple(shape[1:]))


SPECS = [
    # 9x9 -> 5x5 with a 3x3 window: one row/column of padding each side, partial edge windows.
    Spec("pool_avg_same_s2", single((9, 9, 4), lambda: [L.AveragePooling2D(3, 2, padding="same")])),
    Spec("pool_avg_same_s1_relu", single((6, 7, 3), lambda: [L.AveragePooling2D(3, 1, padding="same"), L.ReLU()]),
         seed=1),
    Spec("pool_avg_valid", single((8, 7, 3), lambda: [L.AveragePooling2D((2, 3), (2, 1), padding="valid"),
                                                      L.ReLU(6.0)]), seed=2, data=wide),
    # even input with SAME: padding only at the bottom/right.
    Spec("pool_max_same", single((10, 9, 4), lambda: [L.MaxPooling2D(3, 2, padding="same")]), seed=3),
    Spec("pool_max_valid_relu", single((7, 7, 3), lambda: [L.MaxPooling2D(2, 2, padding="valid"), L.ReLU()]),
         seed=4),
    Spec("pool_max_valid_s13", single((9, 8, 2), lambda: [L.MaxPooling2D((3, 2), (1, 3), padding="valid")]),
         seed=5),
    # GlobalAveragePooling2D -> MEAN axes [1, 2], keep_dims false; output quantization differs.
    Spec("pool_gap", conv_then((7, 7, 3), lambda x: L.Dense(5)(L.GlobalAveragePooling2D()(x))), seed=6),
    Spec("pool_mean_keepdims", conv_then((6, 5, 3), lambda x: tf.reduce_mean(x, axis=[1, 2], keepdims=True)),
         seed=7),
    Spec("pool_mean_same_q", single((5, 6, 4), lambda: [lambda x: tf.reduce_mean(x, axis=[1, 2])]),
         data=constant_over_space, seed=8),
    Spec("pool_mean_channels", single((5, 6, 4), lambda: [lambda x: tf.reduce_mean(x, axis=-1, keepdims=True)]),
         seed=9),
    Spec("pool_mean_axis1", single((5, 6, 4), lambda: [lambda x: tf.reduce_mean(x, axis=1)]), seed=10),
    Spec("pool_mean_3d", single((6, 10), lambda: [lambda x: tf.reduce_mean(x, axis=[1], keepdims=True)]),
         seed=11),
    Spec("pool_float_io", single((8, 8, 3), lambda: [L.AveragePooling2D(2), L.MaxPooling2D(2),
                                                     lambda x: tf.reduce_mean(x, axis=[1, 2])]),
         io="float32", seed=12),
]
