"""ADD, MUL, MAXIMUM, MINIMUM variants: same shape, broadcasting (constant or second input),
fused activations (NONE/RELU/RELU6/RELU_N1_TO_1), two graph inputs, residual adds."""

import numpy as np
import tensorflow as tf

from . import Spec

L = tf.keras.layers


def _const(shape, seed, lo=-1.0, hi=1.0):
    return tf.constant(np.random.default_rng(seed).uniform(lo, hi, size=shape).astype(np.float32))


def add_relu_two_inputs():
    """ADD + RELU (fused) of two graph inputs of the same shape."""
    a = tf.keras.Input((4, 4, 8), batch_size=1)
    b = tf.keras.Input((4, 4, 8), batch_size=1)
    x = L.ReLU()(L.Add()([a, b]))
    return tf.keras.Model([a, b], x)


def add_broadcast():
    """x[1,4,4,8] + const[1,1,1,8] (RELU6), then + second input [1,4,1,1] (no activation),
    then const[1,4,1,1] + result (constant as the FIRST operand)."""
    x = tf.keras.Input((4, 4, 8), batch_size=1)
    s = tf.keras.Input((4, 1, 1), batch_size=1)
    c1 = _const((1, 1, 1, 8), 10)
    c2 = _const((1, 4, 1, 1), 11, -2.0, 2.0)
    y = L.Lambda(lambda t: tf.nn.relu6(t + c1))(x)
    y = L.Lambda(lambda t: t[0] + t[1])([y, s])
    y = L.Lambda(lambda t: c2 + t)(y)
    return tf.keras.Model([x, s], y)


def add_n1_to_1():
    """ADD with a fused RELU_N1_TO_1 (clip to [-1, 1]) and a rank-2 broadcast [1,12] + [1,1]."""
    a = tf.keras.Input((12,), batch_size=1)
    b = tf.keras.Input((1,), batch_size=1)
    y = L.Lambda(lambda t: tf.minimum(tf.maximum(t[0] + t[1], -1.0), 1.0))([a, b])
    return tf.keras.Model([a, b], y)


def mul_same_and_broadcast():
    """MUL of two inputs (same shape, RELU), then * const[1,1,1,8], then * second-input-shaped [1,4,1,1]."""
    a = tf.keras.Input((4, 4, 8), batch_size=1)
    b = tf.keras.Input((4, 4, 8), batch_size=1)
    c = tf.keras.Input((4, 1, 1), batch_size=1)
    k = _const((1, 1, 1, 8), 20, 0.2, 2.0)
    y = L.ReLU()(L.Multiply()([a, b]))
    y = L.Lambda(lambda t: t * k)(y)
    y = L.Lambda(lambda t: t[0] * t[1])([y, c])
    return tf.keras.Model([a, b, c], y)


def mul_relu6_scalar():
    """MUL by a scalar-like const [1] broadcast to [1,6,5], fused RELU6; MUL with [1,6,1] input, RELU_N1_TO_1."""
    a = tf.keras.Input((6, 5), batch_size=1)
    b = tf.keras.Input((6, 1), batch_size=1)
    y = L.Lambda(lambda t: tf.nn.relu6(t * 3.0))(a)
    y = L.Lambda(lambda t: tf.minimum(tf.maximum(t[0] * t[1], -1.0), 1.0))([y, b])
    return tf.keras.Model([a, b], y)


def maxmin_const():
    """MAXIMUM / MINIMUM with broadcast constants ([1,1,1,8], then [1,4,1,1] as the first operand)."""
    a = tf.keras.Input((4, 4, 8), batch_size=1)
    c1 = _const((1, 1, 1, 8), 30, -1.0, 0.5)
    c2 = _const((1, 4, 1, 1), 31, 0.0, 1.5)
    y = L.Lambda(lambda t: tf.maximum(t, c1))(a)
    y = L.Lambda(lambda t: tf.minimum(c2, t))(y)
    return tf.keras.Model(a, y)


def maxmin_inputs():
    """MAXIMUM / MINIMUM between two graph inputs with broadcasting ([1,4,4,8] vs [1,4,1,8])."""
    a = tf.keras.Input((4, 4, 8), batch_size=1)
    b = tf.keras.Input((4, 1, 8), batch_size=1)
    z = L.Lambda(lambda t: tf.maximum(t[0], t[1]))([a, b])
    w = L.Lambda(lambda t: tf.minimum(t[0], t[1]))([b, a])
    return tf.keras.Model([a, b], [z, w])


def fixed_range(rng, shape):
    """Samples spanning exactly [-2, 2]: every input calibrates to the same scale and zero point, so
    the converter needs no requantizing QUANTIZE before a MAXIMUM/MINIMUM of two inputs."""
    x = rng.uniform(-2.0, 2.0, size=(1,) + tuple(shape[1:]))
    x.reshape(-1)[:2] = (-2.0, 2.0)
    return x


def residual():
    """x -> Dense -> x + h (x has two consumers) -> Dense(relu) -> (y * z) + y."""
    x = tf.keras.Input((16,), batch_size=1)
    h = L.Dense(16)(x)
    y = L.Add()([x, h])
    z = L.Dense(16, activation="relu")(y)
    m = L.Multiply()([y, z])
    o = L.Add()([m, y])
    return tf.keras.Model(x, o)


SPECS = [
    Spec("elementwise_add_relu", add_relu_two_inputs),
    Spec("elementwise_add_bcast", add_broadcast, seed=1),
    Spec("elementwise_add_n1_to_1", add_n1_to_1, seed=2),
    Spec("elementwise_mul", mul_same_and_broadcast, seed=3),
    Spec("elementwise_mul_relu6", mul_relu6_scalar, seed=4),
    Spec("elementwise_maxmin_const", maxmin_const, seed=5),
    Spec("elementwise_maxmin_inputs", maxmin_inputs, seed=8, data=fixed_range),
    Spec("elementwise_residual", residual, seed=6),
]
