"""Data movement: TRANSPOSE, PAD/PADV2, CONCATENATION, RESIZE_NEAREST_NEIGHBOR, RESHAPE/SQUEEZE.

The converter rewrites every static-shape tf.squeeze into RESHAPE, so the SQUEEZE model is made by
turning the converter's RESHAPE ops back into SQUEEZE ops in the flatbuffer (`reshape_to_squeeze`,
applied through Spec.post).
"""

import numpy as np
import tensorflow as tf

from . import Spec

L = tf.keras.layers


def lam(fn):
    return L.Lambda(fn)


def transpose_4d():
    inp = tf.keras.Input((4, 6, 8), batch_size=1)
    x = lam(lambda t: tf.transpose(t, [0, 2, 1, 3]))(inp)  # (1, 6, 4, 8)
    x = L.Dense(5)(x)
    x = lam(lambda t: tf.transpose(t, [2, 3, 1, 0]))(x)  # (4, 5, 6, 1): moves the batch axis too
    return tf.keras.Model(inp, x)


def transpose_3d():
    inp = tf.keras.Input((5, 7), batch_size=1)
    x = lam(lambda t: tf.transpose(t, [0, 2, 1]))(inp)  # (1, 7, 5)
    x = L.Dense(6)(x)
    x = lam(lambda t: tf.transpose(t, [2, 1, 0]))(x)  # (6, 7, 1)
    return tf.keras.Model(inp, x)


def pad_spatial():
    inp = tf.keras.Input((5, 6, 3), batch_size=1)
    x = lam(lambda t: tf.pad(t, [[0, 0], [1, 2], [0, 3], [0, 0]]))(inp)  # asymmetric, image style
    x = L.Dense(4)(x)
    x = lam(lambda t: tf.pad(t, [[0, 0], [2, 0], [1, 1], [3, 1]]))(x)  # channel padding too (generic)
    return tf.keras.Model(inp, x)


def pad_v2():
    inp = tf.keras.Input((4, 5, 2), batch_size=1)
    x = L.Dense(3)(inp)
    x = lam(lambda t: tf.pad(t, [[0, 0], [1, 1], [2, 0], [0, 0]], constant_values=0.75))(x)
    x = lam(lambda t: tf.pad(t, [[0, 0], [0, 1], [0, 0], [1, 0]], constant_values=-1.5))(x)
    return tf.keras.Model(inp, x)


def pad_3d():
    inp = tf.keras.Input((6, 4), batch_size=1)
    x = lam(lambda t: tf.pad(t, [[0, 0], [3, 1], [0, 2]]))(inp)
    x = L.Dense(3)(x)
    return tf.keras.Model(inp, x)


def concat_channels():
    a = tf.keras.Input((4, 4, 3), batch_size=1)
    b = tf.keras.Input((4, 4, 5), batch_size=1)
    x = L.Concatenate(axis=-1)([L.Dense(4)(a), L.Dense(2)(b)])
    x = L.Dense(6)(x)
    return tf.keras.Model([a, b], x)


def concat_axes():
    a = tf.keras.Input((3, 4, 2), batch_size=1)
    b = tf.keras.Input((5, 4, 2), batch_size=1)
    c = tf.keras.Input((1, 4, 2), batch_size=1)
    x = L.Concatenate(axis=1)([a, b, c])  # (1, 9, 4, 2), 3 inputs
    z = lam(lambda t: tf.concat([t, t], axis=-3))(x)  # negative axis, same tensor twice: (1, 18, 4, 2)
    const = np.linspace(-1.0, 1.0, 36, dtype=np.float32).reshape(1, 18, 1, 2)
    z = lam(lambda t: tf.concat([t, tf.constant(const)], axis=2))(z)  # a constant (flash) input
    z = L.Dense(3)(z)
    return tf.keras.Model([a, b, c], z)


def concat_2d():
    a = tf.keras.Input((6,), batch_size=1)
    b = tf.keras.Input((10,), batch_size=1)
    x = L.Concatenate(axis=0)([L.Dense(4)(a), L.Dense(4)(b)])  # along the batch axis: (2, 4)
    x = L.Dense(5)(x)
    return tf.keras.Model([a, b], x)


def concat_mixed_ranges():
    """Inputs with very different value ranges: the converter must reconcile their quantization."""
    a = tf.keras.Input((8,), batch_size=1)
    b = tf.keras.Input((8,), batch_size=1)
    x1 = L.Dense(4)(a)
    x2 = lam(lambda t: t * 20.0)(L.Dense(6)(b))
    x = L.Concatenate()([x1, x2])
    x = L.Dense(3)(x)
    return tf.keras.Model([a, b], x)


def resize(size, align_corners=False, half_pixel_centers=False, shape=(4, 4, 3)):
    def build():
        inp = tf.keras.Input(shape, batch_size=1)
        x = L.Dense(4)(inp)
        x = lam(lambda t: tf.compat.v1.image.resize_nearest_neighbor(
            t, size, align_corners=align_corners, half_pixel_centers=half_pixel_centers))(x)
        x = L.Dense(2)(x)
        return tf.keras.Model(inp, x)

    return build


def upsampling2d():
    inp = tf.keras.Input((3, 5, 2), batch_size=1)
    x = L.UpSampling2D((2, 3), interpolation="nearest")(inp)
    x = L.Dense(3)(x)
    return tf.keras.Model(inp, x)


def reshape_squeeze():
    inp = tf.keras.Input((4, 6, 2), batch_size=1)
    x = L.Reshape((8, 6))(inp)
    x = L.Dense(5)(x)
    x = L.Reshape((1, 40, 1))(x)
    x = lam(lambda t: tf.squeeze(t, axis=[1, 3]))(x)  # (1, 40)
    x = L.Dense(7)(x)
    x = lam(lambda t: tf.expand_dims(t, 1))(x)
    x = lam(lambda t: tf.squeeze(t, axis=1))(x)
    return tf.keras.Model(inp, x)


SPECS = [
    Spec("datamove_transpose_4d", transpose_4d, seed=1),
    Spec("datamove_transpose_3d", transpose_3d, seed=2),
    Spec("datamove_pad_spatial", pad_spatial, seed=3),
    Spec("datamove_padv2", pad_v2, seed=4),
    Spec("datamove_pad_3d", pad_3d, seed=5),
    Spec("datamove_concat_channels", concat_channels, seed=6),
    Spec("datamove_concat_axes", concat_axes, seed=7),
    Spec("datamove_concat_batch", concat_2d, seed=8),
    Spec("datamove_concat_mixed_q", concat_mixed_ranges, seed=9),
    Spec("datamove_resize_x2", resize((8, 8)), seed=10),
    Spec("datamove_resize_align", resize((7, 9), align_corners=True, shape=(5, 5, 3)), seed=11),
    Spec("datamove_resize_align_down", resize((3, 4), align_corners=True, shape=(7, 9, 2)), seed=12),
    Spec("datamove_resize_half_pixel", resize((7, 10), half_pixel_centers=True, shape=(5, 6, 2)), seed=13),
    Spec("datamove_resize_half_down", resize((4, 3), half_pixel_centers=True, shape=(6, 7, 2)), seed=14),
    Spec("datamove_resize_odd", resize((7, 5), shape=(3, 4, 2)), seed=15),
    Spec("datamove_upsampling2d", upsampling2d, seed=16),
    Spec("datamove_reshape_squeeze", reshape_squeeze, seed=17),
]


# --------------------------------------------------------------------------------------------
# SQUEEZE (post-processed; see the module docstring).


def squeeze_chain():
    inp = tf.keras.Input((1, 40, 1), batch_size=1)
    x = lam(lambda t: tf.squeeze(t, axis=[1, 3]))(inp)  # RESHAPE -> SQUEEZE dims [1, -1]
    x = L.Dense(7)(x)
    x = lam(lambda t: tf.expand_dims(t, 1))(x)  # (1, 1, 7)
    x = lam(lambda t: tf.squeeze(t))(x)  # RESHAPE -> SQUEEZE dims [] (all): (7,)
    return tf.keras.Model(inp, x)


SQUEEZE_DIMS = [[1, -1], []]  # squeeze_dims for the model's RESHAPE ops, in order


def reshape_to_squeeze(data: bytes, dims_list: list[list[int]]) -> bytes:
    """Replace the model's RESHAPE ops, in order, by SQUEEZE ops with the given squeeze_dims."""
    from tensorflow.lite.python import schema_py_generated as fb
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(data))
    code = fb.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = fb.BuiltinOperator.SQUEEZE
    code.version = 1
    model.operatorCodes.append(code)
    squeeze_code = len(model.operatorCodes) - 1
    reshapes = [op for op in model.subgraphs[0].operators
                if model.operatorCodes[op.opcodeIndex].builtinCode == fb.BuiltinOperator.RESHAPE]
    assert len(reshapes) == len(dims_list), (len(reshapes), dims_list)
    for op, dims in zip(reshapes, dims_list):
        op.opcodeIndex = squeeze_code
        op.inputs = op.inputs[:1]
        op.builtinOptionsType = fb.BuiltinOptions.SqueezeOptions
        op.builtinOptions = fb.SqueezeOptionsT()
        op.builtinOptions.squeezeDims = list(dims)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


SPECS.append(Spec("datamove_squeeze", squeeze_chain, seed=18, post=lambda d: reshape_to_squeeze(d, SQUEEZE_DIMS)))
