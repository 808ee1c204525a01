"""16x8 post-training quantization (int16 activations, int8 weights, int64 biases): the families
TFLite recommends it for. A small conv net with a softmax head, a depthwise net with a residual
ADD, a MUL, a concatenation and a logistic head, and an audio-style FC/conv regression net with a
tanh head and float I/O (QUANTIZE float -> int16 ... DEQUANTIZE)."""

import tensorflow as tf

from . import Spec

L = tf.keras.layers


def conv_softmax():
    inp = tf.keras.Input((12, 12, 2), batch_size=1)
    x = L.Conv2D(6, 3, padding="same", activation="relu")(inp)
    x = L.MaxPooling2D(2)(x)
    x = L.Conv2D(8, 3, strides=2, padding="valid", activation="relu6")(x)
    x = L.AveragePooling2D(2, padding="same")(x)
    x = L.Flatten()(x)
    x = L.Dense(5)(x)
    return tf.keras.Model(inp, L.Softmax()(x))


def depthwise_logistic():
    inp = tf.keras.Input((10, 10, 4), batch_size=1)
    x = L.DepthwiseConv2D(3, padding="same", activation="relu")(inp)
    y = L.DepthwiseConv2D(3, padding="same", depth_multiplier=2)(x)
    y = L.Conv2D(4, 1)(y)
    x = L.Add()([x, y])
    z = L.Multiply()([x, L.Conv2D(4, 1)(x)])
    x = L.Concatenate()([z, L.DepthwiseConv2D(1)(x)])
    x = L.DepthwiseConv2D(3, strides=2, padding="valid")(x)
    x = L.AveragePooling2D(4)(x)
    x = L.Flatten()(x)
    x = L.Dense(3)(x)
    return tf.keras.Model(inp, L.Activation("sigmoid")(x))


def audio_tanh():
    inp = tf.keras.Input((16, 10), batch_size=1)
    x = L.Reshape((16, 1, 10))(inp)
    x = L.Conv2D(12, (3, 1), activation="relu")(x)
    x = L.DepthwiseConv2D((3, 1), strides=(2, 1))(x)
    x = L.Flatten()(x)
    x = L.Dense(16, activation="relu")(x)
    x = L.Dense(4)(x)
    return tf.keras.Model(inp, L.Activation("tanh")(x))


SPECS = [
    Spec("int16_conv_softmax", conv_softmax, io="int16", quant="16x8", seed=60),
    Spec("int16_depthwise_logistic", depthwise_logistic, io="int16", quant="16x8", seed=61),
    Spec("int16_audio_tanh", audio_tanh, io="float32", quant="16x8", seed=62),
]
