"""SOFTMAX, LOG_SOFTMAX, LOGISTIC and TANH (int8) variants.

The converter never emits SOFTMAX with beta != 1 (a multiply before softmax stays a MUL or is
folded into the producer's weights), so the beta variants are converted with beta = 1 and then
patched in the flatbuffer (`softmax_beta`). make_zoo.py applies that when Spec has a `post`
field; until then run `python -m zoo_specs.fixedpoint` from tests/models (TensorFlow venv) after
make_zoo.py to (re)write the patched models.
"""

import sys
from pathlib import Path

import numpy as np
import tensorflow as tf

from . import Spec

L = tf.keras.layers


def scaled(k: float):
    """Representative data with standard deviation k (a wide input range for softmax)."""

    def data(rng: np.random.Generator, shape: tuple) -> np.ndarray:
        return rng.normal(0.0, k, size=(1,) + tuple(shape[1:]))

    return data


def uniform(lo: float, hi: float):
    def data(rng: np.random.Generator, shape: tuple) -> np.ndarray:
        return rng.uniform(lo, hi, size=(1,) + tuple(shape[1:]))

    return data


def softmax_only(shape: tuple):
    def build():
        inp = tf.keras.Input(shape, batch_size=1)
        return tf.keras.Model(inp, L.Softmax(axis=-1)(inp))

    return build


def softmax_beta(beta: float):
    def build():
        inp = tf.keras.Input((12,), batch_size=1)
        x = L.Dense(12)(inp)
        x = L.Lambda(lambda t: tf.nn.softmax(t * beta))(x)
        return tf.keras.Model(inp, x)

    return build


def log_softmax():
    inp = tf.keras.Input((16,), batch_size=1)
    x = L.Dense(10)(inp)
    x = L.Lambda(lambda t: tf.nn.log_softmax(t, axis=-1))(x)
    return tf.keras.Model(inp, x)


def log_softmax_3d():
    inp = tf.keras.Input((4, 9), batch_size=1)
    x = L.Lambda(lambda t: tf.nn.log_softmax(t, axis=-1))(inp)
    return tf.keras.Model(inp, x)


def unary(act: str, width: int = 256):
    """The activation applied directly to the model input: feed all 256 int8 values at once."""

    def build():
        inp = tf.keras.Input((width,), batch_size=1)
        return tf.keras.Model(inp, L.Activation(act)(inp))

    return build


def dense_act(act: str):
    def build():
        inp = tf.keras.Input((20,), batch_size=1)
        x = L.Dense(16, activation=act)(inp)
        x = L.Dense(8, activation=act)(x)
        return tf.keras.Model(inp, x)

    return build


def classifier():
    inp = tf.keras.Input((24,), batch_size=1)
    x = L.Dense(32, activation="relu")(inp)
    x = L.Dense(10)(x)
    x = L.Softmax()(x)
    return tf.keras.Model(inp, x)


def softmax_beta_patch(beta: float):
    """A post-conversion step: set every SOFTMAX's beta option in the flatbuffer."""

    def post(data: bytes) -> bytes:
        import flatbuffers
        from tensorflow.lite.python import schema_py_generated as schema

        m = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
        n = 0
        for sg in m.subgraphs:
            for op in sg.operators:
                code = m.operatorCodes[op.opcodeIndex]
                if max(code.builtinCode, code.deprecatedBuiltinCode) == schema.BuiltinOperator.SOFTMAX:
                    op.builtinOptions.beta = beta
                    n += 1
        assert n, "no SOFTMAX to patch"
        b = flatbuffers.Builder(1024)
        b.Finish(m.Pack(b), file_identifier=b"TFL3")
        return bytes(b.Output())

    return post


SPECS = [
    # input scale ~0.3: CalculateInputRadius gives diff_min ~ -62, so many elements are skipped
    Spec("fixedpoint_softmax_wide", softmax_only((32,)), seed=0, data=scaled(12.0)),
    Spec("fixedpoint_softmax_narrow", softmax_only((10,)), seed=1, data=scaled(0.5)),
    Spec("fixedpoint_softmax_4d", softmax_only((3, 5, 12)), seed=2, data=scaled(3.0)),
    Spec("fixedpoint_log_softmax", log_softmax, seed=4),
    Spec("fixedpoint_log_softmax_3d", log_softmax_3d, seed=5, data=scaled(6.0)),
    Spec("fixedpoint_logistic", unary("sigmoid"), seed=6, data=uniform(-9.0, 7.0)),
    Spec("fixedpoint_tanh", unary("tanh"), seed=7, data=uniform(-3.0, 4.0)),
    Spec("fixedpoint_dense_sigmoid", dense_act("sigmoid"), seed=8),
    Spec("fixedpoint_dense_tanh", dense_act("tanh"), seed=9),
    Spec("fixedpoint_classifier_float_io", classifier, io="float32", seed=10),
]

# Softmax with beta != 1: converted with beta 1, then patched (see the module docstring).
PATCHED = [
    (Spec("fixedpoint_softmax_beta", softmax_only((12,)), seed=3, data=scaled(2.0)), softmax_beta_patch(0.37)),
    # beta * input_scale * 2^26 > 2^31 - 1: PreprocessSoftmaxScaling clamps the multiplier
    (Spec("fixedpoint_softmax_beta_big", softmax_only((16,)), seed=11, data=scaled(12.0)), softmax_beta_patch(150.0)),
]

if "post" in getattr(Spec, "__dataclass_fields__", {}):
    SPECS += [Spec(**{**s.__dict__, "post": p}) for s, p in PATCHED]


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from make_zoo import OUT, convert

    for spec, post in PATCHED:
        data = post(convert(spec))
        (OUT / f"{spec.name}.tflite").write_bytes(data)
        print(f"fixedpoint: {spec.name}.tflite {len(data)} bytes (patched)")


if __name__ == "__main__":
    main()
