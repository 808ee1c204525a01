"""Memory planner: properties on random graphs, exact cases, the plan report and the `plan` CLI."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ZOO, shared_or_skip
from tinyml_pio.cli import main
from tinyml_pio.ir import Graph, Op, Tensor
from tinyml_pio.ops import Layer
from tinyml_pio.planner import ALIGN, Buffer, check_plan, plan_memory
from tinyml_pio.planner.ordering import best_order, is_topological, peak_of

# ------------------------------------------------------------------------------------------------
# Building synthetic graphs: tensors are int8 vectors, so a tensor's size is its byte count.


class G:
    def __init__(self):
        self.tensors: list[Tensor] = []
        self.ops: list[Op] = []
        self.layers: list[Layer] = []
        self.inputs: list[int] = []
        self.outputs: list[int] | None = None

    def t(self, size: int, const: bool = False) -> int:
        import numpy as np

        i = len(self.tensors)
        self.tensors.append(Tensor(i, f"t{i}", (size,), "int8", data=np.zeros(size, np.int8) if const else None))
        return i

    def input(self, size: int) -> int:
        i = self.t(size)
        self.inputs.append(i)
        return i

    def op(self, ins: list[int], out_size: int, *, scratch: int = 0, inplace: bool = False, alias: bool = False,
           inplace_scratch: int = 0, n_out: int = 1) -> int:
        outs = [self.t(out_size) for _ in range(n_out)]
        op = Op(len(self.ops), "ALIAS" if alias else "K", list(ins), outs)
        layer = Layer(op=op, func=None if alias else "k", scratch_bytes=scratch,
                      alias=(ins[0], outs[0]) if alias else None,
                      inplace=(ins[0], outs[0]) if inplace else None)
        if inplace_scratch:
            layer.inplace_scratch_bytes = inplace_scratch  # the interface a depthwise kernel would use
        self.ops.append(op)
        self.layers.append(layer)
        return outs[0]

    def graph(self) -> Graph:
        outs = self.outputs
        if outs is None:
            consumed = {t for o in self.ops for t in o.inputs}
            outs = [t.index for t in self.tensors if not t.is_const and t.index not in consumed and t.index not in self.inputs]
        return Graph(self.tensors, self.ops, self.inputs, outs)


def lifetimes_by_hand(g: Graph, layers: list[Layer], order: list[int]):
    """Independent of the planner: alias classes and their [first, last] positions in `order`."""
    cls = {}
    for l in layers:
        if l.alias:
            a, b = l.alias
            cls[b] = cls.get(a, a)
    pos_of = {op: p for p, op in enumerate(order)}
    end = len(order) - 1
    span: dict[int, list[int]] = {}
    produced = {t for o in g.ops for t in o.outputs}
    mids = {t for o in g.ops for t in o.intermediates}  # quantization carriers (integer LSTM), never stored
    for t in g.tensors:
        if not t.in_arena or t.index in mids:  # constants (flash), state tensors (the state buffer)
            continue
        c = cls.get(t.index, t.index)
        s = span.setdefault(c, [10**9, -1])
        if t.index not in produced:
            s[0] = 0
    for o in g.ops:
        p = pos_of[o.index]
        for t in o.inputs + o.outputs:
            if t >= 0 and g.t(t).in_arena:
                s = span[cls.get(t, t)]
                s[0], s[1] = min(s[0], p), max(s[1], p)
    for t in g.outputs:
        span[cls.get(t, t)][1] = end
    for c, s in span.items():
        if s[1] < 0:
            s[1] = s[0]
    return cls, span


def assert_valid(g: Graph, layers: list[Layer], plan) -> None:
    """No two things live at the same time share a byte, except an in-place output over its dying input."""
    n = len(layers)
    assert sorted(plan.order) == list(range(n))
    assert is_topological(g, layers, plan.order)
    cls, span = lifetimes_by_hand(g, layers, plan.order)
    pos_of = {op: p for p, op in enumerate(plan.order)}
    by_op = {l.op.index: l for l in layers}
    # in-place pairs the plan claims: (input class, output class, position)
    pairs = set()
    for op in plan.inplace_ops:
        ti, to = by_op[op].inplace
        pairs.add((cls.get(ti, ti), cls.get(to, to), pos_of[op]))
    mids = {t for o in g.ops for t in o.intermediates}
    regions = []  # (name, first, last, lo, hi)
    for c, (f, l) in span.items():
        off = plan.tensor_offsets[c]
        for t in g.tensors:  # every tensor of a class has the class's offset
            if t.in_arena and t.index not in mids and cls.get(t.index, t.index) == c:
                assert plan.tensor_offsets[t.index] == off
        regions.append((("t", c), f, l, off, off + g.t(c).nbytes))
    for op, off in plan.scratch_offsets.items():
        size = sum(b.size for b in plan.buffers if b.key == f"s{op}")
        if size:
            p = pos_of[op]
            regions.append((("s", op), p, p, off, off + size))
    for name, f, l, lo, hi in regions:
        assert 0 <= lo and hi <= plan.arena_size, (name, lo, hi, plan.arena_size)
        assert lo % ALIGN == 0
    live_max = 0
    for p in range(n):
        live = 0
        for name, f, l, lo, hi in regions:
            if f <= p <= l:
                live += hi - lo
        # an in-place output shares its input's bytes at its op
        for ci, co, pp in pairs:
            if pp == p:
                live -= min(g.t(ci).nbytes, g.t(co).nbytes)
        live_max = max(live_max, live)
    for (n1, f1, l1, lo1, hi1), (n2, f2, l2, lo2, hi2) in itertools.combinations(regions, 2):
        if f1 <= l2 and f2 <= l1 and lo1 < hi2 and lo2 < hi1:
            a, b = n1[1], n2[1]
            ok = n1[0] == n2[0] == "t" and any(
                {ci, co} == {a, b} and max(f1, f2) == min(l1, l2) == pp for ci, co, pp in pairs)
            assert ok, f"{n1} [{f1},{l1}] @{lo1}..{hi1} overlaps {n2} [{f2},{l2}] @{lo2}..{hi2}"
    assert plan.arena_size >= plan.lower_bound >= live_max


# ------------------------------------------------------------------------------------------------
# Random DAGs


@st.composite
def dags(draw, max_ops: int = 10, chain: bool = False, aligned: bool = False):
    b = G()
    unit = ALIGN if aligned else 1
    size = st.integers(1, 300 if aligned else 4000).map(lambda s: s * unit)
    avail = [b.input(draw(size))]
    if not chain and draw(st.booleans()):
        avail.append(b.input(draw(size)))
    for _ in range(draw(st.integers(1, max_ops))):
        if chain:
            ins = [avail[-1]]
        else:
            k = draw(st.integers(1, min(3, len(avail))))
            ins = draw(st.lists(st.sampled_from(avail), min_size=k, max_size=k, unique=True))
        if draw(st.integers(0, 5)) == 0:
            ins.append(b.t(draw(size), const=True))
        kind = draw(st.sampled_from(["k", "k", "k", "inplace", "alias", "scratch"]))
        if kind == "alias":
            out = b.op(ins[:1], g_size(b, ins[0]), alias=True)
        elif kind == "inplace" and chain:
            # same size (a LUT op): a smaller in-place output stays pinned where its input began, which
            # the (per-operator) lower bound cannot see, so chains with those need not reach it
            out = b.op(ins, g_size(b, ins[0]), inplace=True)
        elif kind == "inplace":
            out = b.op(ins, draw(st.integers(1, g_size(b, ins[0]) // unit).map(lambda s: s * unit)), inplace=True)
        elif kind == "scratch":
            out = b.op(ins, draw(size), scratch=draw(size))
        else:
            out = b.op(ins, draw(size))
        avail.append(out)
    if not chain and draw(st.booleans()):
        b.outputs = sorted({avail[-1], draw(st.sampled_from(avail[1:]))})
    return b


def g_size(b: G, t: int) -> int:
    return b.tensors[t].nbytes


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dags())
def test_random_dags_never_overlap(b):
    g = b.graph()
    plan = plan_memory(g, b.layers)
    assert_valid(g, b.layers, plan)


@settings(max_examples=200, deadline=None)
@given(dags(chain=True, aligned=True, max_ops=20))
def test_chains_plan_at_the_lower_bound(b):
    g = b.graph()
    plan = plan_memory(g, b.layers)
    assert_valid(g, b.layers, plan)
    assert plan.arena_size == plan.lower_bound


@settings(max_examples=200, deadline=None)
@given(dags(chain=True, max_ops=20))
def test_chains_with_unaligned_sizes_stay_within_one_alignment_of_the_bound(b):
    g = b.graph()
    plan = plan_memory(g, b.layers)
    assert_valid(g, b.layers, plan)
    assert plan.arena_size <= plan.lower_bound + ALIGN


@settings(max_examples=60, deadline=None)
@given(dags(max_ops=7))
def test_order_search_is_exact_on_small_graphs(b):
    g = b.graph()
    n = len(b.layers)
    best = min(peak_of(g, b.layers, list(p)) for p in itertools.permutations(range(n))
               if is_topological(g, b.layers, list(p)))
    res = best_order(g, b.layers)
    assert res.exact and res.peak == best == peak_of(g, b.layers, res.order)


def test_check_plan_catches_an_overlap():
    a, b = Buffer("t1", 100, 0, 2, offset=0), Buffer("t2", 100, 2, 3, offset=96)
    with pytest.raises(AssertionError, match="overlap"):
        check_plan([a, b], 200)
    b.offset = 112
    check_plan([a, b], 212)


# ------------------------------------------------------------------------------------------------
# In place, scratch, aliases, order


def test_inplace_chain_needs_one_buffer():
    b = G()
    x = b.input(1000)
    y = b.op([x], 1000, inplace=True)
    b.op([y], 1000, inplace=True)
    g = b.graph()
    plan = plan_memory(g, b.layers)
    assert plan.inplace_ops == [0, 1]
    assert plan.arena_size == 1000 and len({plan.tensor_offsets[t] for t in (0, 1, 2)}) == 1
    assert_valid(g, b.layers, plan)


def test_inplace_not_when_input_lives_on_or_is_a_graph_output():
    b = G()
    x = b.input(512)
    y = b.op([x], 512, inplace=True)  # x is still needed by op 1
    b.op([x, y], 512)
    plan = plan_memory(b.graph(), b.layers)
    assert plan.inplace_ops == []
    b = G()
    x = b.input(512)
    b.op([x], 512, inplace=True)
    b.outputs = [0, 1]
    plan = plan_memory(b.graph(), b.layers)
    assert plan.inplace_ops == []


def test_smaller_inplace_output_does_not_keep_the_input_rectangle():
    # float input 400 B -> int8 100 B in place (QUANTIZE); the 100 B output lives on beside a 300 B tensor
    b = G()
    x = b.input(400)
    q = b.op([x], 100, inplace=True)
    h = b.op([q], 304)
    b.op([q, h], 16)
    plan = plan_memory(b.graph(), b.layers)
    assert plan.inplace_ops == [0]
    assert plan.tensor_offsets[q] == plan.tensor_offsets[x]
    # step 2 holds q (100, pinned where x was, padded to 112), h (304) and the output (16): 432. The aligned
    # lower bound (420) would need q on top, which its 400-byte input at step 0 forbids.
    assert plan.arena_size == 432 and plan.lower_bound == 420
    assert plan_memory(b.graph(), b.layers, inplace=False).arena_size > 432
    assert_valid(b.graph(), b.layers, plan)


def test_depthwise_inplace_interface_adds_the_plane_scratch():
    # 24x24x16 depthwise, stride 1: output over input, one 24x24 channel plane of scratch
    b = G()
    x = b.input(9216)
    b.op([x], 9216, inplace=True, inplace_scratch=576)
    plan = plan_memory(b.graph(), b.layers)
    assert plan.inplace_ops == [0]
    assert plan.arena_size == 9216 + 576
    assert plan.tensor_offsets[0] == plan.tensor_offsets[1]
    assert 0 in plan.scratch_offsets
    assert_valid(b.graph(), b.layers, plan)
    # a plane as large as the output would not save anything: not in place
    b = G()
    x = b.input(64)
    b.op([x], 64, inplace=True, inplace_scratch=64)
    assert plan_memory(b.graph(), b.layers).inplace_ops == []


def test_aliases_share_their_source_buffer():
    b = G()
    x = b.input(256)
    y = b.op([x], 256)
    r = b.op([y], 256, alias=True)
    b.op([r], 64)
    plan = plan_memory(b.graph(), b.layers)
    assert plan.tensor_offsets[y] == plan.tensor_offsets[r]
    assert_valid(b.graph(), b.layers, plan)


def unbalanced() -> G:
    """Two branches; running the one with the big intermediate first is better."""
    b = G()
    x = b.input(2048)
    a1 = b.op([x], 1024)
    a2 = b.op([a1], 8192)
    b1 = b.op([x], 12288)
    b2 = b.op([b1], 512)
    b.op([a2, b2], 8704)
    return b


def test_reorder_branches_for_a_lower_peak():
    b = unbalanced()
    g = b.graph()
    natural = peak_of(g, b.layers, list(range(5)))
    plan = plan_memory(g, b.layers)
    assert plan.reordered and plan.order[:2] == [2, 3]
    assert plan.arena_size == plan.lower_bound < natural
    assert_valid(g, b.layers, plan)
    assert [l.op.index for l in plan.ordered(b.layers)] == plan.order
    fixed = plan_memory(g, b.layers, reorder=False)
    assert fixed.order == [0, 1, 2, 3, 4] and fixed.arena_size > plan.arena_size


def test_large_graph_falls_back_to_beam_search():
    b = G()
    x = b.input(100)
    heads = []
    for i in range(14):  # 14 parallel branches of 3 ops: too many downsets for the exact DP
        t = x
        for k in range(3):
            t = b.op([t], 50 + 37 * ((i * 3 + k) % 11))
        heads.append(t)
    b.op(heads, 16)
    g = b.graph()
    res = best_order(g, b.layers, max_states=500, beam=32)
    assert not res.exact and is_topological(g, b.layers, res.order)
    assert res.peak <= peak_of(g, b.layers, list(range(len(b.layers))))
    assert_valid(g, b.layers, plan_memory(g, b.layers))


# ------------------------------------------------------------------------------------------------
# Real models, the report and the CLI


UNBALANCED = ZOO / "plan_unbalanced.tflite"

EXPECTED_UNBALANCED = """\
buffer     offset     size  steps      tensors
t0              0    12288  0-4        t0 1x16x16x8, t14 1x16x16x48, t15 1x16x16x2  pieces [0-0:2048] [1-2:12288] [3-4:512]
s5              0       34  5          scratch of op 5
t18             0        8  6          t18 1x8
t13           512     8192  3-4        t13 1x16x16x32
t16          8704     8704  4-6        t16 1x16x16x34, t17 1x16x16x8  pieces [4-5:8704] [6-6:2048]
t12         12288     1024  0-3        t12 1x16x16x4
s2          13312        8  1          scratch of op 2
s3          13312       48  2          scratch of op 3
"""


def test_hand_checked_plan_of_a_branched_model():
    """plan_unbalanced: input t0 16x16x8 (2048 B) feeds branch a (1x1 conv to 4 ch, t12 1 KB, then 3x3 conv
    to 32 ch, t13 8 KB) and branch b (1x1 conv to 48 ch, t14 12 KB, then 1x1 to 2 ch, t15 512 B); a concat
    (t16, 8704 B), a 1x1 conv (t17) and a mean (t18) follow. In model order b's 12 KB intermediate runs beside
    a's 8 KB output (22528 B, TFLM's arena). Running a's 1x1 conv first lets t0 die at b's first conv, which
    then grows t0 into t14 in place (1x1 stride 1, one 8-byte input pixel of scratch); b's second 1x1 conv
    shrinks t14 into t15 in place. The concat is the peak: t13 + t15 + t16 = 8192 + 512 + 8704 = 17408 B,
    the lower bound. Checked by hand, step by step:
    0:   t0 [0, 2048), t12 [12288, 13312) (op 0);
    1-2: t0's buffer holds t14 [0, 12288) (op 2 in place, scratch s2 [13312, 13320)), then op 3 in place
         (scratch s3 [13312, 13360)); t12 stays above;
    3-4: t15 [0, 512) in t0's buffer, t13 [512, 8704) beside it, t16 [8704, 17408) from step 4: tight;
    5-6: op 5 writes t17 over t16 in place ([8704, 10752) from step 6, scratch s5 [0, 34)), t18 [0, 8)."""
    from tinyml_pio.plan_report import build_report, format_text

    rep = build_report(str(UNBALANCED))
    assert rep.plan.order == [0, 2, 3, 1, 4, 5, 6]
    assert rep.plan.inplace_ops == [2, 3, 5]
    assert rep.plan.arena_size == rep.plan.lower_bound == 17408
    text = format_text(rep)
    table = text[text.index("buffer     offset"):]
    assert table.strip() == EXPECTED_UNBALANCED.strip()
    assert "step" in text and "<- peak" in text.splitlines()[8]  # step 4: the CONCATENATION


def test_plan_cli_json(capsys):
    assert main(["plan", str(UNBALANCED), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    for key in ("arena_bytes", "lower_bound_bytes", "weights_bytes", "peak_op_index", "ops", "order", "buffers"):
        assert key in d
    assert d["arena_bytes"] == 17408 and d["peak_op_index"] == 4
    assert [o["live_bytes"] for o in d["ops"]][4] == 17408
    assert all({"op_index", "type", "live_bytes"} <= set(o) for o in d["ops"])
    assert d["weights_bytes"] > 0


def test_plan_cli_text_and_plot(tmp_path, capsys):
    png = tmp_path / "plan.png"
    assert main(["plan", str(ZOO / "plan_residual.tflite"), "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "<- peak" in out and "lower bound" in out and "weights" in out and "in place" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plan_board_that_fits(capsys):
    assert main(["plan", str(UNBALANCED), "--board", "NUCLEO-L4R5ZI"]) == 0
    assert "fits" in capsys.readouterr().out


def test_plan_over_budget_board(tmp_path, monkeypatch, capsys):
    tiny = dict(name="Tiny-16K", mcu="x", cpu="cortex-m0plus", fpu="none", dsp=False, mve=False, clock_hz=48_000_000,
                sram_bytes=16384, flash_bytes=65536, reserved_sram_bytes=4096, reserved_flash_bytes=8192)
    (tmp_path / "tiny16k.json").write_text(json.dumps(tiny))
    monkeypatch.setenv("TINYML_PIO_BOARD_DEFS", str(tmp_path))
    assert main(["plan", str(ZOO / "plan_residual.tflite"), "--board", "tiny16k"]) == 1
    err = capsys.readouterr().err
    assert "does not fit Tiny-16K" in err
    # planned for the board's CPU (a Cortex-M0+: the optimized kernels' plain C), as its firmware would be: the
    # depthwise conv runs in place (its 12 KB input and output share bytes) with the optimized kernel's ring of
    # padded input rows (2596 B) as scratch
    assert "18980" in err and "12288" in err and "6692 bytes over" in err  # 18980 - (16384 - 4096)
    assert "s2 2596 B" in err
    assert "operator #2 (DEPTHWISE_CONV_2D)" in err
    assert "What to do:" in err and "no plan can fit" in err


def test_unknown_board_lists_the_known_ones(capsys):
    assert main(["plan", str(UNBALANCED), "--board", "nosuchboard"]) == 2
    err = capsys.readouterr().err
    assert "unknown board" in err and "qemu_mps2_an386" in err and "STM32F746G-DISCO" in err


def test_board_files_load():
    from tinyml_pio.boards import list_boards, load_board

    boards = {b.id: b for b in list_boards()}
    assert {"stm32f746g_disco", "nucleo_h743zi", "nucleo_l4r5zi", "nrf52840_dk", "nano33ble", "pico", "esp32s3",
            "qemu_mps2_an385", "qemu_mps2_an386", "qemu_mps2_an500", "qemu_mps2_an505",
            "qemu_mps3_an547"} <= set(boards)
    for b in boards.values():
        assert 0 < b.arena_budget < b.sram_bytes and b.clock_hz > 0
        assert b.emulated == (b.qemu_machine is not None)
    an500 = load_board("qemu_mps2_an500")
    assert an500.qemu_machine == "mps2-an500" and an500.sram_bytes == 320 * 1024
    an385 = load_board("qemu_mps2_an385")  # Cortex-M3: no FPU, no DSP extension
    assert an385.qemu_machine == "mps2-an385" and an385.sram_bytes == 128 * 1024
    assert (an385.cpu, an385.fpu, an385.dsp, an385.mve) == ("cortex-m3", "none", False, False)
    assert load_board("stm32f746g-disco").id == "stm32f746g_disco"


@pytest.mark.parametrize("path", sorted(ZOO.glob("*.tflite")), ids=lambda p: p.stem)
def test_zoo_plans_are_valid(path):
    from tinyml_pio.plan_report import layers_for_planning
    from tinyml_pio.tflite_import import load_model

    g = load_model(path)
    layers, _ = layers_for_planning(g)
    plan = plan_memory(g, layers)
    assert_valid(g, layers, plan)
    assert plan.arena_size <= plan.tflm_greedy_arena


def test_person_detect_matches_tflm_head():
    """TFLM's measured arena head for person_detect is 55296 bytes (../shared/models/README.md)."""
    from tinyml_pio.plan_report import layers_for_planning
    from tinyml_pio.tflite_import import load_model

    g = load_model(shared_or_skip("tflm__person_detect.tflite"))
    layers, _ = layers_for_planning(g)
    plan = plan_memory(g, layers)
    assert plan.arena_size == plan.lower_bound <= 55296


# ------------------------------------------------------------------------------------------------
# Large graphs: the order search stays within its step budget and still gives a valid order


def _wide(branches: int, depth: int) -> G:
    b = G()
    x = b.input(100)
    heads = []
    for i in range(branches):
        t = x
        for k in range(depth):
            t = b.op([t], 50 + 37 * ((i * 3 + k) % 11))
        heads.append(t)
    b.op(heads, 16)
    return b


def test_700_operator_chain_plans_at_its_lower_bound():
    b = G()
    t = b.input(100)
    for i in range(700):
        t = b.op([t], 48 + 16 * (i % 7), scratch=16 * (i % 3))
    g = b.graph()
    plan = plan_memory(g, b.layers)
    assert_valid(g, b.layers, plan)
    assert plan.order == list(range(700)) and plan.arena_size == plan.lower_bound


def test_700_operators_in_100_branches_order_within_the_budget():
    b = _wide(100, 7)
    g = b.graph()
    natural = list(range(len(b.layers)))
    res = best_order(g, b.layers)
    assert not res.exact and is_topological(g, b.layers, res.order)
    assert res.peak <= peak_of(g, b.layers, natural)
    assert_valid(g, b.layers, plan_memory(g, b.layers))


@pytest.mark.parametrize("max_steps", [1, 50, 5000])
def test_tiny_budgets_fall_back_to_a_greedy_topological_order(max_steps):
    b = _wide(14, 3)
    g = b.graph()
    res = best_order(g, b.layers, max_steps=max_steps)
    assert is_topological(g, b.layers, res.order) and not res.exact
    assert res.peak == peak_of(g, b.layers, res.order)
