"""The optimized conv/depthwise kernels (library/src/kernels/*_opt.c) and their build-time pass
(tinyml_pio/passes/opt.py).

- the 32-bit requantization equals TFLite's 64-bit one wherever the pass chooses it (property test
  of the identity the C code relies on, and of the bound that guards it);
- on the host (the kernels' plain-C path, what Cortex-M0+/M3 run): every zoo model, every
  ../shared model, every example, the awkward conv chains and seeded random chains are bit-exact
  against TFLite with the folded biases, repacked weights and chanq constants;
- the pass: which layers it takes, in place kept, scratch planned, weight bytes within 10%;
- in QEMU (the DSP path on Cortex-M4/M7/M33/M55, plain C on the Cortex-M3 when the board exists):
  the awkward and random chains bit-exact against TFLite, and the firmware really runs SMLAD.
More random seeds: TINYML_OPT_SEEDS=200 pytest tests/test_opt_kernels.py -k random_host.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SHARED_MODELS, ZOO, missing_toolchain, objdump, shared_models, zoo_models
from conv_models import AWKWARD_CONV, conv_chain, random_chain
from tinyml_pio import quant
from tinyml_pio.boards import list_boards
from tinyml_pio.cpu import CpuFeatures
from tinyml_pio.passes.opt import chanq
from tinyml_pio.pipeline import compile_model
from tinyml_pio.verify import verify_model

ROOT = Path(__file__).resolve().parent.parent
HOST_OPT = CpuFeatures.host_optimized()
CONV_FUNCS = ("tinyml_conv1x1_s8_opt", "tinyml_conv2d_s8_opt", "tinyml_depthwise_conv2d_s8_opt")  # scratch, chanq
OPT_FUNCS = CONV_FUNCS + ("tinyml_maxpool_s8_opt", "tinyml_avgpool_s8_opt", "tinyml_add_s8_opt")
SIMD_OF = {"tinyml_maxpool_s8_opt": ("ssub8", "sel"), "tinyml_avgpool_s8_opt": ("sxtab16",),
           "tinyml_add_s8_opt": ("smmulr",)}  # the instructions each kernel's DSP path must contain
HOST_SEEDS = int(os.environ.get("TINYML_OPT_SEEDS", "40"))
QEMU_SEEDS = 3
EMULATED = [b.id for b in list_boards() if b.id.startswith("qemu_")]


# ---- the requantization identity ---------------------------------------------------------------

def fast_rq(acc: int, q: np.ndarray) -> int:
    """tinyml_rq_fast in Python: SMMULR(2 * acc, mult), then (y + rnd + (y < 0 ? -1 : 0)) >> shift."""
    _, mult, rnd, rsh = (int(v) for v in q)
    a = acc << 1
    assert -(1 << 31) <= a < (1 << 31)
    y = (a * mult + (1 << 31)) >> 32
    return (y + rnd + (-1 if y < 0 else 0)) >> rsh


@settings(max_examples=400, deadline=None)
@given(mult=st.integers(1 << 30, (1 << 31) - 1), shift=st.integers(-31, 3), out_zp=st.integers(-128, 127),
       in_zp=st.integers(-128, 127), wabs=st.integers(0, 1 << 22), bias=st.integers(-(1 << 24), 1 << 24),
       frac=st.floats(-1.0, 1.0))
def test_fast_requantization_equals_tflite_where_chosen(mult, shift, out_zp, in_zp, wabs, bias, frac):
    q, fast = chanq(np.array([bias]), np.array([0]), np.array([wabs]), in_zp, out_zp, np.array([mult]),
                    np.array([shift]))
    xmax = max(127 - in_zp, in_zp + 128)
    bound = abs(bias) + xmax * wabs
    if not fast:
        assert shift >= 0 or (bound << max(shift, 0)) >= (1 << 30) or -shift > 22
        return
    acc = int(frac * bound)
    ref = int(quant.multiply_by_quantized_multiplier(np.array([acc]), mult, shift)[0]) + out_zp
    assert fast_rq(acc, q) == ref
    for edge in (bound, -bound, 0, 1, -1):
        ref = int(quant.multiply_by_quantized_multiplier(np.array([edge]), mult, shift)[0]) + out_zp
        assert fast_rq(edge, q) == ref


def test_fast_requantization_needs_a_right_shift_and_the_bound():
    args = (np.array([0]), np.array([0]), np.array([100]), 0, 0, np.array([1 << 30]))
    assert chanq(*args, np.array([-1]))[1]
    assert not chanq(*args, np.array([0]))[1]  # no right shift: the exact path
    assert not chanq(np.array([0]), np.array([0]), np.array([1 << 23]), 0, 0, np.array([1 << 30]), np.array([-1]))[1]
    q, _ = chanq(np.array([7]), np.array([3]), np.array([3]), -5, 0, np.array([1 << 30]), np.array([-2]))
    assert q[0] == 7 + 5 * 3  # bias - zp * sum(w)


def add_opt(half: np.ndarray, other: np.ndarray, prm: dict) -> np.ndarray:
    """tinyml_add_s8_opt in Python (int64 arithmetic, every intermediate asserted to fit int32)."""
    def smmulr(a, b):
        assert np.all(np.abs(a) < (1 << 31))
        return (a * b + (1 << 31)) >> 32

    def rdbpot(y, rnd, e):
        return (y + rnd + np.where(y < 0, -1, 0)) >> e

    total = prm["half_base"] + (half.astype(np.int64) << 19)
    if prm["shift"] == 0:
        total += prm["base"] + (other.astype(np.int64) << 19)
    else:
        total += rdbpot(smmulr((other.astype(np.int64) << 21) + prm["base"], prm["mult"]), prm["rnd"], prm["shift"])
    assert np.all(np.abs(total) < (1 << 29))
    v = rdbpot(smmulr(total << 1, prm["out_mult"]), prm["out_rnd"], prm["out_shift"])
    return np.clip(v, prm["act_min"], prm["act_max"])


@settings(max_examples=150, deadline=None)
@given(ratio=st.one_of(st.just(1.0), st.floats(1e-4, 1.0)), out_real=st.floats(1e-7, 0.999),
       zps=st.tuples(*[st.integers(-128, 127)] * 3), swap=st.booleans(), lo=st.integers(-128, 0), hi=st.integers(0, 127))
def test_fast_add_equals_tflite_where_chosen(ratio, out_real, zps, swap, lo, hi):
    """The ADD kernel's 32-bit form against TFLite's AddElementwise, for all 65536 input pairs."""
    from tinyml_pio.passes.opt import add_constants

    reals = [0.5, 0.5 * ratio][::-1 if swap else 1]  # TFLite: the input with the larger scale gets exactly 1/2
    (m1, s1), (m2, s2) = (quant.quantize_multiplier_smaller_than_one_exp(r) for r in reals)
    mo, so = quant.quantize_multiplier_smaller_than_one_exp(out_real)
    z1, z2, zo = zps
    p = dict(input1_offset=-z1, input2_offset=-z2, output_offset=zo, left_shift=20, input1_multiplier=m1,
             input1_shift=s1, input2_multiplier=m2, input2_shift=s2, output_multiplier=mo, output_shift=so,
             act_min=lo, act_max=hi)
    found = add_constants(p)
    if found is None:  # only an output without a right shift (or a zero multiplier) keeps the reference kernel
        assert so >= 0 or min(m1, m2) == 0 or abs(zo) << -so >= 1 << 30, p
        return
    prm, swapped = found
    x1, x2 = (a.reshape(-1) for a in np.meshgrid(np.arange(-128, 128), np.arange(-128, 128)))
    lt1 = quant.multiply_by_quantized_multiplier_smaller_than_one_exp
    ref = lt1(lt1((x1 - z1).astype(np.int64) << 20, m1, s1) + lt1((x2 - z2).astype(np.int64) << 20, m2, s2), mo, so) + zo
    ref = np.clip(ref, lo, hi)
    got = add_opt(x2, x1, prm) if swapped else add_opt(x1, x2, prm)
    assert np.array_equal(got, ref)


# ---- host: the plain-C path against TFLite ------------------------------------------------------

def _examples() -> list[Path]:
    return sorted(ROOT.glob("example_projects/*/models/*.tflite"))


@pytest.mark.parametrize("path", zoo_models() + shared_models() + _examples(), ids=lambda p: p.stem)
def test_models_bit_exact_with_optimized_kernels_on_host(path):
    r = verify_model(str(path), n=10, target=HOST_OPT)
    assert r.ok, f"{path.name}: {r.identical}/{r.total} identical; {r.mismatch}"


def add_models(d: Path) -> dict[str, Path]:
    """Same-shape ADDs the optimized kernel takes: equal input scales (both inputs halve), the larger scale
    first or second, a fused RELU (narrow clamp), odd element counts, an ADD of a tensor with itself."""
    from op_models import Net

    out = {}
    for name, (shape, s1, s2, so, zps, act) in {
        "add_equal_scales": ((1, 7, 5, 3), 0.05, 0.05, 0.09, (3, -7, 11), 0),
        "add_larger_first": ((1, 9, 13), 0.11, 0.013, 0.1, (-128, 40, -5), 0),
        "add_larger_second_relu": ((1, 3, 3, 17), 0.02, 0.3, 0.25, (127, -1, -128), 1),
        "add_relu6_prime": ((1, 61), 0.07, 0.069, 0.03, (0, 5, -20), 3),
    }.items():
        n = Net()
        a, b = n.input("a", shape, scale=s1, zp=zps[0]), n.input("b", shape, scale=s2, zp=zps[1])
        n.tensor("y", shape, scale=so, zp=zps[2])
        n.op("ADD", [a, b], ["y"], fused_activation_function=act)
        out[name] = n.write(d / f"{name}.tflite", ["y"])
    n = Net()
    a = n.input("a", (1, 8, 8, 3), scale=0.04, zp=-3)
    n.tensor("y", (1, 8, 8, 3), scale=0.06, zp=9)
    n.op("ADD", [a, a], ["y"])
    out["add_self"] = n.write(d / "add_self.tflite", ["y"])
    return out


@pytest.fixture(scope="module")
def adds(tmp_path_factory) -> dict[str, Path]:
    return add_models(tmp_path_factory.mktemp("adds"))


ADD_NAMES = ["add_equal_scales", "add_larger_first", "add_larger_second_relu", "add_relu6_prime", "add_self"]


@pytest.mark.parametrize("name", ADD_NAMES)
def test_add_models_bit_exact_on_host(name, adds):
    c = compile_model(adds[name], "m", target=HOST_OPT)
    assert [l.func for l in c.layers] == ["tinyml_add_s8_opt"]
    r = verify_model(str(adds[name]), n=10, target=HOST_OPT)
    assert r.ok, f"{name}: {r.mismatch}"


@pytest.fixture(scope="module")
def awkward(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("conv-awkward")
    return {name: conv_chain(d / f"{name}.tflite", **kw) for name, kw in AWKWARD_CONV.items()}


@pytest.mark.parametrize("name", list(AWKWARD_CONV))
def test_awkward_chains_bit_exact_on_host(name, awkward):
    c = compile_model(awkward[name], "m", target=HOST_OPT)
    assert any(l.func in OPT_FUNCS for l in c.layers)
    r = verify_model(str(awkward[name]), n=10, target=HOST_OPT)
    assert r.ok, f"{name}: {r.mismatch}"


def test_random_chains_bit_exact_on_host(tmp_path):
    failures = []
    for seed in range(HOST_SEEDS):
        kw = random_chain(seed)
        path = conv_chain(tmp_path / f"r{seed}.tflite", **kw)
        r = verify_model(str(path), n=4, target=HOST_OPT)
        if not r.ok:
            failures.append(f"seed {seed}: {r.mismatch} ({kw['input_shape']}, {kw['layers']})")
    assert not failures, "\n".join(failures)


# ---- the pass --------------------------------------------------------------------------------------

def test_pass_takes_conv_and_depthwise_layers():
    c = compile_model(SHARED_MODELS / "tflm__person_detect.tflite", "m", target="qemu_mps2_an386") \
        if (SHARED_MODELS / "tflm__person_detect.tflite").is_file() else None
    if c is None:
        pytest.skip("../shared/models/tflm__person_detect.tflite not present")
    funcs = {l.op.type: set() for l in c.layers}
    for l in c.layers:
        funcs[l.op.type].add(l.func)
    assert funcs["CONV_2D"] == {"tinyml_conv1x1_s8_opt"}
    # the first layer (one input channel, multiplier 8) runs as a convolution, the rest on the depthwise kernel
    assert funcs["DEPTHWISE_CONV_2D"] == {"tinyml_conv2d_s8_opt", "tinyml_depthwise_conv2d_s8_opt"}
    assert c.kernels == "dsp" and all(l.params.get("fast_rq") for l in c.layers if l.func in CONV_FUNCS)
    assert funcs["AVERAGE_POOL_2D"] == {"tinyml_avgpool_s8_opt"}
    text = c.files["m.c"]
    assert "(const tinyml_chanq_t *)m_l1_q" in text and '#include "tinyml/depthwise_conv_opt.h"' in text
    # in place survives: the depthwise and 1x1 layers still overwrite their inputs, and their scratch is planned
    portable = compile_model(SHARED_MODELS / "tflm__person_detect.tflite", "m")
    assert len(c.plan.inplace_ops) >= len(portable.plan.inplace_ops) - 1
    assert all(c.plan.scratch_offsets.get(l.op.index) is not None for l in c.layers if l.func in CONV_FUNCS)
    assert c.plan.arena_size <= portable.plan.arena_size * 1.05


@pytest.mark.parametrize("path", zoo_models() + shared_models() + _examples(), ids=lambda p: p.stem)
def test_weight_bytes_grow_at_most_ten_percent(path):
    def weight_bytes(c) -> int:
        used = {a.tensor for l in c.layers for a in l.args if hasattr(a, "tensor") and c.graph.t(a.tensor).is_const}
        consts = sum(a.nbytes for l in c.layers for k, a in l.consts.items() if k not in ("mult", "shift", "q"))
        return sum(c.graph.t(t).nbytes for t in used) + consts

    p, o = compile_model(path, "m"), compile_model(path, "m", target="cortex-m4")
    assert weight_bytes(o) <= 1.10 * weight_bytes(p) + 64, (weight_bytes(p), weight_bytes(o))


def test_portable_host_keeps_the_reference_kernels():
    c = compile_model(ZOO / "conv_mobilenet_block.tflite", "m")
    assert not any(l.func in OPT_FUNCS for l in c.layers) and c.kernels == "portable"
    m3 = compile_model(ZOO / "conv_mobilenet_block.tflite", "m", target="cortex-m3")
    assert any(l.func in OPT_FUNCS for l in m3.layers) and m3.kernels == "opt"


# ---- QEMU: the DSP path (and plain C on Cortex-M3) on emulated boards -------------------------------

needs_qemu = pytest.mark.skipif(missing_toolchain("tflite_runtime") is not None,
                                reason=str(missing_toolchain("tflite_runtime")))


def _run_on(model: Path, board: str, n_inputs: int = 4) -> None:
    from tinyml_pio.hil.runner import run_on_target
    from tinyml_pio.hil.targets import EmulatedTarget

    target = EmulatedTarget(board)
    c = compile_model(model, "model", target=target.cpu)
    assert any(l.func in OPT_FUNCS for l in c.layers)
    rec = run_on_target(c, target, n_inputs=n_inputs, seed=3)
    assert rec["identical"] == rec["inputs"] == n_inputs, f"{model.name} on {board}: {rec['bit_exact']}"
    elf = target.project / ".pio" / "build" / board / "firmware.elf"
    funcs = {l.func for l in c.layers if l.func in OPT_FUNCS}
    asm = "".join(objdump(elf, f) for f in funcs)
    assert all(f"<{f}>:" in asm for f in funcs)
    if target.cpu.dsp and not target.cpu.mve:  # the firmware runs the SIMD code, not the plain-C path
        # (binutils 2.40 does not decode MVE instructions, so the M55's Helium code is not checked here)
        for f in funcs:
            simd = SIMD_OF.get(f, ("smla", "sxtb16"))
            assert all(i in objdump(elf, f) for i in simd), f"{board}: no {simd} in {f}"


@needs_qemu
@pytest.mark.parametrize("board", EMULATED)
@pytest.mark.parametrize("name", list(AWKWARD_CONV))
def test_awkward_chains_bit_exact_in_qemu(name, board, awkward, hil_env):
    _run_on(awkward[name], board)


@needs_qemu
@pytest.mark.parametrize("board", EMULATED)
@pytest.mark.parametrize("seed", range(1000, 1000 + QEMU_SEEDS))
def test_random_chains_bit_exact_in_qemu(seed, board, tmp_path, hil_env):
    _run_on(conv_chain(tmp_path / f"r{seed}.tflite", **random_chain(seed)), board)


@needs_qemu
@pytest.mark.parametrize("board", ["qemu_mps2_an386", "qemu_mps2_an385"])
@pytest.mark.parametrize("model", sorted(ZOO.glob("pool_max*.tflite")) + sorted(ZOO.glob("pool_avg*.tflite")),
                         ids=lambda p: p.stem)
def test_pools_bit_exact_in_qemu(model, board, hil_env):
    _run_on(model, board)


@needs_qemu
@pytest.mark.parametrize("board", ["qemu_mps2_an386", "qemu_mps2_an385", "qemu_mps3_an547"])
@pytest.mark.parametrize("name", ADD_NAMES)
def test_add_bit_exact_in_qemu(name, board, adds, hil_env):
    _run_on(adds[name], board)
