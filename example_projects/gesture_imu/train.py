"""Train the gesture_imu model: an int8 1-D CNN that tells four gestures apart from 1.28 s of
3-axis accelerometer data (64 samples at 50 Hz, in g, +-4 g full scale).

The data is generated (seeded numpy), so the example needs no download:

    idle    the device lies still: gravity (random tilt), sensor noise, slow drift
    shake   fast back-and-forth along a random horizontal direction (4-7 Hz, 0.8-2 g)
    circle  the device draws circles in a random plane (0.8-1.6 Hz, 0.3-0.8 g)
    tap     still, plus one or two sharp knocks (damped ~15 Hz ringing, 1.5-3 g, a few samples)

Run with TensorFlow (2.15):

    python example_projects/gesture_imu/train.py

Outputs (committed):

    models/gesture_imu.tflite   full-integer int8 model (int8 input [1, 64, 3], int8 output [1, 4])
    include/test_samples.h      two test windows per class and the two hardest ones (int8, already
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

HERE = Path(__file__).resolve().parent
MODEL = HERE / "models" / "gesture_imu.tflite"
HEADER = HERE / "include" / "test_samples.h"
SEED = 2024
CLASSES = ["idle", "shake", "circle", "tap"]
T, RATE, FULL_SCALE = 64, 50.0, 4.0  # samples per window, Hz, g
L = tf.keras.layers


# ---- data -------------------------------------------------------------------------------------

def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _frame(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gravity direction of a device tilted up to ~25 degrees, and two axes orthogonal to it."""
    g = _unit(np.array([0.0, 0.0, 1.0]) + rng.normal(0, 0.25, 3))
    a = _unit(np.cross(g, rng.normal(size=3)))
    b = np.cross(g, a)
    return g, a, b


def window(rng: np.random.Generator, label: int) -> np.ndarray:
    t = np.arange(T) / RATE
    g, a, b = _frame(rng)
    x = np.tile(g, (T, 1))                                            # gravity, 1 g
    x += np.outer(t - t.mean(), rng.normal(0, 0.03, 3))               # slow drift
    x += rng.normal(0, rng.uniform(0.01, 0.04), (T, 3))               # sensor noise
    if label == 1:  # shake
        f, amp, ph = rng.uniform(4, 7), rng.uniform(0.8, 2.0), rng.uniform(0, 2 * np.pi)
        d = _unit(np.cos(rng.uniform(0, 2 * np.pi)) * a + np.sin(rng.uniform(0, 2 * np.pi)) * b)
        start, length = rng.integers(0, T // 4), rng.integers(3 * T // 4, T + 1)
        env = np.zeros(T)
        env[start:start + length] = np.hanning(length)[: T - start] if length > 8 else 1.0
        x += np.outer(amp * env * np.sin(2 * np.pi * f * t + ph), d)
        x += rng.normal(0, 0.05, (T, 3))
    elif label == 2:  # circle
        f, amp, ph = rng.uniform(0.8, 1.6), rng.uniform(0.3, 0.8), rng.uniform(0, 2 * np.pi)
        u = _unit(rng.normal(size=3))
        v = _unit(np.cross(u, rng.normal(size=3)))
        x += amp * (np.outer(np.cos(2 * np.pi * f * t + ph), u) + np.outer(np.sin(2 * np.pi * f * t + ph), v))
    elif label == 3:  # tap
        for _ in range(rng.integers(1, 3)):
            t0 = rng.integers(2, T - 8)
            amp, f, tau = rng.uniform(1.5, 3.0), rng.uniform(12, 20), rng.uniform(0.02, 0.05)
            k = np.arange(T - t0) / RATE
            ring = amp * np.exp(-k / tau) * np.cos(2 * np.pi * f * k)
            d = _unit(g + rng.normal(0, 0.3, 3))                      # mostly along the surface normal
            x[t0:] += np.outer(ring, d)
    return np.clip(x, -FULL_SCALE, FULL_SCALE).astype(np.float32)


def dataset(rng: np.random.Generator, per_class: int) -> tuple[np.ndarray, np.ndarray]:
    y = np.repeat(np.arange(len(CLASSES)), per_class)
    y = y[rng.permutation(len(y))]
    x = np.stack([window(rng, int(c)) for c in y])
    return x, y.astype(np.int64)


# ---- model ------------------------------------------------------------------------------------

def build(batch_size: int | None = None) -> tf.keras.Model:
    """[64, 3] -> 3x (Conv1D + ReLU, max pool /2) -> flatten -> dense 32 -> dense 4 -> softmax."""
    inp = tf.keras.Input((T, 3), batch_size=batch_size, name="accel")
    x = L.Conv1D(8, 5, padding="same", activation="relu", name="conv1")(inp)
    x = L.MaxPooling1D(2, name="pool1")(x)                            # 32 x 8
    x = L.Conv1D(16, 5, padding="same", activation="relu", name="conv2")(x)
    x = L.MaxPooling1D(2, name="pool2")(x)                            # 16 x 16
    x = L.Conv1D(16, 3, padding="same", activation="relu", name="conv3")(x)
    x = L.MaxPooling1D(2, name="pool3")(x)                            # 8 x 16
    x = L.Flatten(name="flatten")(x)
    x = L.Dense(32, activation="relu", name="fc4")(x)
    x = L.Dropout(0.2, name="drop")(x)
    x = L.Dense(len(CLASSES), name="logits")(x)
    out = L.Softmax(name="probs")(x)
    return tf.keras.Model(inp, out, name="gesture_imu")


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
    rng = np.random.default_rng(SEED)
    x_train, y_train = dataset(rng, 1000)
    x_test, y_test = dataset(rng, 250)

    model = build()
    model.compile(optimizer=tf.keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=25, batch_size=32, validation_split=0.1, verbose=0, shuffle=True)
    float_acc = float(np.mean(np.argmax(model.predict(x_test, verbose=0), axis=1) == y_test))

    infer = build(batch_size=1)
    infer.set_weights(model.get_weights())

    def representative():
        for i in range(0, len(x_train), 8):
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
    confusion = np.zeros((len(CLASSES), len(CLASSES)), dtype=int)
    np.add.at(confusion, (y_test, int8_pred), 1)

    # test samples: the first two test windows of each class, then the two the int8 model finds
    # hardest (lowest output for the true class)
    idx = [int(i) for c in range(len(CLASSES)) for i in np.flatnonzero(y_test == c)[:2]]
    true_score = q_out[np.arange(len(y_test)), y_test].astype(np.int32)
    idx += [int(i) for i in np.argsort(true_score, kind="stable") if int(i) not in idx][:2]
    samples, labels, expected = xq_test[idx], y_test[idx], q_out[idx]
    HEADER.parent.mkdir(exist_ok=True)
    names = ", ".join(f'"{c}"' for c in CLASSES)
    HEADER.write_text(f"""\
/* Generated by train.py (seed {SEED}): do not edit, run `python train.py` again.
 * Two generated test windows per gesture and the two the int8 model finds hardest (samples 8, 9):
 * 64 samples x 3 axes (x, y, z interleaved, in g), quantized
 * to the model's input (scale {in_scale:.9g} g, zero point {in_zp}); test_expected is what TFLite's
 * reference kernels ({it_name}, BUILTIN_REF) output for them: the firmware must print exactly these. */
#ifndef TEST_SAMPLES_H
#define TEST_SAMPLES_H

#include <stdint.h>

#define TEST_NUM_SAMPLES {len(idx)}
#define TEST_INPUT_SIZE {samples[0].size}
#define TEST_OUTPUT_SIZE {expected.shape[1]}

static const char *const test_class_names[TEST_OUTPUT_SIZE] = {{{names}}};

/* [64][3] windows, time-major (x0, y0, z0, x1, ...), int8 */
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
    print(f"gestures {CLASSES}: {len(x_train)} training / {len(x_test)} test windows, {weights} parameters")
    print(f"float model test accuracy: {float_acc:.4f}")
    print(f"int8 model test accuracy:  {int8_acc:.4f} ({it_name}, reference kernels)")
    print("int8 confusion matrix (rows: true, columns: predicted):")
    for c, row in zip(CLASSES, confusion):
        print(f"  {c:>6}: " + " ".join(f"{v:4d}" for v in row))
    print(f"wrote {MODEL.relative_to(HERE)} ({len(tflite)} bytes) and {HEADER.relative_to(HERE)} "
          f"({len(idx)} samples, int8 predictions {[CLASSES[int(p)] for p in int8_pred[idx]]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
