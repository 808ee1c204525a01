"""The lab's HIL suite. Run e.g.

    pytest hil_tests --hil-board qemu_mps2_an386 --hil-board qemu_mps2_an500 -n 2 --dist loadgroup
    pytest hil_tests --hil-inventory lab.toml -n 8 --dist loadgroup --hil-report report.json
    pytest hil_tests --hil-board qemu_mps2_an386 --hil-model my.tflite --hil-data my.npz   # your model, scored on your data
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

pytest_plugins = ["tinyml_pio.hil.pytest_plugin", "tinyml_pio.pytest_strict"]


def example_models() -> list[Path]:
    """The model of every example project (example_projects/<name>/models/*.tflite)."""
    return sorted(ROOT.glob("example_projects/*/models/*.tflite"))
