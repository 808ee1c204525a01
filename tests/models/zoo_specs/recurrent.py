"""UNIDIRECTIONAL_SEQUENCE_LSTM from Keras LSTM layers (unroll=False): TF 2.15's full-integer
converter gives TFLite's 8x8_16 integer LSTM (int8 weights and activations, an int16 cell state,
five intermediate tensors, both states as variable tensors). Batch-major and time-major, whole
sequences and last step only (a STRIDED_SLICE after it), stacked, batch 2."""

import numpy as np
import tensorflow as tf

from . import Spec

L = tf.keras.layers


def lstm(units: int, steps: int, features: int, seq: bool = True, stacked: bool = False, batch: int = 1):
    def build():
        x = inp = tf.keras.Input((steps, features), batch_size=batch)
        if stacked:
            x = L.LSTM(units, return_sequences=True, unroll=False)(x)
        x = L.LSTM(units, return_sequences=seq, unroll=False)(x)
        if not seq:
            x = L.Dense(4)(x)
        return tf.keras.Model(inp, x)

    return build


def time_major(units: int, steps: int, features: int):
    def build():
        inp = tf.keras.Input((1, features), batch_size=steps)  # [time, batch 1, features]
        x = L.LSTM(units, return_sequences=True, time_major=True, unroll=False)(inp)
        return tf.keras.Model(inp, x)

    return build


def batch2(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    return rng.normal(0.0, 1.0, size=tuple(shape))


SPECS = [
    Spec("recurrent_lstm_seq", lstm(8, 6, 5)),
    Spec("recurrent_lstm_last_dense", lstm(12, 10, 4, seq=False), seed=1),
    Spec("recurrent_lstm_stacked", lstm(6, 5, 3, stacked=True), seed=2),
    Spec("recurrent_lstm_batch2", lstm(5, 4, 6, batch=2), seed=3, data=batch2),
    Spec("recurrent_lstm_time_major", time_major(7, 6, 4), seed=4, data=batch2),
]
