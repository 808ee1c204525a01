"""Train the digits_cnn model: a small int8 CNN on scikit-learn's handwritten digits (8x8, 10 classes).

Run with TensorFlow (2.15) and scikit-learn installed, from anywhere:

    python example_projects/digits_cnn/train.py

Seeded and deterministic: the same TensorFlow version writes the same files. Outputs (committed):

    models/digits_cnn.tflite   full-integer int8 model (int8 input and output), < 10 KB
    include/test_samples.h     one test image per class and the two hardest ones (int8, already
                               quantized), their labels and the int8 outputs TFLite's reference
                               kernels give for them

It prints the test accuracy of the float model and of the int8 model (tflite-runtime's reference
kernels, the ones the generated C matches bit for bit).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

HERE = Path(__file__).resolve().parent
MODEL = HERE / "models" / "digits_cnn.tflite"
HEADER = HERE / "include" / "test_samples.h"
SEED = 1234
L = tf.keras.layers


def build(batch_size: int | None = None) -> tf.keras.Model:
    """8x8x1 -> conv 3x3 (8) -> depthwise 3x3 -> max pool -> conv 3x3 (16) -> max pool -> dense 32 -> dense 10 -> softmax."""
    inp = tf.keras.Input((8, 8, 1), batch_size=batch_size, name="image")
    x = L.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(inp)
    x = L.DepthwiseConv2D(3, padding="same", activation="relu", name="dw2")(x)
    x = L.MaxPooling2D(2, name="pool2")(x)                      # 4x4x8
    x = L.Conv2D(16, 3, padding="same", activation="relu", name="conv3")(x)
    x = L.MaxPooling2D(2, name="pool3")(x)                      # 2x2x16
    x = L.Flatten(name="flatten")(x)
    x = L.Dense(32, activation="relu", name="fc4")(x)
    x = L.Dropout(0.1, name="drop")(x)
    x = L.Dense(10, name="logits")(x)
    out = L.Softmax(name="probs")(x)
    return tf.keras.Model(inp, out, name="digits_cnn")


def interpreter(model: bytes):
    """TFLite's reference kernels (tflite-runtime if installed, else TensorFlow's bundled TFLite)."""
    try:
        from tflite_runtime.interpreter import Interpreter, OpResolverType
        name = "tflite-runtime"
    except ImportError:
        Interpreter, OpResolverType = tf.lite.Interpreter, tf.lite.experimental.OpResolverType
        name = "tf.lite"
    it = Interpreter(model_content=model, experimental_op_resolver_type=OpResolverType.BUILTIN_REF, num_threads=1)
    it.allocate_tensors()
    return it, name


def run_int8(it, xq: np.ndarray) -> np.ndarray:
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    outs = []
    for x in xq:
        it.set_tensor(i["index"], x[None])
        it.invoke()
        outs.append(it.get_tensor(o["index"])[0].copy())
    return np.stack(outs)


def c_rows(a: np.ndarray, indent: str = "    ") -> str:
    return ",\n".join(indent + "{" + ", ".join(str(int(v)) for v in row.reshape(-1)) + "}" for row in a)


def main() -> int:
    tf.keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()

    digits = load_digits()
    x = (digits.images.astype(np.float32) / 16.0)[..., None]  # 0..16 -> 0..1
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=SEED, stratify=y)

    model = build()
    model.compile(optimizer=tf.keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=40, batch_size=32, validation_split=0.1, verbose=0, shuffle=True)
    float_acc = float(np.mean(np.argmax(model.predict(x_test, verbose=0), axis=1) == y_test))

    # batch size 1 for the converter: static shapes all the way through
    infer = build(batch_size=1)
    infer.set_weights(model.get_weights())

    def representative():
        for i in range(0, len(x_train), 4):  # every 4th training image
            yield [x_train[i:i + 1]]

    conv = tf.lite.TFLiteConverter.from_keras_model(infer)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    tflite = conv.convert()
    MODEL.parent.mkdir(exist_ok=True)
    MODEL.write_bytes(tflite)

    it, it_name = interpreter(tflite)
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    in_scale, in_zp = inp["quantization"]
    out_scale, out_zp = out["quantization"]
    xq_test = np.clip(np.round(x_test / in_scale) + in_zp, -128, 127).astype(np.int8)
    q_out = run_int8(it, xq_test)
    int8_pred = np.argmax(q_out, axis=1)
    int8_acc = float(np.mean(int8_pred == y_test))

    # test samples: the first test image of each class, then the two test images the int8 model
    # finds hardest (lowest output for the true class): usually misclassified
    idx = [int(np.flatnonzero(y_test == c)[0]) for c in range(10)]
    true_score = q_out[np.arange(len(y_test)), y_test].astype(np.int32)
    idx += [int(i) for i in np.argsort(true_score, kind="stable") if int(i) not in idx][:2]
    samples, labels, expected = xq_test[idx], y_test[idx], q_out[idx]
    HEADER.parent.mkdir(exist_ok=True)
    HEADER.write_text(f"""\
/* Generated by train.py (seed {SEED}): do not edit, run `python train.py` again.
 * One image per class from the scikit-learn digits test split and the two the int8 model finds
 * hardest (samples 10, 11: its output for the true class is lowest), quantized to the model's input
 * (scale {in_scale:.9g}, zero point {in_zp}); test_expected is what TFLite's reference kernels
 * ({it_name}, BUILTIN_REF) output for it: the firmware must print exactly these values. */
#ifndef TEST_SAMPLES_H
#define TEST_SAMPLES_H

#include <stdint.h>

#define TEST_NUM_SAMPLES {len(idx)}
#define TEST_INPUT_SIZE {samples[0].size}
#define TEST_OUTPUT_SIZE {expected.shape[1]}

static const char *const test_class_names[TEST_OUTPUT_SIZE] = {{
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}};

/* 8x8 images, row-major, int8 */
static const int8_t test_inputs[TEST_NUM_SAMPLES][TEST_INPUT_SIZE] = {{
{c_rows(samples)}
}};

static const uint8_t test_labels[TEST_NUM_SAMPLES] = {{{", ".join(str(int(v)) for v in labels)}}};

/* int8 softmax outputs (scale {out_scale:.9g}, zero point {out_zp}) */
static const int8_t test_expected[TEST_NUM_SAMPLES][TEST_OUTPUT_SIZE] = {{
{c_rows(expected)}
}};

#endif /* TEST_SAMPLES_H */
""")

    weights = sum(int(np.prod(w.shape)) for w in infer.get_weights())
    print(f"digits: {len(x_train)} training / {len(x_test)} test images, {weights} parameters")
    print(f"float model test accuracy: {float_acc:.4f}")
    print(f"int8 model test accuracy:  {int8_acc:.4f} ({it_name}, reference kernels)")
    print(f"wrote {MODEL.relative_to(HERE)} ({len(tflite)} bytes) and {HEADER.relative_to(HERE)} "
          f"({len(idx)} samples, int8 predictions {[int(p) for p in int8_pred[idx]]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
