"""Kernels chosen by the board's CPU (tinyml_pio/cpu.py, tinyml_pio/passes/variants.py and opt.py).

- target detection: board_defs boards, PlatformIO board configurations, CPU names, portable;
- the pass: which layers change (FULLY_CONNECTED here; conv/depthwise in tests/test_opt_kernels.py),
  what the generated code says, that the portable host changes nothing; the drop-in variant registry;
- the front doors: the PlatformIO extra script (target in the stamp, "kernels: dsp" in its summary),
  the HIL targets, the CLI;
- the C side: the optimized kernels build for every Cortex-M (plain C without DSP, real
  SXTB16/SMLAD with it), code generated for a DSP core still links for Cortex-M0+ and the host;
- bit-exactness of FULLY_CONNECTED on the optimized matrix kernel on every emulated board (QEMU)
  against TFLite, on FC layers with awkward depths (1, 3, 4, 5, 7, 250), odd batch counts, odd
  output depths, per-channel weights and -128 weights, plus the zoo's FC models and Arm's DNN-S.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, SHARED_MODELS, ZOO, FakeBoardConfig, FakeEnv, objdump as _objdump
from fc_models import AWKWARD, fc_chain
from tinyml_pio.boards import Board, list_boards, load_board
from tinyml_pio.cpu import CpuFeatures
from tinyml_pio.errors import TinymlError
from tinyml_pio.hostbuild import HostModel, kernel_sources, library_dir
from tinyml_pio.passes import opt as OPT
from tinyml_pio.passes import variants as V
from tinyml_pio.pipeline import compile_model

FC_MODEL = ZOO / "fc_relu.tflite"
DSP_FUNC = "tinyml_fully_connected_s8_opt"  # what FULLY_CONNECTED runs on for a known CPU (but the M55)
DSP_HEADER = "tinyml/fully_connected_opt.h"
MATRIX_FUNC = "tinyml_conv1x1_s8_opt"  # 1x1 convs, and FULLY_CONNECTED with Helium
PORTABLE_FUNC = "tinyml_fully_connected_s8"
EMULATED = ["qemu_mps2_an386", "qemu_mps2_an500", "qemu_mps2_an505", "qemu_mps3_an547"]  # the DSP boards
NO_DSP_EMULATED = ["qemu_mps2_an385"]  # Cortex-M3: the optimized kernels' plain C, no FC variant
ARM = shutil.which("arm-none-eabi-gcc")
needs_arm = pytest.mark.skipif(ARM is None, reason="arm-none-eabi-gcc not installed (apt-get install gcc-arm-none-eabi)")


# ---- target detection -------------------------------------------------------------------------

@pytest.mark.parametrize("cpu, dsp, mve", [
    ("cortex-m0", False, False), ("cortex-m0plus", False, False), ("cortex-m3", False, False),
    ("cortex-m23", False, False), ("cortex-m4", True, False), ("cortex-m7", True, False),
    ("cortex-m33", True, False), ("cortex-m33+nodsp", False, False), ("Cortex-M55", True, True),
    ("cortex-m55+nomve", True, False), ("cortex-m85", True, True), ("xtensa-lx7", False, False), ("", False, False),
])
def test_features_from_cpu_name(cpu, dsp, mve):
    t = CpuFeatures.from_cpu(cpu)
    assert (t.dsp, t.mve) == (dsp, mve)
    assert t.features == tuple(f for f, on in (("mve", mve), ("dsp", dsp)) if on)  # best first
    assert t.is_portable == (not dsp and not mve)


def test_m33_dsp_follows_the_board_definition():
    assert CpuFeatures.from_cpu("cortex-m33", dsp=False).dsp is False  # optional on M33: the board decides
    assert CpuFeatures.from_cpu("cortex-m4", dsp=False).dsp is True  # fixed on M4: a CPU name is enough
    m33 = Board(id="m33_nodsp", name="M33 without DSP", mcu="x", cpu="cortex-m33", fpu="none", dsp=False, mve=False,
                clock_hz=1, sram_bytes=1, flash_bytes=1, reserved_sram_bytes=0)
    assert CpuFeatures.from_board(m33).is_portable


def test_every_board_def():
    for b in list_boards():
        t = CpuFeatures.from_board(b)
        arm = b.cpu.startswith("cortex-m")
        assert t.name == b.id and t.dsp == (arm and b.dsp) and t.mve == (arm and b.mve), b.id
    assert CpuFeatures.for_board("pico").is_portable  # Cortex-M0+
    assert CpuFeatures.for_board("esp32s3").is_portable  # Xtensa's "dsp" is not the Arm DSP extension
    assert CpuFeatures.for_board("qemu_mps2_an386").features == ("dsp",)
    assert CpuFeatures.for_board("qemu_mps3_an547").features == ("mve", "dsp")
    assert CpuFeatures.for_board("disco_f746ng").name == "stm32f746g_disco"  # by PlatformIO id
    assert CpuFeatures.for_board("host").is_portable and CpuFeatures.for_board("no_such_board").is_portable
    m3 = CpuFeatures.for_board("qemu_mps2_an385")
    assert m3.is_portable and m3.key() == "opt" and m3.cpu == "cortex-m3"


def test_features_from_platformio_board_config():
    # the emulated boards' PlatformIO manifests (nested JSON) agree with board_defs
    for b in EMULATED:
        cfg = json.loads((ROOT / "board_defs" / "platform" / "boards" / f"{b}.json").read_text())
        assert CpuFeatures.from_platformio(cfg).dsp, b
        assert CpuFeatures.from_platformio(cfg, b) == CpuFeatures.for_board(b)
    for b in NO_DSP_EMULATED:
        cfg = json.loads((ROOT / "board_defs" / "platform" / "boards" / f"{b}.json").read_text())
        assert not CpuFeatures.from_platformio(cfg).dsp and CpuFeatures.from_platformio(cfg, b) == CpuFeatures.for_board(b)
    # a board board_defs does not know: build.cpu decides (PlatformIO's BoardConfig takes dotted keys)
    assert CpuFeatures.from_platformio(FakeBoardConfig({"build.cpu": "cortex-m0plus"}), "some_m0_board").is_portable
    t = CpuFeatures.from_platformio(FakeBoardConfig({"build.cpu": "cortex-m33"}), "some_m33_board")
    assert t.features == ("dsp",) and t.name == "some_m33_board"
    assert CpuFeatures.from_platformio(FakeBoardConfig({}), "native").is_portable  # no build.cpu
    assert CpuFeatures.from_platformio(None, "").is_portable


def test_resolve():
    assert CpuFeatures.resolve(None) == CpuFeatures.resolve("portable") == CpuFeatures.resolve("host") == CpuFeatures()
    assert CpuFeatures.resolve("cortex-m4").dsp and not CpuFeatures.resolve("cortex-m0plus").dsp
    assert CpuFeatures.resolve("nano33ble") == CpuFeatures.from_board(load_board("nano33ble"))
    assert CpuFeatures.resolve(load_board("nano33ble")).dsp
    t = CpuFeatures.resolve("cortex-m7")
    assert CpuFeatures.resolve(t) is t
    with pytest.raises(TinymlError, match="unknown target 'bogus'") as e:
        CpuFeatures.resolve("bogus")
    assert "What to do:" in str(e.value)


# ---- the pass ---------------------------------------------------------------------------------

def test_portable_target_changes_nothing():
    portable = compile_model(FC_MODEL, "m")
    for target in (None, "portable", "host"):
        c = compile_model(FC_MODEL, "m", target=target)
        assert c.kernels == "portable" and c.variants == {}
        assert DSP_FUNC not in c.files["m.c"] and "_opt.h" not in c.files["m.c"]
        assert [l.func for l in c.layers] == [l.func for l in portable.layers]
    assert compile_model(FC_MODEL, "m", target=None).files == portable.files  # the default
    for target in ("pico", "cortex-m0plus", "esp32s3"):  # known CPUs without Arm DSP: the kernels' plain C
        c = compile_model(FC_MODEL, "m", target=target)
        assert c.kernels == "opt" and all(l.func == DSP_FUNC for l in c.layers)


def test_dsp_target_specializes_fc_layers_and_nothing_else():
    portable = compile_model(ZOO / "fixedpoint_dense_sigmoid.tflite", "m")
    c = compile_model(ZOO / "fixedpoint_dense_sigmoid.tflite", "m", target="qemu_mps2_an386")
    assert c.kernels == "dsp" and c.target == CpuFeatures.for_board("qemu_mps2_an386")
    fc = [l.op.index for l in portable.layers if l.func == PORTABLE_FUNC]
    assert fc and sorted(c.variants) == fc and set(c.variants.values()) == {"dsp"}
    for p, v in zip(portable.layers, c.layers):
        if p.op.index in fc:
            assert (v.func, v.header, v.params_type) == (DSP_FUNC, DSP_HEADER, "tinyml_fc_opt_params_t")
            k, out = p.params["in_depth"], p.params["out_depth"]
            # the input row widened once into scratch when four groups of four filters share a long enough row
            widen = out >= 16 and 64 <= k <= 1024
            assert "optimized kernel" in v.comment and v.scratch_bytes == (8 * (k // 4) if widen else 0)
            assert v.params["batches"] == p.params["batches"] and v.params["widen"] == int(widen)
            # the weights are the same bytes, four filters interleaved block by block
            w = c.graph.t(p.args[1].tensor).data.reshape(out, k)
            assert sorted(v.consts["w"].tobytes()) == sorted(w.tobytes()) and v.consts["w"][4] == w[1, 0]
            # the folded bias is the portable kernel's, now the first word of each chanq
            assert np.array_equal(v.consts["q"].reshape(-1, 4)[:, 0], p.consts["bias"])
        else:  # the logistic's LUT is untouched
            assert (v.func, v.header, v.comment, v.args) == (p.func, p.header, p.comment, p.args)
    text = c.files["m.c"]
    assert text.count(f"{DSP_FUNC}(") == len(fc) and f"{PORTABLE_FUNC}(" not in text
    assert f'#include "{DSP_HEADER}"' in text
    assert " * kernels: dsp; target qemu_mps2_an386 (cortex-m4, features: dsp)" in text
    for i in fc:
        assert re.search(rf"/\* op {i}: FULLY_CONNECTED \(.*optimized kernel.*\*/\n(\s+\w+\(\d+\);\n)?\s+{DSP_FUNC}\(", text)
    # the widened rows are planned in the arena (each with its alignment), nothing else grows
    scratch = [l for l in c.layers if l.scratch_bytes]
    assert all(c.plan.scratch_offsets.get(l.op.index) is not None for l in scratch)
    assert c.plan.arena_size <= portable.plan.arena_size + sum(-(-l.scratch_bytes // 16) * 16 + 16 for l in scratch)


def test_a_board_without_optimized_layers_says_portable():
    c = compile_model(ZOO / "elementwise_maxmin_inputs.tflite", "m", target="cortex-m4")
    assert c.kernels == "portable" and c.variants == {} and " * kernels: portable; target cortex-m4" in c.files["m.c"]


@pytest.fixture()
def scratch_registry():
    saved = {k: dict(v) for k, v in V._REGISTRY.items()}
    yield V
    V._REGISTRY.clear()
    V._REGISTRY.update(saved)


def test_best_feature_wins_and_in_place_calls_are_swapped_too(scratch_registry):
    from tinyml_pio.ops import Layer
    from tinyml_pio.ir import Op

    op = Op(index=3, type="X", inputs=[0], outputs=[1], options={})
    layer = Layer(op=op, func="k_s8", header="tinyml/k.h", inplace=(0, 1), inplace_func="k_s8_inplace", comment="c")
    V.register_variant("k_s8", "dsp", "k_s8_dsp", "tinyml/arm/k_dsp.h")
    V.register_variant("k_s8_inplace", "dsp", "k_s8_inplace_dsp", "tinyml/arm/k_dsp.h")
    (out,), used = V.apply_variants([layer], CpuFeatures.from_cpu("cortex-m4"))
    assert (out.func, out.inplace_func, out.header, used) == ("k_s8_dsp", "k_s8_inplace_dsp", "tinyml/arm/k_dsp.h", {3: "dsp"})
    assert out.comment == "c, kernel variant: dsp" and layer.func == "k_s8"  # the input layer is not mutated
    assert out.call(True)[0] == "k_s8_inplace_dsp" and out.call(False)[0] == "k_s8_dsp"
    # M55: an MVE variant beats the DSP one; without one, the DSP variant is used
    m55 = CpuFeatures.from_cpu("cortex-m55")
    assert V.apply_variants([layer], m55)[0][0].func == "k_s8_dsp"
    V.register_variant("k_s8", "mve", "k_s8_mve", "tinyml/arm/k_mve.h")
    assert V.variant_for("k_s8", m55).func == "k_s8_mve"
    assert V.variant_for("k_s8", CpuFeatures.from_cpu("cortex-m7")).func == "k_s8_dsp"
    assert V.variant_for("k_s8", CpuFeatures()) is None and V.variant_for(None, m55) is None
    assert V.kernels_label({1: "dsp", 2: "mve"}) == "mve+dsp" and V.kernels_label({}) == "portable"
    with pytest.raises(ValueError, match="unknown CPU feature"):
        V.register_variant("k_s8", "neon", "k_s8_neon", "tinyml/arm/k_neon.h")


def test_every_optimized_kernel_exists_in_the_library():
    """Each kernel the specializers call is declared in its header and defined in src/kernels/."""
    inc, src = library_dir() / "include", library_dir() / "src" / "kernels"
    sources = "\n".join(p.read_text() for p in sorted(src.rglob("*.c")))
    funcs = {"tinyml_conv1x1_s8_opt": "tinyml/conv_opt.h", "tinyml_conv2d_s8_opt": "tinyml/conv_opt.h",
             "tinyml_depthwise_conv2d_s8_opt": "tinyml/depthwise_conv_opt.h", "tinyml_maxpool_s8_opt": "tinyml/pool_opt.h",
             "tinyml_avgpool_s8_opt": "tinyml/pool_opt.h", "tinyml_add_s8_opt": "tinyml/elementwise_opt.h"}
    for func, header in funcs.items():
        assert re.search(rf"\bvoid {func}\(", (inc / header).read_text()), f"{header} does not declare {func}"
        assert re.search(rf"^void {func}\(", sources, re.M), f"{func} is not defined in src/kernels"
    assert set(OPT.SPECIALIZERS) == {"tinyml_conv2d_s8", "tinyml_depthwise_conv2d_s8", "tinyml_fully_connected_s8",
                                     "tinyml_maxpool_s8", "tinyml_avgpool_s8", "tinyml_add_s8"}


# ---- front doors: PlatformIO extra script, HIL targets, CLI ---------------------------------------



@pytest.fixture()
def extra():
    from tinyml_pio.platformio import extra as mod

    mod._STATE.clear()
    yield mod
    mod._STATE.clear()


def test_extra_script_target_detection(extra, tmp_path):
    k = extra.kernel_target
    assert k(FakeEnv({}, tmp_path, tmp_path, board="qemu_mps2_an386")).features == ("dsp",)  # board_defs
    assert k(FakeEnv({}, tmp_path, tmp_path, board="pico")).is_portable
    assert k(FakeEnv({}, tmp_path, tmp_path, board="x", config={"build.cpu": "cortex-m7"})).features == ("dsp",)
    assert k(FakeEnv({}, tmp_path, tmp_path, board="y", config={"build.cpu": "cortex-m3"})).is_portable
    assert k(FakeEnv({}, tmp_path, tmp_path)).is_portable  # no board (native)
    opt = {extra.OPT_KERNELS: "portable"}
    assert k(FakeEnv(opt, tmp_path, tmp_path, board="qemu_mps2_an386")).is_portable
    with pytest.raises(TinymlError, match="is not auto or portable"):
        k(FakeEnv({extra.OPT_KERNELS: "fast"}, tmp_path, tmp_path, board="qemu_mps2_an386"))


def _example_models_option(project: Path) -> str:
    text = (project / "platformio.ini").read_text()
    return re.search(r"^custom_tinyml_models\s*=\s*(\S+)", text, re.M).group(1)


@pytest.mark.parametrize("project", sorted(p.parent.name for p in (ROOT / "example_projects").glob("*/platformio.ini")))
def test_example_projects_on_emulated_m4_use_the_optimized_kernels(extra, project, tmp_path):
    """What `pio run -e qemu_mps2_an386` generates for every example project (tests/test_examples.py
    and tests/test_platformio.py build and run exactly this in QEMU, bit-exact against TFLite)."""
    proj = ROOT / "example_projects" / project
    opts = {extra.OPT_MODELS: _example_models_option(proj)}
    custom = re.search(r"^custom_tinyml_custom_ops\s*=\s*(\S+)", (proj / "platformio.ini").read_text(), re.M)
    if custom:  # custom_op_window: its SignalWindow runs the project's own kernel
        opts[extra.OPT_CUSTOM_OPS] = custom.group(1)
    prefix = opts[extra.OPT_MODELS].partition(":")[0]
    log: list[str] = []
    env = FakeEnv(opts, tmp_path / "build", proj, board="qemu_mps2_an386")
    (g,) = extra.configure(env, FakeEnv({}, tmp_path, proj), library_dir=str(library_dir()), log=log.append)
    text = (tmp_path / "build" / "tinyml" / f"{prefix}.c").read_text()
    assert g.kernels == "dsp" and f"{DSP_FUNC}(" in text and f"{PORTABLE_FUNC}(" not in text
    assert log[0].endswith("kernels: dsp (converted)"), log
    assert str(library_dir() / "include") in env.cpppath  # where tinyml/conv_opt.h is found


def test_stamp_regenerates_when_the_target_changes(extra, tmp_path):
    (tmp_path / "m.tflite").write_bytes(FC_MODEL.read_bytes())
    (spec,) = extra.parse_models("m.tflite", None, None, tmp_path)
    out = tmp_path / "gen"
    logs: list[str] = []
    m4, m0 = CpuFeatures.for_board("qemu_mps2_an386"), CpuFeatures.for_board("pico")
    assert extra.generate([spec], out, logs.append, target=m4)[0].fresh
    (g,) = extra.generate([spec], out, logs.append, target=m4)
    assert not g.fresh and g.kernels == "dsp" and "kernels: dsp (up to date)" in logs[-1]
    (g,) = extra.generate([spec], out, logs.append, target=m0)
    assert g.fresh and g.kernels == "opt" and DSP_FUNC in (out / "model.c").read_text()
    # Cortex-M0+: no Arm extension, but a known CPU (the optimized kernels' plain C where they apply)
    assert json.loads((out / "tinyml-stamp.json").read_text())["models"]["model"]["target"] == "opt"


def test_hil_targets_know_their_cpu():
    from tinyml_pio.hil.targets import EmulatedTarget, HostTarget, make_target

    assert make_target("qemu_mps2_an386").cpu.features == ("dsp",)
    assert make_target("qemu_mps3_an547").cpu.features == ("mve", "dsp")
    assert make_target("qemu_mps2_an386", cpu=CpuFeatures.portable()).cpu.is_portable
    host = HostTarget()
    try:
        assert host.cpu.is_portable
    finally:
        host.stop()
    t = EmulatedTarget("qemu_mps2_an505")
    portable = compile_model(FC_MODEL, "model")
    c = t.for_cpu(portable)
    assert c is not portable and c.kernels == "dsp" and c.target == t.cpu
    assert t.for_cpu(c) is c  # already for this CPU: not compiled again


def test_cli_convert_target(tmp_path, capsys):
    from tinyml_pio.cli import main

    assert main(["convert", str(FC_MODEL), "-o", str(tmp_path / "a"), "--target", "cortex-m4"]) == 0
    assert "kernels: dsp" in capsys.readouterr().out and DSP_FUNC in (tmp_path / "a" / "model.c").read_text()
    assert main(["convert", str(FC_MODEL), "-o", str(tmp_path / "b")]) == 0
    assert "kernels: portable" in capsys.readouterr().out
    assert main(["convert", str(FC_MODEL), "-o", str(tmp_path / "c"), "--target", "cortex-m99x"]) == 2  # unknown CPU: refused
    assert main(["convert", str(FC_MODEL), "-o", str(tmp_path / "d"), "--target", "bogus"]) == 2


# ---- the C side -------------------------------------------------------------------------------

def test_optimized_kernels_are_part_of_the_library_everywhere():
    opt = sorted((library_dir() / "src" / "kernels").rglob("*_opt*.c"))
    assert len(opt) >= 2 and all(p in kernel_sources() for p in opt)  # host archive, every-Cortex-M compile test


@needs_arm
@pytest.mark.parametrize("cpu, dsp", [("cortex-m0plus", False), ("cortex-m3", False), ("cortex-m4", True),
                                      ("cortex-m7", True), ("cortex-m33", True), ("cortex-m55", True)])
def test_optimized_kernel_uses_smlad_only_with_the_extension(cpu, dsp, tmp_path):
    """conv_opt.c: SXTB16/SMLAD with the DSP extension, plain C without; on the M55 the functions
    come from mve/conv_opt_mve.c (VMLADAV) and conv_opt.c compiles to nothing."""
    kernels = library_dir() / "src" / "kernels"
    mve = cpu == "cortex-m55"
    src = kernels / "mve" / "conv_opt_mve.c" if mve else kernels / "conv_opt.c"
    obj = tmp_path / "conv_opt.o"
    flags = ["-mfloat-abi=hard"] if mve else []
    for source, out in ((src, obj), (kernels / "conv_opt.c", tmp_path / "other.o")):
        subprocess.run([ARM, f"-mcpu={cpu}", "-mthumb", *flags, "-std=c99", "-Wall", "-Wextra", "-Werror", "-O2", "-c",
                        "-I", str(library_dir() / "include"), str(source), "-o", str(out)], check=True)
    asm = _objdump(obj, MATRIX_FUNC)
    assert MATRIX_FUNC in asm
    if mve:  # (binutils 2.40 does not decode MVE: the DSP code is absent, the MVE file defines the kernel)
        assert "smlad" not in asm and MATRIX_FUNC not in _objdump(tmp_path / "other.o", MATRIX_FUNC)
    else:
        assert ("smlad" in asm and "sxtb16" in asm) == dsp, asm[-2000:]


@needs_arm
@pytest.mark.parametrize("cpu, target", [("cortex-m0plus", "cortex-m4"), ("cortex-m0plus", "pico"),
                                         ("cortex-m4", "qemu_mps2_an386"), ("cortex-m3", "qemu_mps2_an385")])
def test_generated_code_links_for_cortex_m(cpu, target, tmp_path):
    """A whole program (generated model + every kernel) links with arm-none-eabi-gcc; on Cortex-M0+
    even code generated for a DSP core does (the variant's fallback)."""
    c = compile_model(ZOO / "fixedpoint_dense_sigmoid.tflite", "net", target=target)
    for name, text in c.files.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "main.c").write_text('#include "net.h"\nint main(void) { return net_invoke(); }\n')
    srcs = [str(tmp_path / "net.c"), str(tmp_path / "main.c")] + [str(s) for s in kernel_sources()]
    elf = tmp_path / "net.elf"
    r = subprocess.run([ARM, f"-mcpu={cpu}", "-mthumb", "-std=c99", "-Wall", "-Wextra", "-Werror", "-O2",
                        "--specs=nosys.specs", "-I", str(library_dir() / "include"), "-I", str(tmp_path), *srcs,
                        "-lm", "-o", str(elf)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    has_smlad = "smlad" in _objdump(elf, DSP_FUNC)
    assert has_smlad == (cpu == "cortex-m4")  # M0+ and M3: the optimized kernels' plain C


# ---- bit-exact on emulated Cortex-M4/M7/M33/M55 (QEMU), through the HIL harness -------------------

def _qemu_missing() -> str | None:
    for tool in ("arm-none-eabi-gcc", "arm-none-eabi-objdump", "qemu-system-arm"):
        if shutil.which(tool) is None:
            return f"{tool} not on PATH (apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm)"
    for mod in ("platformio", "SCons", "serial", "tflite_runtime"):
        try:
            __import__(mod)
        except ImportError:
            return f"python module {mod} missing"
    return None


needs_qemu = pytest.mark.skipif(_qemu_missing() is not None, reason=str(_qemu_missing()))


def _run_dsp_on(model: Path, board: str, n_inputs: int = 6) -> dict:
    from tinyml_pio.hil.runner import run_on_target
    from tinyml_pio.hil.targets import EmulatedTarget

    target = EmulatedTarget(board)
    c = compile_model(model, "model", target=target.cpu)
    func = MATRIX_FUNC if target.cpu.mve else DSP_FUNC  # Helium: FULLY_CONNECTED on the matrix kernel
    assert c.kernels == V.specialized_label(target.cpu) and f"{func}(" in c.files["model.c"]
    rec = run_on_target(c, target, n_inputs=n_inputs, seed=1)
    assert rec["kernels"] == c.kernels
    assert rec["identical"] == rec["inputs"] == n_inputs, f"{model.name} on {board}: {rec['bit_exact']}"
    # the firmware really runs the SIMD code (not the no-DSP fallback)
    elf = target.project / ".pio" / "build" / board / "firmware.elf"
    if target.cpu.dsp and not target.cpu.mve:
        asm = _objdump(elf, func)
        assert "smlad" in asm and "sxtb16" in asm and "ldrd" in asm, f"{board}: no SMLAD in {func}"
    return rec


@pytest.fixture(scope="module")
def awkward_models(tmp_path_factory):
    d = tmp_path_factory.mktemp("fc-awkward")
    return {name: fc_chain(d / f"{name}.tflite", **kw) for name, kw in AWKWARD.items()}


@needs_qemu
@pytest.mark.parametrize("board", EMULATED + NO_DSP_EMULATED)
@pytest.mark.parametrize("name", list(AWKWARD))
def test_fc_bit_exact_on_awkward_shapes_in_qemu(name, board, awkward_models, hil_env):
    _run_dsp_on(awkward_models[name], board)


ZOO_FC = sorted(ZOO.glob("fc_*.tflite"))
DNN_S = SHARED_MODELS / "armmlex__dnn_s_quantized.tflite"


@needs_qemu
@pytest.mark.parametrize("model", ZOO_FC + [DNN_S], ids=lambda p: p.stem)
def test_fc_bit_exact_on_fc_models_in_qemu(model, hil_env):
    if not model.is_file():
        pytest.skip(f"{model} not present (../shared/models beside the repository)")
    _run_dsp_on(model, "qemu_mps2_an386")
