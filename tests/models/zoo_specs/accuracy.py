"""A trained digits classifier (scikit-learn's 8x8 digits, bundled with scikit-learn: no download),
as an int8 model and as its float original (zoo/float/): real data for `verify --data` and
`hil run --data`, whose accuracy the tests compute independently from TFLite's interpreters."""

import numpy as np
import tensorflow as tf
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from . import Spec

L = tf.keras.layers
SPLIT_SEED = 0  # tests/test_accuracy.py splits the same way: the test part was never trained on


def digits_split():
    d = load_digits()
    x = (d.images.astype(np.float32) / 16.0)[..., None]
    return train_test_split(x, d.target.astype(np.int64), test_size=0.25, random_state=SPLIT_SEED, stratify=d.target)


def digits_mlp():
    x = inp = tf.keras.Input((8, 8, 1), batch_size=1)
    x = L.Flatten()(x)
    x = L.Dense(24, activation="relu")(x)
    x = L.Dense(10)(x)
    return tf.keras.Model(inp, L.Softmax()(x))


def fit(model: tf.keras.Model) -> None:
    x_train, _, y_train, _ = digits_split()
    model.compile(optimizer=tf.keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    model.fit(x_train, y_train, epochs=25, batch_size=1, verbose=0)


def train_image(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    x_train = digits_split()[0]
    return x_train[rng.integers(len(x_train))][None]


SPECS = [
    Spec("accuracy_digits_mlp", digits_mlp, seed=7, data=train_image, fit=fit, float_copy=True),
]
