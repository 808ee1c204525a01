"""Arena placement from `tinyml-pio convert` and the CMake module: a section attribute, the
application's arena, a shared arena for models converted into one directory, each compiled with
arm-none-eabi-gcc (the sections and the compile-time size checks), and the option errors (exit 2).
The PlatformIO side, with builds run on QEMU, is tests/test_platformio_memory.py."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, ZOO, missing_toolchain
from tinyml_pio.errors import EXIT_USAGE

MLP = ROOT / "example_projects" / "hello_mlp" / "models" / "fc_relu.tflite"
DIGITS = ROOT / "example_projects" / "digits_cnn" / "models" / "digits_cnn.tflite"
INCLUDE = ROOT / "library" / "include"

_MISSING = missing_toolchain()
needs_toolchain = pytest.mark.skipif(_MISSING is not None, reason=str(_MISSING))


def _convert(model: Path, out: Path, prefix: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tinyml_pio.cli", "convert", str(model), "-o", str(out), "--prefix", prefix,
                           *args], capture_output=True, text=True, timeout=120)


def _cc(src: Path, obj: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-O2", "-std=c99", "-c", str(src), "-o", str(obj),
                           f"-I{src.parent}", f"-I{INCLUDE}", *extra], capture_output=True, text=True)


def _sections(obj: Path) -> dict[str, str]:
    """{symbol: section} of an object's symbol table (arm-none-eabi-objdump -t)."""
    out = subprocess.run(["arm-none-eabi-objdump", "-t", str(obj)], capture_output=True, text=True, check=True).stdout
    return {m.group(2): m.group(1) for m in re.finditer(r"^[0-9a-f]+\s.*?\s(\S+)\s+[0-9a-f]+\s+(\S+)$", out, re.M)}


@needs_toolchain
def test_convert_shared_arena_in_a_section(tmp_path):
    out = tmp_path / "gen"
    for model, prefix in ((MLP, "mlp"), (DIGITS, "dg")):
        r = _convert(model, out, prefix, "--shared-arena", "g", "--arena-section", ".dtcm")
        assert r.returncode == 0 and f"wrote {out / 'tinyml_arena_g.c'}" in r.stdout, r.stderr
    group = (out / "tinyml_arena_g.c").read_text()
    assert "#define TINYML_ARENA_G_SIZE 640" in group  # the larger of 40 and 640
    for name in ("mlp", "dg", "tinyml_arena_g"):
        assert _cc(out / f"{name}.c", tmp_path / f"{name}.o").returncode == 0
    assert _sections(tmp_path / "tinyml_arena_g.o")["tinyml_arena_g"] == ".dtcm"
    assert "tinyml_arena_g" in subprocess.run(["arm-none-eabi-nm", "-u", str(tmp_path / "mlp.o")], capture_output=True,
                                              text=True).stdout  # the model uses the group's buffer, has none
    # the group file refuses a buffer smaller than a member's plan at compile time
    (out / "small.c").write_text(group.replace("#define TINYML_ARENA_G_SIZE 640", "#define TINYML_ARENA_G_SIZE 64"))
    r = _cc(out / "small.c", tmp_path / "small.o")
    assert r.returncode != 0 and "tinyml_arena_g_fits_dg" in r.stderr, r.stderr
    # a member asking for another section: an error before anything is written
    r = _convert(DIGITS, out, "dg2", "--shared-arena", "g")
    assert r.returncode == EXIT_USAGE and "ask for different sections (.dtcm, none)" in r.stderr
    assert not (out / "dg2.h").exists() and "Traceback" not in r.stderr


@needs_toolchain
def test_convert_static_section_and_application_arena(tmp_path):
    r = _convert(MLP, tmp_path / "s", "mlp", "--arena-section", ".sram2")
    assert r.returncode == 0, r.stderr
    assert _cc(tmp_path / "s" / "mlp.c", tmp_path / "s.o").returncode == 0
    assert _sections(tmp_path / "s.o")["mlp_arena"] == ".sram2"
    r = _convert(MLP, tmp_path / "e", "mlp", "--arena", "extern")
    assert r.returncode == 0, r.stderr
    assert _cc(tmp_path / "e" / "mlp.c", tmp_path / "e.o").returncode == 0
    assert "mlp_arena" in subprocess.run(["arm-none-eabi-nm", "-u", str(tmp_path / "e.o")], capture_output=True, text=True).stdout
    app = tmp_path / "e" / "app.c"
    app.write_text('#include "mlp.h"\n#include "tinyml/common.h"\nuint8_t mlp_arena[MLP_ARENA_SIZE] TINYML_ALIGN(16);\n')
    assert _cc(app, tmp_path / "app.o").returncode == 0
    app.write_text('#include "mlp.h"\nuint8_t mlp_arena[MLP_ARENA_SIZE - 1];\n')
    r = _cc(app, tmp_path / "app.o")
    assert r.returncode != 0 and "conflicting types for 'mlp_arena'" in r.stderr, r.stderr


@pytest.mark.parametrize("args, message", [
    (["--arena", "extern", "--arena-section", ".dtcm"], "cannot be combined with --arena = extern"),
    (["--arena", "extern", "--shared-arena", "g"], "cannot be combined with --arena = extern"),
    (["--arena-section", "a b"], "is not a linker section name"),
    (["--shared-arena", "9g"], "is not a group name"),
])
def test_convert_placement_errors_are_usage_errors(tmp_path, args, message):
    r = _convert(MLP, tmp_path / "x", "mlp", *args)
    assert r.returncode == EXIT_USAGE and message in r.stderr and "What to do:" in r.stderr, r.stderr
    assert not (tmp_path / "x").exists()


def test_cmake_forwards_arena_options(tmp_path):
    from test_cmake import build, cmake_dir, configure, ok, small_project

    src = small_project(tmp_path, ZOO / "fc_relu.tflite", "ARENA_SECTION .mine")
    out = tmp_path / "build"
    ok(configure(src, out, f"-DTinymlPio_DIR={cmake_dir()}"))
    ok(build(out))
    assert "--arena-section .mine" in next(out.rglob("*.options")).read_text()
    assert '__attribute__((section(".mine")))' in (out / "tinyml" / "small" / "net.c").read_text()
    (src / "CMakeLists.txt").write_text((src / "CMakeLists.txt").read_text().replace("ARENA_SECTION .mine", "ARENA extern"))
    (src / "main.c").write_text('#include "net.h"\nuint8_t net_arena[NET_ARENA_SIZE] __attribute__((aligned(16)));\n'
                                "int main(void) { return net_invoke(); }\n")
    ok(build(out))
    assert "#define NET_ARENA_EXTERN 1" in (out / "tinyml" / "small" / "net.h").read_text()
