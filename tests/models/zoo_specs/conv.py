"""CONV_2D and DEPTHWISE_CONV_2D variants: padding, stride, dilation, depth multiplier, fused
activations (NONE/RELU/RELU6/RELU_N1_TO_1), per-tensor weights, float I/O, grouped conv."""

import tensorflow as tf

from . import Spec

L = tf.keras.layers


def net(layers, shape=(12, 12, 3)):
    def build():
        x = inp = tf.keras.Input(shape, batch_size=1)
        for layer in layers():
            x = layer(x)
        return tf.keras.Model(inp, x)

    return build


def drop_bias(data: bytes) -> bytes:
    """Make every CONV_2D / DEPTHWISE_CONV_2D bias-less (two inputs), as TFLite allows."""
    from tensorflow.lite.python import schema_py_generated as fb
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(data))
    kinds = (fb.BuiltinOperator.CONV_2D, fb.BuiltinOperator.DEPTHWISE_CONV_2D)
    for op in model.subgraphs[0].operators:
        code = model.operatorCodes[op.opcodeIndex]
        if max(code.builtinCode, code.deprecatedBuiltinCode) in kinds:
            op.inputs = list(op.inputs)[:2]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def clip1(x):
    return tf.clip_by_value(x, -1.0, 1.0)


SPECS = [
    # CONV_2D
    Spec("conv_same_s1_relu", net(lambda: [L.Conv2D(8, 3, padding="same", activation="relu")]), seed=10),
    Spec("conv_valid_s2_relu6", net(lambda: [L.Conv2D(6, 3, strides=2, padding="valid", activation=tf.nn.relu6)]),
         seed=11),
    Spec("conv_dilation2", net(lambda: [L.Conv2D(5, 3, padding="same", dilation_rate=2, activation="relu")]),
         seed=12),
    Spec("conv_pointwise_none", net(lambda: [L.Conv2D(7, 1)]), seed=13),
    # odd sizes, a non-square kernel and stride, SAME padding with an odd total (the "offset" pixel)
    Spec("conv_same_s2_rect", net(lambda: [L.Conv2D(4, (2, 3), strides=(2, 3), padding="same")],
                                  shape=(11, 13, 3)), seed=14),
    Spec("conv_relu_n1_to_1", net(lambda: [L.Conv2D(6, 3, padding="same"), L.Lambda(clip1)]), seed=15),
    Spec("conv_float_io", net(lambda: [L.Conv2D(8, 3, padding="same", activation="relu"),
                                       L.Conv2D(4, 3, strides=2, padding="valid")]), io="float32", seed=16),
    Spec("conv_per_tensor", net(lambda: [L.Conv2D(8, 3, padding="same", activation="relu"),
                                         L.DepthwiseConv2D(3, padding="same")]),
         converter={"_experimental_disable_per_channel": True}, seed=17),
    # the converter always adds a (zero) bias; `drop_bias` removes it so the kernels' NULL-bias path runs
    Spec("conv_no_bias", net(lambda: [L.Conv2D(6, 3, padding="same", use_bias=False),
                                      L.DepthwiseConv2D(3, padding="valid", use_bias=False)]), seed=19,
         post=lambda d: drop_bias(d)),
    Spec("conv_groups2", net(lambda: [L.Conv2D(6, 3, padding="same", groups=2)], shape=(10, 10, 4)), seed=18),
    # DEPTHWISE_CONV_2D
    Spec("conv_dw_m1_same_s2", net(lambda: [L.DepthwiseConv2D(3, strides=2, padding="same", activation="relu")]),
         seed=20),
    Spec("conv_dw_m2_valid", net(lambda: [L.DepthwiseConv2D(3, depth_multiplier=2, padding="valid",
                                                            activation=tf.nn.relu6)]), seed=21),
    Spec("conv_dw_dilation2", net(lambda: [L.DepthwiseConv2D(3, padding="same", dilation_rate=2)]), seed=22),
    Spec("conv_dw_relu_n1_to_1", net(lambda: [L.DepthwiseConv2D((3, 2), strides=(1, 2), padding="same",
                                                                depth_multiplier=3), L.Lambda(clip1)],
                                     shape=(9, 11, 2)), seed=23),
    # a small MobileNet-style block: conv -> dw -> pointwise, mixed activations
    Spec("conv_mobilenet_block", net(lambda: [L.Conv2D(8, 3, strides=2, padding="same", activation=tf.nn.relu6),
                                              L.DepthwiseConv2D(3, padding="same", activation=tf.nn.relu6),
                                              L.Conv2D(12, 1, activation="relu")], shape=(16, 16, 3)), seed=24),
]
