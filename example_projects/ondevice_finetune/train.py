"""Pretrain the ondevice_finetune model on a source domain and write the target domain it meets.

Run with TensorFlow (2.15) and scikit-learn installed (the `zoo` extra), from anywhere:

    python example_projects/ondevice_finetune/train.py

Source domain: scikit-learn's handwritten digits (8x8) of the first ~60 % of its writers, as they are.
Target domain, "a new writer" the device meets: the other writers' digits written with a heavier,
slanted hand (strokes thickened by one pixel, sheared, shifted), the kind of shift a model trained
on one population of writers or one sensor placement meets in the field. Both come from data that
ships with scikit-learn; nothing is downloaded.

The model is depthwise-separable (DS-CNN-like): conv 3x3 -> [depthwise 3x3 -> pointwise 1x1] x 2
(the second block with stride 2) -> global average pooling (MEAN) -> dense -> softmax, full-integer
int8. Seeded and deterministic. Outputs (committed):

    models/ft.tflite     the int8 model pretrained on the source domain
    data/target.npz      target-domain x_train, y_train, x_test, y_test (float images in [0, 1])

It prints the int8 model's accuracy on the source test split and on the target test split.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

HERE = Path(__file__).resolve().parent
MODEL = HERE / "models" / "ft.tflite"
DATA = HERE / "data" / "target.npz"
SEED = 7
L = tf.keras.layers


def build() -> tf.keras.Model:
    inp = tf.keras.Input((8, 8, 1), name="image")
    x = L.Conv2D(16, 3, padding="same", activation="relu", name="conv1")(inp)
    x = L.DepthwiseConv2D(3, padding="same", activation="relu", name="dw2")(x)
    x = L.Conv2D(24, 1, activation="relu", name="pw2")(x)
    x = L.DepthwiseConv2D(3, strides=2, padding="same", activation="relu", name="dw3")(x)   # 4x4
    x = L.Conv2D(32, 1, activation="relu", name="pw3")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    x = L.Dense(10, name="logits")(x)
    out = L.Softmax(name="probs")(x)
    return tf.keras.Model(inp, out, name="ondevice_finetune")


def new_writer(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Heavier, slanted strokes: dilate by one pixel, shear right by up to 2 px, shift, then renormalise."""
    x = images.copy()
    thick = np.maximum(x, np.maximum(np.roll(x, 1, axis=2), np.roll(x, 1, axis=1)))
    out = np.zeros_like(thick)
    for i, img in enumerate(thick):
        shear = rng.uniform(0.15, 0.3)
        for r in range(8):
            s = int(round((7 - r) * shear))
            out[i, r] = np.roll(img[r], s)
    out = np.roll(out, -1, axis=2)
    return np.clip(out * 1.2, 0.0, 1.0)


def interpreter(model: bytes):
    try:
        from tflite_runtime.interpreter import Interpreter, OpResolverType
    except ImportError:
        Interpreter, OpResolverType = tf.lite.Interpreter, tf.lite.experimental.OpResolverType
    it = Interpreter(model_content=model, experimental_op_resolver_type=OpResolverType.BUILTIN_REF, num_threads=1)
    it.allocate_tensors()
    return it


def accuracy_int8(model: bytes, x: np.ndarray, y: np.ndarray) -> float:
    it = interpreter(model)
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    s, zp = i["quantization"]
    hits = 0
    for xi, yi in zip(x, y):
        it.set_tensor(i["index"], np.clip(np.round(xi / s) + zp, -128, 127).astype(np.int8)[None])
        it.invoke()
        hits += int(np.argmax(it.get_tensor(o["index"])[0]) == yi)
    return hits / len(x)


def main() -> None:
    tf.keras.utils.set_random_seed(SEED)
    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[..., None]
    y = d.target
    n_src = int(len(x) * 0.6)  # the dataset lists its writers' digits in order: the first ones are the source
    xs, ys = x[:n_src], y[:n_src]
    rng = np.random.default_rng(SEED)
    idx = rng.permutation(n_src)
    cut = int(n_src * 0.85)
    model = build()
    model.compile(optimizer=tf.keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(xs[idx[:cut]], ys[idx[:cut]], epochs=60, batch_size=32, verbose=0, shuffle=True)

    def rep():
        for i in idx[:300]:
            yield [xs[i:i + 1]]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = rep
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    tfl = conv.convert()
    MODEL.parent.mkdir(exist_ok=True)
    MODEL.write_bytes(tfl)

    xt = new_writer(x[n_src:, :, :, 0], np.random.default_rng(SEED + 1))[..., None].astype(np.float32)
    yt = y[n_src:]
    tidx = np.random.default_rng(SEED + 2).permutation(len(xt))
    half = len(xt) // 2
    DATA.parent.mkdir(exist_ok=True)
    np.savez_compressed(DATA, x_train=xt[tidx[:half]], y_train=yt[tidx[:half]].astype(np.int32),
                        x_test=xt[tidx[half:]], y_test=yt[tidx[half:]].astype(np.int32))
    print(f"wrote {MODEL} ({len(tfl)} bytes) and {DATA} ({half} train / {len(xt) - half} test target samples)")
    print(f"int8 accuracy: source test {accuracy_int8(tfl, xs[idx[cut:]], ys[idx[cut:]]):.3f}, "
          f"target test {accuracy_int8(tfl, xt[tidx[half:]], yt[tidx[half:]]):.3f}")


if __name__ == "__main__":
    main()
