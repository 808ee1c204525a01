"""Zoo model specifications; one module per op family, each defining SPECS."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np


def normal(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    return rng.normal(0.0, 1.0, size=(1,) + tuple(shape[1:]))


@dataclass
class Spec:
    name: str  # file name in zoo/ (without .tflite)
    build: Callable[[], Any]  # returns a tf.keras.Model with batch size 1 inputs
    io: str = "int8"  # int8 | uint8 | int16 | float32: inference input/output type
    # "int8" (TFLITE_BUILTINS_INT8) or "16x8" (int16 activations, int8 weights:
    # EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8)
    quant: str = "int8"
    # operators left in float32 after the int8 body (a PyTorch-style float tail): converted through
    # tf.lite.experimental.QuantizationDebugger's selective quantization (denylisted_ops)
    float_ops: tuple[str, ...] = ()
    seed: int = 0
    data: Callable[[np.random.Generator, tuple], np.ndarray] = normal  # representative sample
    converter: dict[str, Any] = field(default_factory=dict)  # extra TFLiteConverter attributes
    post: Callable[[bytes], bytes] | None = None  # rewrite the converted flatbuffer (e.g. RESHAPE -> SQUEEZE)
    fit: Callable[[Any], None] | None = None  # train the model (instead of perturbing its initial weights)
    float_copy: bool = False  # also write the unquantized float model to zoo/float/<name>.tflite
