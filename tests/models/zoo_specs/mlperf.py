"""The two MLPerf Tiny reference networks issue 8 measures beside person detection: DS-CNN keyword
spotting (49x10 MFCC in, 12 classes) and ResNet-8 CIFAR-10 image classification (32x32x3 in).
Layer for layer as MLPerf Tiny's training scripts build them (batch norm folded by the converter),
with random (seeded) weights: for speed, memory and bit-exactness, not accuracy."""

import tensorflow as tf

from . import Spec

L = tf.keras.layers


def ds_cnn():
    """KWS DS-CNN (MLPerf Tiny v0.5+): a 10x4 stride-2 conv to 64 channels, four depthwise-separable
    blocks (3x3 depthwise, 1x1 to 64), average pool over the 25x5 map, a 12-way classifier."""
    inp = tf.keras.Input((49, 10, 1), batch_size=1)
    x = L.Conv2D(64, (10, 4), strides=(2, 2), padding="same", use_bias=False)(inp)
    x = L.ReLU()(L.BatchNormalization()(x))
    for _ in range(4):
        x = L.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
        x = L.ReLU()(L.BatchNormalization()(x))
        x = L.Conv2D(64, 1, use_bias=False)(x)
        x = L.ReLU()(L.BatchNormalization()(x))
    x = L.AveragePooling2D(pool_size=(25, 5))(x)
    x = L.Flatten()(x)
    return tf.keras.Model(inp, L.Softmax()(L.Dense(12)(x)))


def resnet8():
    """IC ResNet-8 (MLPerf Tiny): a 3x3 conv to 16 channels, three residual stacks of two 3x3 convs
    (16, 32 and 64 channels; the second and third start with stride 2 and a 1x1 stride-2 shortcut),
    an 8x8 average pool and a 10-way classifier."""
    inp = tf.keras.Input((32, 32, 3), batch_size=1)
    x = L.Conv2D(16, 3, padding="same")(inp)
    x = L.ReLU()(L.BatchNormalization()(x))
    for filters, stride in ((16, 1), (32, 2), (64, 2)):
        y = L.Conv2D(filters, 3, strides=stride, padding="same")(x)
        y = L.ReLU()(L.BatchNormalization()(y))
        y = L.BatchNormalization()(L.Conv2D(filters, 3, padding="same")(y))
        if stride != 1:
            x = L.Conv2D(filters, 1, strides=stride, padding="same")(x)
        x = L.ReLU()(L.Add()([x, y]))
    x = L.AveragePooling2D(pool_size=8)(x)
    x = L.Flatten()(x)
    return tf.keras.Model(inp, L.Softmax()(L.Dense(10)(x)))


def image(rng, shape):
    return rng.uniform(-1.0, 1.0, size=(1,) + tuple(shape[1:]))


SPECS = [
    Spec("mlperf_ds_cnn_kws", ds_cnn, seed=31),
    Spec("mlperf_resnet8_cifar", resnet8, seed=32, data=image),
]
