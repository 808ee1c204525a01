"""FULLY_CONNECTED variants: activations, keep_num_dims, float/uint8 I/O."""

import tensorflow as tf

from . import Spec

L = tf.keras.layers


def mlp(act: str | None):
    def build():
        x = inp = tf.keras.Input((24,), batch_size=1)
        x = L.Dense(16, activation=act)(x)
        x = L.Dense(10)(x)
        return tf.keras.Model(inp, x)

    return build


def fc_3d():
    inp = tf.keras.Input((5, 12), batch_size=1)
    x = L.Dense(7, activation="relu")(inp)  # keep_num_dims: a 3-D output
    return tf.keras.Model(inp, x)


SPECS = [
    Spec("fc_none", mlp(None)),
    Spec("fc_relu", mlp("relu"), seed=1),
    Spec("fc_relu6", mlp(tf.nn.relu6), seed=2),
    Spec("fc_keep_dims", fc_3d, seed=3),
    Spec("fc_float_io", mlp("relu"), io="float32", seed=4),
    Spec("fc_uint8_io", mlp("relu"), io="uint8", seed=5),
]
