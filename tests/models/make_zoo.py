"""Build the model zoo: small int8 TFLite models covering every supported operator and option.

Run by hand (needs TensorFlow; not part of CI), from the repository root:

    python tests/models/make_zoo.py            # all families
    python tests/models/make_zoo.py conv pool  # only these families (zoo_specs/<family>.py)

Each family module in zoo_specs/ defines SPECS, a list of `Spec`. Weights come from Keras' seeded
initialisers (plus a seeded perturbation so biases are non-zero) and representative data from a
seeded generator, so the files are reproducible. The .tflite files are committed under zoo/.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from zoo_specs import Spec  # noqa: E402

OUT = HERE / "zoo"


def perturb(model: tf.keras.Model, seed: int) -> None:
    """Give biases and norm-free layers non-trivial values so kernels see realistic constants."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        ws = layer.get_weights()
        if ws:
            layer.set_weights([w + rng.normal(0, 0.1, w.shape).astype(w.dtype) for w in ws])


def convert(spec: Spec) -> bytes:
    tf.keras.utils.set_random_seed(spec.seed)
    model = spec.build()
    if spec.fit:
        spec.fit(model)
    else:
        perturb(model, spec.seed)
    if spec.float_copy:  # the float original, beside the int8 model (not in zoo/: it is no int8 model)
        (OUT / "float").mkdir(exist_ok=True)
        (OUT / "float" / f"{spec.name}.tflite").write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    rng = np.random.default_rng(spec.seed + 1)
    shapes = [tuple(i.shape) for i in model.inputs]

    def rep():
        for _ in range(64):
            yield [spec.data(rng, s).astype(np.float32) for s in shapes]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = rep
    ops = tf.lite.OpsSet
    conv.target_spec.supported_ops = [ops.TFLITE_BUILTINS_INT8 if spec.quant == "int8"
                                      else ops.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    io = {"int8": tf.int8, "uint8": tf.uint8, "int16": tf.int16, "float32": tf.float32}[spec.io]
    conv.inference_input_type = io
    conv.inference_output_type = io
    for k, v in spec.converter.items():
        setattr(conv, k, v)
    if spec.float_ops:  # int8 body, then DEQUANTIZE and the float32 operators named
        conv.target_spec.supported_ops = [ops.TFLITE_BUILTINS_INT8, ops.TFLITE_BUILTINS]
        debug = tf.lite.experimental.QuantizationDebugOptions(denylisted_ops=list(spec.float_ops))
        return tf.lite.experimental.QuantizationDebugger(converter=conv, debug_dataset=rep,
                                                         debug_options=debug).get_nondebug_quantized_model()
    return conv.convert()


def main(families: list[str]) -> None:
    OUT.mkdir(exist_ok=True)
    spec_dir = HERE / "zoo_specs"
    names = families or sorted(p.stem for p in spec_dir.glob("*.py") if p.stem != "__init__")
    for fam in names:
        mod = importlib.import_module(f"zoo_specs.{fam}")
        for spec in mod.SPECS:
            data = convert(spec)
            if spec.post:
                data = spec.post(data)
            (OUT / f"{spec.name}.tflite").write_bytes(data)
            print(f"{fam}: {spec.name}.tflite {len(data)} bytes")


if __name__ == "__main__":
    main(sys.argv[1:])
