"""`verify --patches auto` over the models we have: every zoo model, ../shared/models and the
example projects' models must stay bit-exact with whatever stage the search picks (or none).

A representative subset keeps CI within about a minute: every model except the three whose
search alone takes 10-40 s (the zoo's MCUNet- and MobileNetV2-like nets, run by
tests/test_patch_branches.py, and person_detect, run by tests/test_patches.py). The full sweep,
those three included, is `python benchmarks/patches.py --all`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import ROOT, SHARED_MODELS, zoo_models
from tinyml_pio.pipeline import compile_model
from tinyml_pio.verify import verify_compiled

SLOW = {"patch_mcunet_160", "patch_mobilenet_v2_144", "tflm__person_detect"}
SHARED = ["armmlex__dnn_s_quantized", "openmv__force_int_quant", "tflm__hello_world_int8",
          "tflm__micro_speech_quantized"]


def _models() -> list[Path]:
    examples = sorted((ROOT / "example_projects").glob("*/models/*.tflite"))
    return [p for p in zoo_models() + examples if p.stem not in SLOW] + [SHARED_MODELS / f"{n}.tflite" for n in SHARED]


@pytest.mark.parametrize("path", _models(), ids=lambda p: p.stem)
def test_verify_patches_auto_is_bit_exact(path):
    if not path.is_file():
        pytest.skip(f"{path} not present (third-party models need ../shared beside the repo)")
    c = compile_model(path, "m", patches="auto")
    base = compile_model(path, "m") if c.patches is not None else c
    assert c.plan.arena_size <= base.plan.arena_size
    r = verify_compiled(c, n=1, seed=1)
    assert r.identical == r.total == 1, r.mismatch
