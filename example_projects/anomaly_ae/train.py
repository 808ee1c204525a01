"""Train the anomaly_ae model: an int8 dense autoencoder that learns what the vibration spectrum of a
healthy machine looks like; a large reconstruction error flags an anomaly.

The data is generated (seeded numpy), so the example needs no download. One frame is a 32-bin
vibration spectrum (log magnitude scaled to about 0..1) of a rotating machine:

    normal        peaks at the rotation frequency (1x, varying with load) and its 2x and 3x
                  harmonics over a 1/f noise floor
    imbalance     the 1x peak 3-5 times too high                   (anomalies: never trained on,
    bearing       extra non-harmonic peaks with sidebands, bins 16-29   used only to pick and to
    looseness     a comb of harmonics up to 10x, raised noise floor      evaluate the threshold)
    misalignment  a 2x peak higher than the 1x one

The autoencoder (32 -> 24 -> 8 -> 24 -> 32, ReLU) is trained on normal frames only. The anomaly score is
the mean squared reconstruction error in dequantized units,

    score = mean_i ((out_i - out_zp) * out_scale - (in_i - in_zp) * in_scale)^2

computed from the int8 model's outputs; the threshold is the 99.5th percentile of the scores of
held-out normal frames (about 0.5 % false alarms).

Run with TensorFlow (2.15):

    python example_projects/anomaly_ae/train.py

Outputs (committed):

    models/anomaly_ae.tflite     full-integer int8 model (int8 input and output [1, 32])
    include/test_samples.h       four normal frames and one of each anomaly (int8), their labels and the
                                 int8 outputs TFLite's reference kernels give for them
    include/anomaly_threshold.h  ANOMALY_THRESHOLD and how it was chosen
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
MODEL = HERE / "models" / "anomaly_ae.tflite"
HEADER = HERE / "include" / "test_samples.h"
THRESHOLD_HEADER = HERE / "include" / "anomaly_threshold.h"
SEED = 7
BINS = 32
KINDS = ["normal", "imbalance", "bearing", "looseness", "misalignment"]
PERCENTILE = 99.5
L = tf.keras.layers


# ---- data -------------------------------------------------------------------------------------

def _peak(f: np.ndarray, center: float, amp: float, width: float = 0.6) -> np.ndarray:
    return amp * np.exp(-0.5 * ((f - center) / width) ** 2)


def frame(rng: np.random.Generator, kind: int) -> np.ndarray:
    f = np.arange(BINS, dtype=np.float64)
    f0 = rng.uniform(2.5, 4.0)                                        # rotation frequency (bins)
    floor = rng.uniform(0.01, 0.02) * (1.0 + 4.0 / (1.0 + f))         # 1/f-ish noise floor
    a1, a2, a3 = rng.uniform(0.8, 1.0), rng.uniform(0.25, 0.45), rng.uniform(0.08, 0.18)
    if kind == 1:    # imbalance
        a1 *= rng.uniform(3.0, 5.0)
    elif kind == 4:  # misalignment
        a2 = a1 * rng.uniform(1.2, 1.8)
    mag = floor + _peak(f, f0, a1) + _peak(f, 2 * f0, a2) + _peak(f, 3 * f0, a3)
    if kind == 2:    # bearing: a defect frequency with sidebands at +-1x
        fb, ab = rng.uniform(16, 27), rng.uniform(0.08, 0.3)
        mag += _peak(f, fb, ab, 0.5) + _peak(f, fb - f0, ab / 3, 0.5) + _peak(f, fb + f0, ab / 3, 0.5)
    elif kind == 3:  # looseness: many harmonics, raised floor
        mag += sum(_peak(f, k * f0, rng.uniform(0.08, 0.2)) for k in range(4, 11))
        mag += floor * rng.uniform(1.5, 3.0)
    mag *= np.exp(rng.normal(0, 0.1, BINS))                           # measurement noise
    return np.clip(np.log10(mag + 1e-3) / 3.0 + 1.0, 0.0, 1.2).astype(np.float32)


def frames(rng: np.random.Generator, kind: int, n: int) -> np.ndarray:
    return np.stack([frame(rng, kind) for _ in range(n)])


# ---- model ------------------------------------------------------------------------------------

def build(batch_size: int | None = None) -> tf.keras.Model:
    inp = tf.keras.Input((BINS,), batch_size=batch_size, name="spectrum")
    x = L.Dense(24, activation="relu", name="enc1")(inp)
    x = L.Dense(8, activation="relu", name="code")(x)
    x = L.Dense(24, activation="relu", name="dec1")(x)
    out = L.Dense(BINS, name="recon")(x)
    return tf.keras.Model(inp, out, name="anomaly_ae")


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


def scores(xq: np.ndarray, yq: np.ndarray, in_q: tuple, out_q: tuple) -> np.ndarray:
    """The firmware's anomaly score: mean squared error of the dequantized output vs input."""
    x = (xq.astype(np.float64) - in_q[1]) * in_q[0]
    y = (yq.astype(np.float64) - out_q[1]) * out_q[0]
    return np.mean((y - x) ** 2, axis=1)


def c_rows(a: np.ndarray, indent: str = "    ") -> str:
    return ",\n".join(indent + "{" + ", ".join(str(int(v)) for v in row.reshape(-1)) + "}" for row in a)


def main() -> int:
    tf.keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()
    rng = np.random.default_rng(SEED)
    x_train = frames(rng, 0, 4000)
    x_val = frames(rng, 0, 1000)      # picks the threshold
    test = {k: frames(rng, k, 500) for k in range(len(KINDS))}

    model = build()
    model.compile(optimizer=tf.keras.optimizers.Adam(2e-3), loss="mse")
    model.fit(x_train, x_train, epochs=100, batch_size=32, verbose=0, shuffle=True)

    infer = build(batch_size=1)
    infer.set_weights(model.get_weights())

    # Calibration: normal frames, plus random frames spanning the whole feature range (0..1.2) so
    # that the int8 input covers it too; calibrated on normal frames only, the input quantization
    # would clip the high peaks of anomalies away before the model sees them.
    span = np.random.default_rng(SEED + 1).uniform(0.0, 1.2, (64, BINS)).astype(np.float32)

    def representative():
        for i in range(0, len(x_train), 8):
            yield [x_train[i:i + 1]]
        for i in range(len(span)):
            yield [span[i:i + 1]]

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
    in_q = it.get_input_details()[0]["quantization"]
    out_q = it.get_output_details()[0]["quantization"]

    def quantize(x: np.ndarray) -> np.ndarray:
        return np.clip(np.round(x / in_q[0]) + in_q[1], -128, 127).astype(np.int8)

    def int8_scores(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        xq = quantize(x)
        yq = run_int8(it, xq)
        return xq, yq, scores(xq, yq, in_q, out_q)

    def float_scores(x: np.ndarray) -> np.ndarray:
        return np.mean((model.predict(x, verbose=0) - x) ** 2, axis=1)

    val_float = float_scores(x_val)
    val_int8 = int8_scores(x_val)[2]
    threshold = float(np.percentile(val_int8, PERCENTILE))
    threshold_float = float(np.percentile(val_float, PERCENTILE))

    report = []
    test_int8 = {}
    for k, name in enumerate(KINDS):
        test_int8[k] = int8_scores(test[k])
        f_flag = float(np.mean(float_scores(test[k]) > threshold_float))
        q_flag = float(np.mean(test_int8[k][2] > threshold))
        report.append((name, f_flag, q_flag, float(np.median(test_int8[k][2]))))
    anomalies = [r for r in report if r[0] != "normal"]
    # balanced accuracy: mean of the normal frames' specificity and the anomalies' detection rate
    float_bacc = ((1 - report[0][1]) + np.mean([r[1] for r in anomalies])) / 2
    int8_bacc = ((1 - report[0][2]) + np.mean([r[2] for r in anomalies])) / 2

    # test samples: 4 normal frames and the first anomaly of each kind whose score is not within
    # 5 % of the threshold (the firmware's float32 score may differ from this float64 one in the
    # last digits; a sample right at the threshold could then flip)
    picked = []
    for k in range(len(KINDS)):
        xq, yq, sc = test_int8[k]
        ok = [i for i in range(len(sc)) if abs(sc[i] - threshold) > 0.05 * threshold]
        for i in ok[: 4 if k == 0 else 1]:
            picked.append((k, xq[i], yq[i], float(sc[i])))
    samples = np.stack([p[1] for p in picked])
    expected = np.stack([p[2] for p in picked])
    kinds = [p[0] for p in picked]

    HEADER.parent.mkdir(exist_ok=True)
    HEADER.write_text(f"""\
/* Generated by train.py (seed {SEED}): do not edit, run `python train.py` again.
 * Generated test frames (32-bin vibration spectra): four normal ones and one of each anomaly kind,
 * quantized to the model's input (scale {in_q[0]:.9g}, zero point {in_q[1]}); test_expected is the
 * reconstruction TFLite's reference kernels ({it_name}, BUILTIN_REF) output for them: the firmware
 * must print exactly these values. Anomaly scores (train.py, float64): {", ".join(f"{p[3]:.7f}" for p in picked)}. */
#ifndef TEST_SAMPLES_H
#define TEST_SAMPLES_H

#include <stdint.h>

#define TEST_NUM_SAMPLES {len(picked)}
#define TEST_INPUT_SIZE {samples.shape[1]}
#define TEST_OUTPUT_SIZE {expected.shape[1]}

static const char *const test_kind_names[{len(KINDS)}] = {{{", ".join(f'"{k}"' for k in KINDS)}}};

static const int8_t test_inputs[TEST_NUM_SAMPLES][TEST_INPUT_SIZE] = {{
{c_rows(samples)}
}};

/* 0 = normal, 1.. = the kind of anomaly (test_kind_names) */
static const uint8_t test_kinds[TEST_NUM_SAMPLES] = {{{", ".join(str(k) for k in kinds)}}};

/* int8 reconstructions (scale {out_q[0]:.9g}, zero point {out_q[1]}) */
static const int8_t test_expected[TEST_NUM_SAMPLES][TEST_OUTPUT_SIZE] = {{
{c_rows(expected)}
}};

#endif /* TEST_SAMPLES_H */
""")
    lines = "\n".join(f" *   {n:<13} {100 * q:5.1f} % flagged (median score {m:.6f})" for n, _, q, m in report)
    THRESHOLD_HEADER.write_text(f"""\
/* Generated by train.py (seed {SEED}): do not edit, run `python train.py` again.
 *
 * Anomaly threshold of models/anomaly_ae.tflite. The score of a frame is the mean squared error of
 * the dequantized reconstruction against the dequantized input:
 *     score = mean_i ((out_i - out_zp) * out_scale - (in_i - in_zp) * in_scale)^2
 * A frame is an anomaly when score > ANOMALY_THRESHOLD: the {PERCENTILE} th percentile of the int8
 * model's scores on {len(x_val)} held-out normal frames. On {len(test[0])} generated test frames of each kind:
{lines}
 */
#ifndef ANOMALY_THRESHOLD_H
#define ANOMALY_THRESHOLD_H

#define ANOMALY_THRESHOLD {threshold:.9g}f
#define ANOMALY_THRESHOLD_PERCENTILE {PERCENTILE}

#endif /* ANOMALY_THRESHOLD_H */
""")

    weights = sum(int(np.prod(w.shape)) for w in infer.get_weights())
    print(f"anomaly_ae: {len(x_train)} normal training frames, {len(x_val)} for the threshold, {weights} parameters")
    print(f"threshold ({PERCENTILE} th percentile of normal scores): float {threshold_float:.6f}, int8 {threshold:.6f}")
    print(f"{'test frames':<14} {'float flagged':>13} {'int8 flagged':>13}")
    for name, f_flag, q_flag, _ in report:
        print(f"{name:<14} {100 * f_flag:12.1f}% {100 * q_flag:12.1f}%")
    print(f"balanced accuracy (normal vs anomaly): float model {float_bacc:.4f}, int8 model {int8_bacc:.4f} "
          f"({it_name}, reference kernels)")
    print(f"wrote {MODEL.relative_to(HERE)} ({len(tflite)} bytes), {HEADER.relative_to(HERE)} ({len(picked)} samples, "
          f"scores {[round(p[3], 6) for p in picked]}) and {THRESHOLD_HEADER.relative_to(HERE)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
