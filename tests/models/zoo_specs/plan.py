"""Branched graphs for the memory planner: residual blocks, an inception cell, a U-Net skip, and two
branches whose best execution order is not the converter's. Small, but the order and the placement
matter in each."""

import tensorflow as tf

from . import Spec

L = tf.keras.layers


def inception():
    inp = tf.keras.Input((16, 16, 8), batch_size=1)
    b1 = L.Conv2D(8, 1, activation="relu")(inp)
    b2 = L.Conv2D(16, 1, activation="relu")(inp)
    b2 = L.Conv2D(8, 3, padding="same", activation="relu")(b2)
    b3 = L.MaxPooling2D(3, strides=1, padding="same")(inp)
    b3 = L.Conv2D(8, 1, activation="relu")(b3)
    b4 = L.Conv2D(4, 1, activation="relu")(inp)
    b4 = L.Conv2D(8, 3, padding="same", activation="relu")(b4)
    b4 = L.Conv2D(8, 3, padding="same", activation="relu")(b4)
    x = L.Concatenate()([b1, b2, b3, b4])
    x = L.Conv2D(16, 1, activation="relu")(x)
    x = L.GlobalAveragePooling2D()(x)
    x = L.Dense(4)(x)
    return tf.keras.Model(inp, x)


def residual():
    inp = tf.keras.Input((16, 16, 8), batch_size=1)
    x = L.Conv2D(16, 3, padding="same", activation="relu")(inp)
    for _ in range(2):
        y = L.Conv2D(48, 1, activation=tf.nn.relu6)(x)
        y = L.DepthwiseConv2D(3, padding="same", activation=tf.nn.relu6)(y)
        y = L.Conv2D(16, 1)(y)
        x = L.Add()([x, y])
    x = L.GlobalAveragePooling2D()(x)
    x = L.Dense(4)(x)
    return tf.keras.Model(inp, x)


def unbalanced():
    """Branch a: small intermediate, large output; branch b: large intermediate, small output.
    Running b first keeps a's large output out of b's peak."""
    inp = tf.keras.Input((16, 16, 8), batch_size=1)
    a = L.Conv2D(4, 1, activation="relu")(inp)
    a = L.Conv2D(32, 3, padding="same", activation="relu")(a)
    b = L.Conv2D(48, 1, activation="relu")(inp)
    b = L.Conv2D(2, 1, activation="relu")(b)
    x = L.Concatenate()([a, b])
    x = L.Conv2D(8, 1, activation="relu")(x)
    x = L.GlobalAveragePooling2D()(x)
    return tf.keras.Model(inp, x)


def unet():
    inp = tf.keras.Input((16, 16, 4), batch_size=1)
    c1 = L.Conv2D(8, 3, padding="same", activation="relu")(inp)
    x = L.MaxPooling2D(2)(c1)
    c2 = L.Conv2D(16, 3, padding="same", activation="relu")(x)
    x = L.MaxPooling2D(2)(c2)
    x = L.Conv2D(16, 3, padding="same", activation="relu")(x)
    x = L.UpSampling2D(2)(x)
    x = L.Concatenate()([x, c2])
    x = L.Conv2D(8, 3, padding="same", activation="relu")(x)
    x = L.UpSampling2D(2)(x)
    x = L.Concatenate()([x, c1])
    x = L.Conv2D(2, 1)(x)
    return tf.keras.Model(inp, x)


SPECS = [
    Spec("plan_inception", inception, seed=11),
    Spec("plan_residual", residual, seed=12),
    Spec("plan_unbalanced", unbalanced, seed=13),
    Spec("plan_unet", unet, seed=14),
]
