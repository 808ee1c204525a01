"""tinyml-pio: int8 TFLite models -> bit-exact, memory-planned C for microcontrollers."""

__version__ = "0.1.0"
