"""`verify --sanitize`: the host build under ASan/UBSan with the arena poisoned outside each
layer's own tensors and scratch, over every test model and the shared models; and proof that the
poisoning catches a layer touching bytes the plan did not give it."""

from __future__ import annotations

import pytest

import numpy as np

from conftest import ROOT, ZOO, shared_or_skip
from tinyml_pio.codegen.sanitize import hooks_source, layer_spans
from tinyml_pio.cpu import CpuFeatures
from tinyml_pio.hostbuild import HostBuildError, HostModel
from tinyml_pio.pipeline import compile_model
from tinyml_pio.verify import random_inputs, verify_model

MODELS = sorted(ZOO.glob("*.tflite")) + sorted((ROOT / "example_projects").glob("*/models/*.tflite"))
SHARED = ["tflm__hello_world_int8", "tflm__micro_speech_quantized", "armmlex__dnn_s_quantized",
          "openmv__force_int_quant", "tflm__person_detect"]


def _verify(path, target=None):
    r = verify_model(str(path), n=2, seed=1, target=target, sanitize=True)
    assert r.ok, r.mismatch


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_test_models_run_clean_under_sanitizers(path):
    _verify(path)


@pytest.mark.parametrize("path", MODELS[::4], ids=lambda p: p.stem)
def test_optimized_kernels_run_clean_under_sanitizers(path):
    _verify(path, CpuFeatures.host_optimized())


@pytest.mark.parametrize("name", SHARED)
def test_shared_models_run_clean_under_sanitizers(name):
    _verify(shared_or_skip(f"{name}.tflite"))


def test_poisoning_catches_a_layer_outside_its_tensors(tmp_path):
    """Take one byte away from the last layer's output region: its kernel writes it, ASan stops the run."""
    c = compile_model(ZOO / "fc_relu.tflite", "m")
    g = c.graph
    spans = layer_spans(g, c.layers, c.plan)
    last = c.plan.order[-1]
    out = g.outputs[0]
    off, size = c.plan.tensor_offsets[out], g.t(out).nbytes
    assert (off, size) in spans[last]
    hooks = hooks_source(g, c.layers, c.plan, "m").replace(f"m_arena + {off}, {size})", f"m_arena + {off}, {size - 1})")
    host = HostModel(c.files, "m", tmp_path, [(g.t(t).shape, np.int8) for t in g.inputs],
                     [(g.t(t).shape, np.int8) for t in g.outputs], sanitize_hooks=hooks)
    with pytest.raises(HostBuildError, match="AddressSanitizer"):
        host.run(random_inputs(g, 1, 0))
