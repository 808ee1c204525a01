"""Issue 14, part A: time units in the HIL reports, the global -q/-v, inspect --json, progress bars,
the one weights figure and the memory plot's budget line and legend. HIL runs are real: the host
board over a pty, and qemu_mps2_an386 in QEMU."""

from __future__ import annotations

import io
import json
import re

import pytest

from conftest import run_cli, ZOO, missing_toolchain
from tinyml_pio import console
from tinyml_pio.errors import EXIT_USAGE
from tinyml_pio.hil.report import markdown
from tinyml_pio.hil.units import latency, per_layer, timing_for
from tinyml_pio.pipeline import compile_model

MODEL = ZOO / "fc_relu.tflite"
CONV = ZOO / "conv_dilation2.tflite"
_MISSING = missing_toolchain()



# ---- units ------------------------------------------------------------------------------------

def test_emulated_ticks_are_instructions_with_a_labelled_estimate():
    t = timing_for("qemu_mps2_an386", "SysTick", 25_000_000, emulated=True)
    # -icount shift=5: 32 ns per instruction; a 25 MHz SysTick ticks every 40 ns: 0.8 tick per instruction
    assert t.unit == "instructions" and t.per_tick == pytest.approx(1.25)
    assert "0.8 tick per instruction" in t.how and "not silicon cycles" in t.how
    lat = latency(t, [800, 1000, 1200])
    assert (lat["min"], lat["median"], lat["max"]) == (1000, 1250, 1500)
    assert "ms" not in lat  # no measured time on an emulator: only the estimate, with its assumption
    assert lat["estimate_ms"]["median"] == pytest.approx(1250 / 64e6 * 1e3)  # board_defs: nRF52840 @ 64 MHz
    assert "estimate" in lat["estimate_assumption"] and "64 MHz" in lat["estimate_assumption"]


def test_real_boards_report_cycles_and_ms_at_the_board_defs_clock():
    t = timing_for("nano33ble", "DWT_CYCCNT", 64_000_000, emulated=False)
    assert t.unit == "cycles" and t.per_tick == 1.0 and "board_defs" in t.how
    lat = latency(t, [64_000])
    assert lat["median"] == 64_000 and lat["ms"]["median"] == pytest.approx(1.0) and "estimate_ms" not in lat


def test_the_host_reports_nanoseconds_as_time():
    t = timing_for("host", "host-ns", 1_000_000_000, emulated=False)
    lat = latency(t, [2_000_000])
    assert t.unit == "ns" and lat["ms"]["median"] == pytest.approx(2.0)
    # a board without a cycle counter (Arduino micros(), 1 MHz): a time too, not "cycles"
    t = timing_for("pico", "micros()", 1_000_000, emulated=False)
    assert t.unit == "ns" and latency(t, [1500])["median"] == 1_500_000 and "not cycles" in t.how


def test_per_layer_rows_have_op_type_and_share():
    t = timing_for("qemu_mps2_an386", "SysTick", 25_000_000, emulated=True)
    rows = per_layer(t, [80, 240], ["CONV_2D", "SOFTMAX"])
    assert [(r["op"], r["type"], r["instructions"]) for r in rows] == [(0, "CONV_2D", 100), (1, "SOFTMAX", 300)]
    assert [r["share"] for r in rows] == [0.25, 0.75]


def test_host_run_report_has_units_time_and_no_stack_zero(capsys, tmp_path):
    report = tmp_path / "r.json"
    rc, out, err = run_cli(capsys, "hil", "run", "--board", "host", "--model", str(CONV), "--inputs", "3",
                        "--per-layer", "--report", str(report))
    assert rc == 0, err
    rec = json.loads(report.read_text())["results"][0]
    assert rec["latency"]["unit"] == "ns" and rec["latency"]["ms"]["median"] == pytest.approx(rec["latency"]["median"] / 1e6)
    assert rec["stack_peak_bytes"] is None  # not measured on the host, not 0
    assert [r["type"] for r in rec["per_layer"]] == ["CONV_2D"] and rec["per_layer"][0]["share"] == 1.0
    head = out.splitlines()[out.splitlines().index(next(l for l in out.splitlines() if l.startswith("| model")))]
    assert "latency, ns (min/med/max)" in head and "time (median)" in head and "MACs/ns" in head
    assert " cycles" not in out.replace("a time, not cycles", "") and "not measured" in out
    assert "| op | type | ns | share |" in out and re.search(r"\| 0 \| CONV_2D \| [\d,]+ \| 100\.0 % \|", out)


@pytest.mark.skipif(_MISSING is not None, reason=str(_MISSING))
def test_emulated_run_reports_executed_instructions(hil_env, capsys, tmp_path):
    report = tmp_path / "r.json"
    rc, out, err = run_cli(capsys, "hil", "run", "--board", "qemu_mps2_an386", "--model", str(CONV), "--inputs", "2",
                        "--per-layer", "--report", str(report))
    assert rc == 0, err
    rec = json.loads(report.read_text())["results"][0]
    lat, raw = rec["latency"], rec["counter_ticks"]
    assert lat["unit"] == "instructions" and rec["timing"]["counter"] == "SysTick"
    # 0.8 SysTick tick per instruction (the raw median is truncated to a whole tick, ours is not)
    assert abs(lat["median"] - raw["median"] * 1.25) <= 1.25 and lat["min"] == round(raw["min"] * 1.25)
    assert rec["per_layer"][0]["instructions"] == round(raw["per_layer"][0] * 1.25)
    assert "ms" not in lat and lat["estimate_ms"]["median"] > 0 and 0 < rec["stack_peak_bytes"]
    assert "latency, instructions (min/med/max)" in out and "MACs/instruction" in out and "(estimate*)" in out
    assert "* estimate: one instruction per cycle at the 64 MHz of nRF52840" in out


def test_table_with_several_units_puts_the_unit_in_each_cell():
    def rec(board, unit):
        return dict(model="m", board=board, kernels="portable", clock=dict(source="x", hz=1e6),
                    latency=dict(unit=unit, min=1, median=2, max=3), macs_per_unit=1.0, bit_exact="1/1",
                    stack_peak_bytes=None, arena_bytes=1, ram_bytes=None, flash_bytes=None)

    table = markdown([rec("host", "ns"), rec("qemu_mps2_an386", "instructions")])
    assert "1/2/3 ns" in table and "1/2/3 instructions" in table


# ---- -q / -v, inspect --json, progress ----------------------------------------------------------

@pytest.mark.parametrize("where", ["before", "after"])
def test_quiet_prints_errors_only(capsys, tmp_path, where):
    args = ["convert", str(MODEL), "-o", str(tmp_path)]
    rc, out, err = run_cli(capsys, *(["-q", *args] if where == "before" else [*args, "-q"]))
    assert rc == 0 and out == "" and err == "" and (tmp_path / "model.c").is_file()
    rc, out, err = run_cli(capsys, "-q", "convert", str(tmp_path / "missing.tflite"), "-o", str(tmp_path))
    assert rc == 1 and out == "" and "error:" in err


def test_verbose_prints_the_steps(capsys, tmp_path):
    rc, out, _ = run_cli(capsys, "convert", str(MODEL), "-o", str(tmp_path), "-v")
    assert rc == 0 and "lowered to" in out and "memory plan: arena" in out and "generated model.c, model.h" in out
    rc, out, _ = run_cli(capsys, "convert", str(MODEL), "-o", str(tmp_path))
    assert rc == 0 and "lowered to" not in out


def test_quiet_and_verbose_contradict(capsys, tmp_path):
    rc, _, err = run_cli(capsys, "-q", "convert", str(MODEL), "-o", str(tmp_path), "-v")
    assert rc == EXIT_USAGE and "contradict" in err


def test_every_command_takes_quiet_and_verbose(capsys):
    for cmd in (["convert"], ["verify"], ["inspect"], ["plan"], ["boards"], ["budget"], ["train-plan"], ["train-check"],
                ["hil", "run"], ["hil", "train"], ["setup-offline"], ["cmake-dir"]):
        rc, out, _ = run_cli(capsys, *cmd, "--help")
        assert rc == 0 and "-q, --quiet" in out and "-v, --verbose" in out, cmd


def test_inspect_json(capsys):
    rc, out, _ = run_cli(capsys, "inspect", str(CONV), "--json")
    d = json.loads(out)
    c = compile_model(CONV, "m")
    assert rc == 0 and d["sha256"] == c.graph.sha256 and d["arena_bytes"] == c.plan.arena_size
    assert [o["type"] for o in d["operators"]] == [op.type for op in c.graph.ops]
    assert d["weights"]["total"] == c.weights.total and d["inputs"][0]["dtype"] == "int8"
    rc, out, _ = run_cli(capsys, "-q", "inspect", str(CONV), "--json")  # asked for: printed even with -q
    assert json.loads(out)["sha256"] == c.graph.sha256


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_a_terminal_and_not_quiet(monkeypatch):
    tty = _Tty()
    monkeypatch.setattr("sys.stderr", tty)
    try:
        console.configure(console.NORMAL)
        assert list(console.progress(range(5), desc="inputs")) == list(range(5))
        assert "inputs:" in tty.getvalue() and "/5 [" in tty.getvalue()  # tqdm drew it (and cleared it after)
        tty.seek(0), tty.truncate()
        console.configure(console.QUIET)
        assert list(console.progress(range(5), desc="inputs")) == list(range(5)) and tty.getvalue() == ""
        console.configure(console.NORMAL)
        monkeypatch.setattr("sys.stderr", io.StringIO())  # not a terminal: no bar
        assert list(console.progress(range(5), desc="inputs")) == list(range(5))
    finally:
        console.configure(console.NORMAL, bars=False)


# ---- one weights figure -----------------------------------------------------------------------

def _define(header: str, name: str) -> int:
    return int(re.search(rf"#define \w+_{name} (\d+)", header).group(1))


@pytest.mark.parametrize("target", [None, "qemu_mps2_an386"])
def test_one_weights_figure_everywhere(capsys, tmp_path, target):
    args = ["--target", target] if target else []
    rc, out, _ = run_cli(capsys, "convert", str(CONV), "-o", str(tmp_path), *args)
    c = compile_model(CONV, "model", target=target)
    w = c.weights
    header = (tmp_path / "model.h").read_text()
    assert rc == 0 and _define(header, "WEIGHTS_BYTES") == w.total
    assert f"weights: {w.total:,} bytes of flash ({w.parts()})" in out
    assert f"weights {w.total} bytes ({w.parts()})" in (tmp_path / "model.c").read_text()
    assert w.total == w.weights + w.bias + w.requantization + w.tables + w.other
    assert w.file_bytes == sum(t.nbytes for t in c.graph.tensors if t.is_const)
    if target is None:  # inspect and plan figure the portable kernels: the same number
        rc, out, _ = run_cli(capsys, "plan", str(CONV), "--json")
        assert json.loads(out)["weights_bytes"] == json.loads(out)["weights"]["total"] == w.total
        rc, out, _ = run_cli(capsys, "inspect", str(CONV))
        assert f"weights: {w.total:,} bytes of flash ({w.parts()}); the file's constant tensors: {w.file_bytes:,} bytes" in out
    else:  # the optimized kernels hold the bias inside their per-channel structs
        assert w.bias == 0 and w.requantization > 0
    rc, out, _ = run_cli(capsys, "inspect", str(CONV), "--json", *args)  # inspect --target: the build's figure
    d = json.loads(out)
    assert d["weights"]["total"] == w.total and d["arena_bytes"] == c.plan.arena_size


# ---- the memory plot ----------------------------------------------------------------------------

def test_memory_plot_has_the_board_budget_and_a_colour_legend():
    import matplotlib.pyplot as plt

    from tinyml_pio.boards import load_board
    from tinyml_pio.plan_report import build_report, memory_figure

    fig = memory_figure(build_report(str(CONV), board="qemu_mps2_an386"))
    try:
        ax = fig.axes[0]
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        budget = load_board("qemu_mps2_an386").arena_budget
        assert f"qemu_mps2_an386 arena budget {budget} B (SRAM - reserve)" in labels
        assert any(l.startswith("tensor buffer") for l in labels) and any(l.startswith("kernel scratch") for l in labels)
        assert ax.get_ylim()[1] >= budget  # bytes: a small arena is drawn in bytes
    finally:
        plt.close(fig)
    fig = memory_figure(build_report(str(CONV)))
    try:
        assert not any("budget" in t.get_text() for t in fig.axes[0].get_legend().get_texts())
    finally:
        plt.close(fig)
