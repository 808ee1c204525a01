"""Build the deliberately bad models the CLI error tests use (run by hand; needs TensorFlow).

    python tests/models/make_bad.py

float_only.tflite      a float32 model (no quantization at all)
custom_op.tflite       an int8 model with a TF-select (custom "Flex") operator
unsupported_ops.tflite an int8 model with ARG_MAX over a float tensor, which tinyml-pio refuses (its
                       SQUARED_DIFFERENCE was unsupported too until issue 13)
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

OUT = Path(__file__).resolve().parent / "bad"
L = tf.keras.layers


def rep():
    rng = np.random.default_rng(0)
    for _ in range(16):
        yield [rng.normal(size=(1, 8)).astype(np.float32)]


def main() -> None:
    OUT.mkdir(exist_ok=True)
    tf.keras.utils.set_random_seed(0)
    inp = tf.keras.Input((8,), batch_size=1)
    model = tf.keras.Model(inp, L.Dense(4)(L.Dense(8, activation="relu")(inp)))
    (OUT / "float_only.tflite").write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())

    @tf.function(input_signature=[tf.TensorSpec((1, 8), tf.float32)])
    def custom(x):
        return tf.math.special.bessel_i0e(x) + x

    conv = tf.lite.TFLiteConverter.from_concrete_functions([custom.get_concrete_function()], custom)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    conv.allow_custom_ops = True
    (OUT / "custom_op.tflite").write_bytes(conv.convert())

    inp = tf.keras.Input((8,), batch_size=1)
    h = L.Dense(8)(inp)
    sq = L.Lambda(lambda t: tf.math.squared_difference(t, 0.5))(h)
    am = L.Lambda(lambda t: tf.cast(tf.argmax(t, axis=-1), tf.float32))(sq)
    model = tf.keras.Model(inp, [sq, am])
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = rep
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
    conv.inference_input_type = tf.int8
    (OUT / "unsupported_ops.tflite").write_bytes(conv.convert())
    for p in sorted(OUT.glob("*.tflite")):
        print(p.name, p.stat().st_size)


if __name__ == "__main__":
    main()
