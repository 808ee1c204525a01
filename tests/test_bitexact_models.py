"""End to end: every zoo model and every third-party model verifies bit-exact on 20 inputs."""

from __future__ import annotations

import pytest

from conftest import SHARED_MODELS, shared_models, zoo_models
from tinyml_pio.verify import verify_model


@pytest.mark.parametrize("path", zoo_models(), ids=lambda p: p.stem)
def test_zoo_model_bit_exact(path):
    r = verify_model(str(path), n=20, seed=0)
    assert (r.identical, r.total) == (20, 20), r.mismatch


@pytest.mark.parametrize("path", shared_models() or [None], ids=lambda p: p.stem if p else "absent")
def test_shared_model_bit_exact(path):
    if path is None:
        pytest.skip(f"{SHARED_MODELS} not present: the third-party models live in ../shared/models")
    r = verify_model(str(path), n=20, seed=0)
    assert (r.identical, r.total) == (20, 20), r.mismatch


def test_zoo_is_large_enough():
    assert len(zoo_models()) >= 30
