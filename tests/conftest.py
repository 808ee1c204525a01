from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ZOO = ROOT / "tests" / "models" / "zoo"
SHARED_MODELS = ROOT.parent / "shared" / "models"


def zoo_models() -> list[Path]:
    return sorted(ZOO.glob("*.tflite"))


def shared_models() -> list[Path]:
    return sorted(SHARED_MODELS.glob("*.tflite")) if SHARED_MODELS.is_dir() else []


def shared_or_skip(name: str) -> Path:
    p = SHARED_MODELS / name
    if not p.is_file():
        pytest.skip(f"../shared/models/{name} not present (tests with third-party models need ../shared beside the repo)")
    return p
