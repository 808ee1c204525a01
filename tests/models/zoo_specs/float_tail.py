"""PyTorch-style float tails: an int8 body, then DEQUANTIZE and float32 operators, made by the
converter's selective quantization (Spec.float_ops). The hand-written tail with every float kernel
is tests/op_models.py::float_tail; these are what a converter writes."""

import tensorflow as tf

from . import Spec

L = tf.keras.layers


def conv_mean_log_softmax():
    inp = tf.keras.Input((8, 8, 2), batch_size=1)
    x = L.Conv2D(6, 3, activation="relu")(inp)
    x = L.GlobalAveragePooling2D()(x)
    x = L.Dense(5)(x)
    return tf.keras.Model(inp, L.Lambda(lambda t: tf.nn.log_softmax(t))(x))


def mlp_softmax():
    inp = tf.keras.Input((20,), batch_size=1)
    x = L.Dense(12, activation="relu")(inp)
    x = L.Dense(6)(x)
    return tf.keras.Model(inp, L.Softmax()(x))


def conv_mean_tanh():
    inp = tf.keras.Input((6, 6, 3), batch_size=1)
    x = L.Conv2D(4, 3, padding="same")(inp)
    x = L.Lambda(lambda t: tf.reduce_mean(t, axis=[1, 2]))(x)
    return tf.keras.Model(inp, L.Activation("tanh")(x))


SPECS = [
    Spec("float_tail_mean_fc_log_softmax", conv_mean_log_softmax, io="float32", seed=70,
         float_ops=("MEAN", "FULLY_CONNECTED", "LOG_SOFTMAX")),
    Spec("float_tail_softmax", mlp_softmax, io="float32", seed=71, float_ops=("SOFTMAX",)),
    Spec("float_tail_mean_tanh", conv_mean_tanh, io="float32", seed=72, float_ops=("MEAN", "TANH")),
]
