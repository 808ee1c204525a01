"""For each example model on each board: correctness against the host reference, latency,
measured SRAM vs the planner's prediction, flash from the ELF."""

from __future__ import annotations

import pytest

from conftest import example_models
from tinyml_pio.hil.targets import emulated_boards
from tinyml_pio.pipeline import compile_model

MODELS = example_models()


@pytest.mark.parametrize("model", MODELS or [None], ids=lambda p: p.parent.parent.name if p else "none")
def test_model_on_board(model, hil_board, hil_inputs, hil_run):
    if model is None:
        pytest.skip("no example project models found under example_projects/*/models/")
    # generated for the board's CPU (its optimized kernels and their planned scratch), as the firmware is
    c = hil_board.target().for_cpu(compile_model(model, "model"))
    rec = hil_run(c, per_layer=True)  # in the report even when the run fails
    # correctness: every output identical to TFLite's reference interpreter
    assert rec["identical"] == rec["inputs"] == hil_inputs, rec["bit_exact"]
    # memory: the firmware's arena is exactly what the planner said
    assert rec["arena_bytes"] == c.plan.arena_size
    lat = rec["latency"]  # in the board's unit: instructions (emulated), cycles (real), ns (host)
    assert 0 < lat["min"] <= lat["median"] <= lat["max"]
    assert lat["unit"] == {"host": "ns"}.get(hil_board.name, "instructions" if hil_board.name in emulated_boards() else "cycles")
    assert rec["per_layer"] is not None and [r["type"] for r in rec["per_layer"]] == [op.type for op in c.graph.ops]
    if hil_board.name != "host":
        # the linked arena symbol is exactly the planner's arena
        assert rec["linked_arena_bytes"] == c.plan.arena_size
        # the stack is measured by painting, static RAM and flash come from the ELF
        assert 0 < rec["stack_peak_bytes"] <= rec["stack_size_bytes"]
        assert rec["ram_bytes"] >= c.plan.arena_size
        assert rec["flash_bytes"] > sum(t.nbytes for t in c.graph.tensors if t.is_const) // 2
