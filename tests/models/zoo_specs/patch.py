"""Branched prefixes for patch-based inference (tinyml_pio/passes/patch.py): residual inverted
blocks (MobileNetV2's ADD of block input and output), channel concatenations of branches, PAD
before stride-2 depthwise convolutions, and two vision nets at MCU sizes whose first stage
dominates the arena layer by layer. Random (seeded) weights: for memory and bit-exactness, not
accuracy. The nets stop after their high-resolution stages (then pool and classify) so the files
stay small; the layer-by-layer peak sits in the part they keep."""

import tensorflow as tf

from . import Spec

L = tf.keras.layers
relu6 = tf.nn.relu6


def inverted_residual(x, expand: int, out_c: int, stride: int = 1, kernel: int = 3, pad: bool = False):
    """MobileNetV2 / MCUNet block: 1x1 expand, k x k depthwise, 1x1 project, ADD when shapes allow.
    `pad` does stride 2 as Keras' MobileNetV2 does (ZeroPadding2D, then a VALID depthwise)."""
    c = x.shape[-1]
    y = L.Conv2D(c * expand, 1, activation=relu6)(x) if expand > 1 else x
    if pad and stride == 2:
        y = L.ZeroPadding2D(((kernel // 2 - 1, kernel // 2), (kernel // 2 - 1, kernel // 2)))(y)
        y = L.DepthwiseConv2D(kernel, strides=2, padding="valid", activation=relu6)(y)
    else:
        y = L.DepthwiseConv2D(kernel, strides=stride, padding="same", activation=relu6)(y)
    y = L.Conv2D(out_c, 1)(y)
    return L.Add()([x, y]) if stride == 1 and c == out_c else y


def branches():
    """Odd, non-square input; residual blocks with stride 2 between them; an inception cell (1x1,
    3x3 and max-pool branches joined on channels); a residual ADD over a concatenation."""
    inp = tf.keras.Input((37, 29, 3), batch_size=1)
    x = L.Conv2D(8, 3, strides=2, padding="same", activation=relu6)(inp)
    x = inverted_residual(x, 3, 8)
    x = inverted_residual(x, 4, 12, stride=2, kernel=5, pad=True)
    x = inverted_residual(x, 6, 12, kernel=7)
    b1 = L.Conv2D(6, 1, activation="relu")(x)
    b2 = L.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    b2 = L.Conv2D(6, 1, activation="relu")(b2)
    b3 = L.MaxPooling2D(3, strides=1, padding="same")(x)
    x = L.Concatenate()([b1, b2, b3])
    y = L.Conv2D(24, 3, padding="same")(x)
    x = L.Add()([x, y])
    x = L.Conv2D(16, 3, strides=2, padding="valid", activation="relu")(x)
    x = L.GlobalAveragePooling2D()(x)
    return tf.keras.Model(inp, L.Dense(4)(x))


def mcunet_like():
    """MCUNet-shaped at 160 px: kernels 3/5/7 and expand ratios 3/4/6, residuals where shapes
    match; small kernels in the high-resolution blocks, large ones later (MCUNetV2's receptive
    field redistribution, which keeps the patch stage's halo small)."""
    inp = tf.keras.Input((160, 160, 3), batch_size=1)
    x = L.Conv2D(32, 3, strides=2, padding="same", activation=relu6)(inp)
    x = L.DepthwiseConv2D(3, padding="same", activation=relu6)(x)
    x = L.Conv2D(16, 1)(x)
    for expand, out_c, stride, k in ((4, 16, 2, 3), (3, 16, 1, 3), (3, 32, 2, 5), (6, 32, 1, 5), (4, 48, 2, 7),
                                     (3, 48, 1, 7)):
        x = inverted_residual(x, expand, out_c, stride, k)
    x = L.GlobalAveragePooling2D()(x)
    return tf.keras.Model(inp, L.Dense(10)(x))


def mobilenet_v2_like():
    """MobileNetV2-0.35 at 144 px (channels 16-8-8-8-16-16-16-24, expansion 6, Keras' ZeroPadding2D
    before each stride-2 depthwise), up to the 9 x 9 stage."""
    inp = tf.keras.Input((144, 144, 3), batch_size=1)
    x = L.ZeroPadding2D(((0, 1), (0, 1)))(inp)
    x = L.Conv2D(16, 3, strides=2, padding="valid", activation=relu6)(x)
    x = L.DepthwiseConv2D(3, padding="same", activation=relu6)(x)
    x = L.Conv2D(8, 1)(x)
    for out_c, stride in ((8, 2), (8, 1), (16, 2), (16, 1), (16, 1), (24, 2), (24, 1), (24, 1), (32, 2)):
        x = inverted_residual(x, 6, out_c, stride, pad=True)
    x = L.GlobalAveragePooling2D()(x)
    return tf.keras.Model(inp, L.Dense(10)(x))


def image(rng, shape):
    return rng.uniform(-1.0, 1.0, size=(1,) + tuple(shape[1:]))


SPECS = [
    Spec("patch_branches", branches, seed=21),
    Spec("patch_mcunet_160", mcunet_like, seed=22, data=image),
    Spec("patch_mobilenet_v2_144", mobilenet_v2_like, seed=23, data=image),
]
