"""The CMake package: real cmake configures and builds of fresh projects written with the README's
lines only, on the host and for an emulated Cortex-M4 (arm-none-eabi-gcc, QEMU through ctest);
regeneration exactly when the model or the options change; the budget check before compiling."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, ZOO, FakeEnv, missing_toolchain
from tinyml_pio.errors import TinymlError

BIN = Path(sys.executable).parent
DIGITS = ROOT / "example_projects" / "digits_cnn"
BOARD = "qemu_mps2_an386"


def _tool(name: str) -> str:
    path = shutil.which(name, path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if path is None:
        pytest.skip(f"{name} not found (pip install '.[dev]' installs it)")
    return path


def _env(**extra: str) -> dict[str, str]:
    return dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", **extra)


def cmake_dir() -> str:
    r = subprocess.run([sys.executable, "-m", "tinyml_pio.cli", "cmake-dir"], capture_output=True, text=True, check=True)
    return r.stdout.strip()


def configure(src: Path, build: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([_tool("cmake"), "-S", str(src), "-B", str(build), "-G", "Ninja",
                           f"-DCMAKE_MAKE_PROGRAM={_tool('ninja')}", *args],
                          capture_output=True, text=True, env=env or _env(), timeout=300)


def build(build_dir: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([_tool("cmake"), "--build", str(build_dir)], capture_output=True, text=True,
                          env=env or _env(), timeout=600)


def ctest(build_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run([_tool("ctest"), "--test-dir", str(build_dir), "-V"], capture_output=True, text=True,
                          env=_env(), timeout=300)


def ok(r: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    return r


# The README's lines, as a user writes them (BOARD lines only for the emulated board).
PROJECT = """cmake_minimum_required(VERSION 3.20)
project(app C)
find_package(TinymlPio CONFIG REQUIRED)
add_executable(app src/main.c)
target_include_directories(app PRIVATE include)
tinyml_add_model(app MODEL models/digits_cnn.tflite PREFIX digits{board})
tinyml_board_support(app{board})
enable_testing()
tinyml_add_board_test(app)
"""


def digits_project(tmp: Path, board: str | None) -> Path:
    """A fresh project: the digits example's main.c, samples and model, and PROJECT."""
    src = tmp / "src_project"
    for sub in ("src", "include", "models"):
        shutil.copytree(DIGITS / sub, src / sub)
    (src / "CMakeLists.txt").write_text(PROJECT.format(board=f" BOARD {board}" if board else ""))
    return src


def test_host_project_builds_and_runs_with_ctest(tmp_path):
    src = digits_project(tmp_path, None)
    # find_package through CMAKE_PREFIX_PATH (the other documented way is TinymlPio_DIR)
    ok(configure(src, tmp_path / "build", f"-DCMAKE_PREFIX_PATH={cmake_dir()}"))
    r = ok(build(tmp_path / "build"))
    assert "tinyml: converting models/digits_cnn.tflite -> digits.h/.c" in r.stdout
    t = ok(ctest(tmp_path / "build"))
    assert "summary: 12/12 outputs equal the TFLite reference" in t.stdout, t.stdout
    assert "kernels: portable" in r.stdout  # the host: no -mcpu, no CPU given


def test_cortex_m4_project_runs_in_qemu_with_ctest(tmp_path):
    why = missing_toolchain()
    if why:
        pytest.skip(why)
    d = cmake_dir()
    src = digits_project(tmp_path, BOARD)
    ok(configure(src, tmp_path / "build", f"-DTinymlPio_DIR={d}",
                 f"-DCMAKE_TOOLCHAIN_FILE={d}/toolchains/arm-none-eabi.cmake", "-DARM_CPU=cortex-m4"))
    r = ok(build(tmp_path / "build"))
    assert "kernels: dsp" in r.stdout  # the board's Cortex-M4 picked the DSP variants
    elf = tmp_path / "build" / "app.elf"
    head = subprocess.run(["arm-none-eabi-readelf", "-A", str(elf)], capture_output=True, text=True, check=True).stdout
    assert "Cortex-M4" in head or "v7E-M" in head, head  # the kernels too were built for the M4
    t = ok(ctest(tmp_path / "build"))
    assert f"digits_cnn on {BOARD}" in t.stdout and "counter: SysTick @ 25000000 Hz" in t.stdout, t.stdout
    assert "summary: 12/12 outputs equal the TFLite reference" in t.stdout and "[tinyml-bsp] exit 0" in t.stdout


def _emulated_boards() -> list[tuple[str, str]]:
    boards = sorted((ROOT / "board_defs" / "platform" / "boards").glob("*.json"))
    return [(b.stem, json.loads(b.read_text())["build"]["cpu"]) for b in boards]


@pytest.mark.parametrize("board,cpu", _emulated_boards())
def test_cmake_example_runs_on_every_emulated_board(board, cpu, tmp_path):
    """example_projects/cmake_digits, configured as its README says, for each board's CPU."""
    why = missing_toolchain()
    if why:
        pytest.skip(why)
    d = cmake_dir()
    ok(configure(ROOT / "example_projects" / "cmake_digits", tmp_path / "build", f"-DTinymlPio_DIR={d}",
                 f"-DBOARD={board}", f"-DCMAKE_TOOLCHAIN_FILE={d}/toolchains/arm-none-eabi.cmake", f"-DARM_CPU={cpu}"))
    r = ok(build(tmp_path / "build"))
    expected = {"cortex-m3": "opt", "cortex-m55": "mve"}.get(cpu, "dsp")
    assert f"kernels: {expected}" in r.stdout, r.stdout
    t = ok(ctest(tmp_path / "build"))
    assert f"digits_cnn on {board}" in t.stdout and "summary: 12/12 outputs equal the TFLite reference" in t.stdout, t.stdout[-3000:]


def test_board_support_refuses_a_compiler_for_another_cpu(tmp_path):
    src = digits_project(tmp_path, BOARD)  # but configured for the host compiler
    r = configure(src, tmp_path / "build", f"-DTinymlPio_DIR={cmake_dir()}")
    assert r.returncode != 0
    assert f"board {BOARD} has a cortex-m4" in r.stderr and "-DARM_CPU=cortex-m4" in r.stderr, r.stderr


SMALL = """cmake_minimum_required(VERSION 3.20)
project(small C)
find_package(TinymlPio CONFIG REQUIRED)
add_executable(small main.c)
tinyml_add_model(small MODEL model.tflite PREFIX net {options})
"""

SMALL_MAIN = """#include <stdio.h>
#include "net.h"
int main(void) { printf("arena %d\\n", NET_ARENA_SIZE); return net_invoke(); }
"""


def small_project(tmp: Path, model: Path, options: str = "") -> Path:
    src = tmp / "small"
    src.mkdir(exist_ok=True)
    shutil.copyfile(model, src / "model.tflite")
    (src / "main.c").write_text(SMALL_MAIN)
    (src / "CMakeLists.txt").write_text(SMALL.format(options=options))
    return src


def test_regenerates_exactly_when_the_model_or_options_change(tmp_path):
    src = small_project(tmp_path, ZOO / "fc_relu.tflite")
    out = tmp_path / "build"
    ok(configure(src, out, f"-DTinymlPio_DIR={cmake_dir()}"))
    assert "tinyml: converting" in ok(build(out)).stdout
    header = out / "tinyml" / "small" / "net.h"
    first = header.read_text()
    stamp = header.stat().st_mtime_ns
    # nothing changed: nothing converted, nothing rebuilt
    r = ok(build(out))
    assert "tinyml: converting" not in r.stdout and "ninja: no work to do" in r.stdout, r.stdout
    (src / "main.c").write_text(SMALL_MAIN + "\n/* edited */\n")  # another source: still no conversion
    assert "tinyml: converting" not in ok(build(out)).stdout
    assert header.stat().st_mtime_ns == stamp
    # another model at the same path: converted again, the header follows it
    shutil.copyfile(ZOO / "fc_relu6.tflite", src / "model.tflite")
    assert "tinyml: converting" in ok(build(out)).stdout
    second = header.read_text()
    assert second != first and "fc_relu6.tflite" not in first
    assert "tinyml: converting" not in ok(build(out)).stdout
    # a changed option (KERNELS) regenerates too
    (src / "CMakeLists.txt").write_text(SMALL.format(options="CPU cortex-m4"))
    r = ok(build(out))
    assert "tinyml: converting" in r.stdout and "kernels: dsp" in r.stdout, r.stdout


def test_arena_over_budget_fails_before_compiling_with_the_platformio_message(tmp_path, monkeypatch):
    from tinyml_pio.budget import arena_budget_error, board_arena_budget
    from tinyml_pio.boards import load_board
    from tinyml_pio.platformio import extra

    # a board whose budget the fc_relu model's arena exceeds: board_defs of our own
    defs = tmp_path / "boards"
    defs.mkdir()
    tiny = json.loads((ROOT / "board_defs" / "boards" / f"{BOARD}.json").read_text())
    tiny.update(id="tiny_m4", platformio_board="tiny_m4", sram_bytes=40016, reserved_sram_bytes=40000)
    (defs / "tiny_m4.json").write_text(json.dumps(tiny))
    monkeypatch.setenv("TINYML_PIO_BOARD_DEFS", str(defs))
    env = _env(TINYML_PIO_BOARD_DEFS=str(defs))

    src = small_project(tmp_path, ZOO / "fc_relu.tflite", "BOARD tiny_m4")
    out = tmp_path / "build"
    ok(configure(src, out, f"-DTinymlPio_DIR={cmake_dir()}", env=env))
    r = build(out, env=env)
    assert r.returncode != 0
    log = r.stdout + r.stderr
    # PlatformIO's check for the same board and arena, word for word (the hint names each tool's own knob)
    from tinyml_pio.pipeline import compile_model

    arena = compile_model(src / "model.tflite", "net", target="tiny_m4").plan.arena_size
    generated = [extra.Generated(extra.ModelSpec("net", src / "model.tflite", "model.tflite", extra.OPT_MODELS), [],
                                 arena, 0, 0, fresh=True)]
    with pytest.raises(TinymlError) as pio:
        extra.check_budget(FakeEnv({}, board="tiny_m4", ram=40016), generated)
    assert str(pio.value).splitlines()[0] in log, log
    assert "What to do:" in log and "Traceback" not in log
    assert str(arena_budget_error([("net", arena)], "tiny_m4", *board_arena_budget(load_board("tiny_m4")),
                                  "x")).splitlines()[0] in log
    # nothing generated, nothing compiled
    assert not (out / "tinyml" / "small" / "net.c").exists()
    assert not list(out.rglob("*.o")), list(out.rglob("*.o"))
    # BUDGET in bytes instead of the board's
    (src / "CMakeLists.txt").write_text(SMALL.format(options="BUDGET 16"))
    r = build(out, env=env)
    assert r.returncode != 0 and "but the budget has 16 B for it (BUDGET / --budget)" in r.stdout + r.stderr


def test_configure_errors_are_clear(tmp_path):
    # PATCHES is forwarded now that `tinyml-pio convert` has --patches (passes/patch.py)
    src = small_project(tmp_path, ZOO / "fc_relu.tflite", "PATCHES auto")
    r = configure(src, tmp_path / "b1", f"-DTinymlPio_DIR={cmake_dir()}")
    assert r.returncode == 0, r.stderr
    assert "--patches auto" in next((tmp_path / "b1").rglob("*.options")).read_text()
    (src / "CMakeLists.txt").write_text(SMALL.format(options="KERNELS fast"))
    r = configure(src, tmp_path / "b2", f"-DTinymlPio_DIR={cmake_dir()}")
    assert r.returncode != 0 and "KERNELS fast is not auto or portable" in r.stderr, r.stderr
    (src / "CMakeLists.txt").write_text(SMALL.format(options="").replace("model.tflite", "missing.tflite"))
    r = configure(src, tmp_path / "b3", f"-DTinymlPio_DIR={cmake_dir()}")
    assert r.returncode != 0 and "model file 'missing.tflite' not found" in r.stderr, r.stderr


def test_convert_budget_writes_nothing(tmp_path):
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "tinyml_pio.cli", "convert", str(ZOO / "fc_relu.tflite"), "-o", str(out),
                        "--target", BOARD, "--budget", "16"], capture_output=True, text=True)
    assert r.returncode == 1 and "B over." in r.stderr and "Traceback" not in r.stderr and not out.exists()
    r = subprocess.run([sys.executable, "-m", "tinyml_pio.cli", "convert", str(ZOO / "fc_relu.tflite"), "-o", str(out),
                        "--target", "cortex-m4", "--budget", "auto"], capture_output=True, text=True)
    assert r.returncode == 2 and "--budget auto needs a board" in r.stderr and not out.exists()


TWO = """cmake_minimum_required(VERSION 3.20)
project(two C)
find_package(TinymlPio CONFIG REQUIRED)
add_executable(two main.c)
tinyml_add_model(two MODEL a.tflite PREFIX aa BOARD tiny_m4)
tinyml_add_model(two MODEL b.tflite PREFIX bb BOARD tiny_m4)
"""


def test_models_of_one_target_share_the_board_budget(tmp_path, monkeypatch):
    from tinyml_pio.platformio import extra

    defs = tmp_path / "boards"
    defs.mkdir()
    tiny = json.loads((ROOT / "board_defs" / "boards" / f"{BOARD}.json").read_text())
    tiny.update(id="tiny_m4", platformio_board="tiny_m4", sram_bytes=40050, reserved_sram_bytes=40000)
    (defs / "tiny_m4.json").write_text(json.dumps(tiny))  # 50 B: each 40 B arena fits, both do not
    monkeypatch.setenv("TINYML_PIO_BOARD_DEFS", str(defs))
    env = _env(TINYML_PIO_BOARD_DEFS=str(defs))
    src = tmp_path / "two"
    src.mkdir()
    shutil.copyfile(ZOO / "fc_relu.tflite", src / "a.tflite")
    shutil.copyfile(ZOO / "fc_relu6.tflite", src / "b.tflite")
    (src / "main.c").write_text('#include "aa.h"\n#include "bb.h"\nint main(void) { return aa_invoke() + bb_invoke(); }\n')
    (src / "CMakeLists.txt").write_text(TWO)
    out = tmp_path / "build"
    ok(configure(src, out, f"-DTinymlPio_DIR={cmake_dir()}", env=env))
    r = build(out, env=env)
    assert r.returncode != 0
    specs = [extra.ModelSpec(p, src / f, f, extra.OPT_MODELS) for p, f in (("aa", "a.tflite"), ("bb", "b.tflite"))]
    generated = [extra.Generated(s, [], 40, 0, 0, fresh=True) for s in specs]
    with pytest.raises(TinymlError) as pio:
        extra.check_budget(FakeEnv({}, board="tiny_m4", ram=40050), generated)
    first = str(pio.value).splitlines()[0]
    assert "(aa 40 + bb 40)" in first and first in r.stdout + r.stderr, r.stdout + r.stderr
    assert not list(out.rglob("*.o"))
