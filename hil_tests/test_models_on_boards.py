"""For each example model (or each --hil-model) on each board: correctness against the host
reference, latency, measured SRAM vs the planner's prediction, flash from the ELF; with --hil-data,
the metric on the board equals the TFLite int8 reference's."""

from __future__ import annotations

import pytest

from conftest import example_models
from tinyml_pio.hil.targets import emulated_boards
from tinyml_pio.pipeline import compile_model

HIL_DEFAULT_MODELS = example_models()  # --hil-model PATH replaces them


def test_model_on_board(hil_model, hil_board, hil_inputs, hil_run):
    model = hil_model
    # generated for the board's CPU (its optimized kernels and their planned scratch), as the firmware is
    c = hil_board.target().for_cpu(compile_model(model, "model"))
    rec = hil_run(c, per_layer=True)  # in the report even when the run fails
    # correctness: every output identical to TFLite's reference interpreter
    assert rec["identical"] == rec["inputs"], rec["bit_exact"]
    acc = rec.get("accuracy")  # --hil-data: the data's samples (the first --hil-inputs), scored
    assert rec["inputs"] == (acc["samples"] if acc else hil_inputs)
    if acc:  # bit-exact outputs score exactly as TFLite's
        assert acc["generated"] == acc["tflite_int8"], acc
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
