"""Testing beyond our harness: `pio test` on the emulated boards offline (test_framework = custom,
tinyml_pio/platformio/test_runner.py boots each test program in QEMU and reads tinyml/test.h's
lines), and C++: the generated header under arm-none-eabi-g++ -Wall -Werror, the cpp_mlp example
built by a real `pio run` and run in QEMU, its outputs equal to the host build's."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import missing_toolchain, offline_pio_env
from tinyml_pio.hostbuild import HostModel, library_dir
from tinyml_pio.pipeline import compile_model
from tinyml_pio.platformio.toolchain import toolchain_problems

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "example_projects"
MLP = EXAMPLES / "hello_mlp" / "models" / "fc_relu.tflite"
WINDOW = EXAMPLES / "custom_op_window" / "custom_model" / "window.tflite"
_MISSING = missing_toolchain()
needs_toolchain = pytest.mark.skipif(_MISSING is not None, reason=str(_MISSING))

FAILING = r"""
#include "mlp.h"
#include "tinyml/test.h"

static void test_passes(void) { TINYML_EXPECT_INT_EQ(mlp_invoke(), 0); }
static void test_wrong_arena(void) { TINYML_EXPECT_INT_EQ(MLP_ARENA_SIZE, 1); }
static void test_wrong_output(void) {
    int8_t zeros[MLP_OUTPUT0_SIZE] = {0};
    mlp_input0()[0] = 100;
    mlp_invoke();
    zeros[0] = (int8_t)(mlp_output0()[0] + 1);
    TINYML_EXPECT_ARRAY_EQ(mlp_output0(), zeros, 1);
}

int main(void) {
    TINYML_TEST_BEGIN();
    TINYML_RUN_TEST(test_passes);
    TINYML_RUN_TEST(test_wrong_arena);
    TINYML_RUN_TEST(test_wrong_output);
    return TINYML_TEST_END();
}
"""

NO_END = r"""
#include "tinyml/test.h"
static void test_fine(void) { TINYML_EXPECT(1 + 1 == 2); }
int main(void) { TINYML_RUN_TEST(test_fine); return 0; }   /* forgot TINYML_TEST_END() */
"""


def _project(name: str, tmp: Path) -> Path:
    """A copy of an example with absolute paths to the library, the dev-platform and shared models."""
    proj = tmp / name
    shutil.copytree(EXAMPLES / name, proj, ignore=shutil.ignore_patterns(".pio"))
    ini = proj / "platformio.ini"
    ini.write_text(ini.read_text().replace("symlink://../../", f"symlink://{ROOT.as_posix()}/")
                   .replace(":../hello_mlp/", f":{(EXAMPLES / 'hello_mlp').as_posix()}/"))
    return proj


@pytest.fixture(scope="module")
def pio_env(tmp_path_factory):
    return offline_pio_env(tmp_path_factory.mktemp("core"))


def _pio(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "platformio", *args], env=env, capture_output=True, text=True,
                          timeout=600)


@needs_toolchain
def test_pio_test_offline_reports_passes_failures_and_errors(tmp_path, pio_env):
    proj = _project("hello_mlp", tmp_path)
    for name, text in (("test_fails", FAILING), ("test_no_end", NO_END)):
        (proj / "test" / name).mkdir()
        (proj / "test" / name / "test_main.c").write_text(text)
    r = _pio(pio_env, "test", "-d", str(proj), "-e", "qemu_mps2_an386")
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert "registry" not in out.lower() and "Unity" not in out
    rows = {line.split()[1]: line.split()[2] for line in out.splitlines()  # the summary table
            if line.startswith("qemu_mps2_an386 ") and len(line.split()) >= 3}
    assert rows == {"test_fails": "FAILED", "test_mlp": "PASSED", "test_no_end": "ERRORED"}, out
    assert "test_wrong_arena: FAIL: MLP_ARENA_SIZE is" in out and ", expected 1" in out
    assert "test_wrong_output: FAIL: mlp_output0()[0] is" in out
    assert "without printing TINYML-TEST-END" in out
    # 3 passing cases in test_mlp, test_passes in test_fails, test_fine in test_no_end; plus the error
    summary = [line for line in out.splitlines() if "test cases:" in line]
    assert summary and "8 test cases: 2 failed, 5 succeeded" in summary[-1], summary


@needs_toolchain
def test_pio_test_passes_on_the_examples(tmp_path, pio_env):
    for name, cases in (("hello_mlp", 3), ("cpp_mlp", 2), ("digits_cnn", 2)):
        proj = _project(name, tmp_path)
        r = _pio(pio_env, "test", "-d", str(proj), "-e", "qemu_mps2_an386")
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        assert f"{cases} test cases: {cases} succeeded" in r.stdout


def test_setup_installs_the_cpp_library():
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    assert "libstdc++-arm-none-eabi-newlib" in setup


@needs_toolchain
def test_toolchain_check_finds_everything_here_and_names_packages_when_missing(monkeypatch):
    assert toolchain_problems() == []
    monkeypatch.setenv("PATH", "/nonexistent")
    problems = dict(toolchain_problems())
    assert problems == {"arm-none-eabi-gcc is not on PATH": "gcc-arm-none-eabi",
                        "arm-none-eabi-g++ is not on PATH": "gcc-arm-none-eabi",
                        "qemu-system-arm is not on PATH": "qemu-system-arm"}


CPP = r"""
#include <cstdio>
#include <cstdint>
#include <type_traits>
#include "PREFIX.h"
#include "tinyml/custom_op.h"
#include "tinyml/test.h"

static_assert(std::is_same<decltype(PREFIX_input0()), std::int8_t *>::value, "typed input");
static_assert(std::is_same<decltype(PREFIX_output0()), const std::int8_t *>::value, "typed output");

int use() {
    std::int8_t *in = PREFIX_input0();   // no cast: the README's line compiles in C++
    in[0] = 1;
    float f[PREFIXU_OUTPUT0_SIZE];
    int rc = PREFIX_invoke();
    PREFIX_dequantize_output0(f);
    std::printf("%d %d\n", rc, static_cast<int>(PREFIX_output0()[0]));
    return rc;
}
"""


@needs_toolchain
@pytest.mark.parametrize("model, prefix, custom", [(MLP, "mlp", None), (WINDOW, "win", ["SignalWindow=signal_window:128"])])
def test_generated_header_compiles_as_cpp_with_werror(tmp_path, model, prefix, custom):
    c = compile_model(model, prefix, custom_ops=custom)
    for name, text in c.files.items():
        (tmp_path / name).write_text(text)
    src = tmp_path / "use.cpp"
    src.write_text(CPP.replace("PREFIXU", prefix.upper()).replace("PREFIX", prefix))
    r = subprocess.run(["arm-none-eabi-g++", "-mcpu=cortex-m4", "-mthumb", "-std=c++17", "-Wall", "-Wextra", "-Werror",
                        "-I", str(tmp_path), "-I", str(library_dir() / "include"), "-c", str(src), "-o",
                        str(tmp_path / "use.o")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    # the C source itself still builds for the board as C (the typed API is not C++-only)
    r = subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-std=c99", "-Wall", "-Wextra", "-Werror",
                        "-I", str(library_dir() / "include"), "-c", str(tmp_path / f"{prefix}.c"), "-o",
                        str(tmp_path / "m.o")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@needs_toolchain
def test_cpp_example_builds_with_pio_and_runs_in_qemu(tmp_path, pio_env):
    proj = _project("cpp_mlp", tmp_path)
    r = _pio(pio_env, "run", "-v", "-d", str(proj), "-e", "qemu_mps2_an386", "-t", "exec")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert any(line.startswith("arm-none-eabi-g++") and "src/main.cpp" in line for line in r.stdout.splitlines())
    got = [[int(v) for v in line.split("output", 1)[1].split("|")[0].split()]
           for line in r.stdout.splitlines() if line.startswith("sample ")]
    c = compile_model(MLP, "mlp")
    g = c.graph
    i = np.arange(g.t(g.inputs[0]).size)
    samples = [[(((i * 37 + s * 101 + 11) & 0xFF) - 128).astype(np.int8).reshape(g.t(g.inputs[0]).shape)]
               for s in range(4)]
    host = HostModel(c.files, "mlp", tmp_path / "host", [(g.t(g.inputs[0]).shape, np.int8)],
                     [(g.t(g.outputs[0]).shape, np.int8)])
    want = [o[0].reshape(-1).tolist() for o in host.run(samples)]
    assert got == want and len(got) == 4
