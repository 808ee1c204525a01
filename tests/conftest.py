from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["tinyml_pio.pytest_strict"]

from tinyml_pio.hostbuild import compiler, library_dir

ROOT = Path(__file__).resolve().parent.parent
ZOO = ROOT / "tests" / "models" / "zoo"
SHARED_MODELS = ROOT.parent / "shared" / "models"


def zoo_models() -> list[Path]:
    return sorted(ZOO.glob("*.tflite"))


def shared_models() -> list[Path]:
    return sorted(SHARED_MODELS.glob("*.tflite")) if SHARED_MODELS.is_dir() else []


def shared_or_skip(name: str) -> Path:
    p = SHARED_MODELS / name
    if not p.is_file():
        pytest.skip(f"../shared/models/{name} not present (tests with third-party models need ../shared beside the repo)")
    return p


def run_host_c(tmp_path: Path, program: str, stdin: str) -> list[str]:
    """Compile a C program against the kernel headers with the host compiler (-std=c99 -Wall -Wextra
    -Werror -O2), run it with `stdin` and return its output split on white space."""
    src = tmp_path / "t.c"
    src.write_text(program)
    exe = tmp_path / "t"
    subprocess.run([compiler(), "-std=c99", "-Wall", "-Wextra", "-Werror", "-O2", "-I", str(library_dir() / "include"),
                    str(src), "-o", str(exe)], check=True)
    return subprocess.run([str(exe)], input=stdin, capture_output=True, text=True, check=True).stdout.split()


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    """`tinyml-pio ARGS` in this process: (exit code, stdout, stderr); argparse's exits included."""
    from tinyml_pio.cli import main

    try:
        rc = main(list(args))
    except SystemExit as e:  # argparse
        rc = e.code
    out = capsys.readouterr()
    return rc, out.out, out.err


def missing_toolchain(*modules: str) -> str | None:
    """Why firmware cannot be built and run in QEMU here (the first missing tool, or Python module among
    platformio, SCons, serial and `modules`), or None."""
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm"):
        if shutil.which(tool) is None:
            return f"{tool} not on PATH (apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm)"
    for mod in ("platformio", "SCons", "serial", *modules):
        try:
            __import__(mod)
        except ImportError:
            return f"python module {mod} missing"
    return None


def offline_pio_env(core_dir: Path) -> dict[str, str]:
    """Environment for `pio run` with a fresh PlatformIO core dir made offline-capable by setup-offline,
    so the builds never reach for the registry."""
    env = dict(os.environ, PLATFORMIO_CORE_DIR=str(core_dir), PLATFORMIO_NO_ANSI="true",
               PLATFORMIO_SETTING_ENABLE_TELEMETRY="No", PLATFORMIO_SETTING_CHECK_PLATFORMIO_INTERVAL="1000")
    r = subprocess.run([sys.executable, "-m", "tinyml_pio.cli", "setup-offline", "--python", sys.executable],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return env



# ---- a stand-in for PlatformIO's SCons environment (the little the extra-script uses) ----------

class FakeBoardConfig(dict):
    def get(self, key, default=None):  # PlatformIO's BoardConfig takes dotted keys
        return super().get(key, default)


class FakeEnv:
    def __init__(self, options=None, build_dir="/nonexistent", project_dir=".", board=None, ram=0, config=None):
        self.options = dict(options or {})
        self.vars = {"BUILD_DIR": str(build_dir), "PROJECT_DIR": str(project_dir)}
        if board:
            self.vars["BOARD"] = board
        self.board = FakeBoardConfig({**({"upload.maximum_ram_size": ram} if ram else {}), **(config or {})})
        self.cpppath: list[str] = []
        self.sources: list[tuple] = []
        self.targets: dict = {}
        self.exited = None

    def GetProjectOption(self, name, default=""):
        return self.options.get(name, default)

    def subst(self, text):
        return re.sub(r"\$(\w+)", lambda m: self.vars.get(m.group(1), ""), text)

    def __contains__(self, key):
        return key in self.vars

    def get(self, key, default=None):
        return self.targets if key == "__PIO_TARGETS" else default

    def AppendUnique(self, CPPPATH=()):
        self.cpppath += [p for p in CPPPATH if p not in self.cpppath]

    def BuildSources(self, variant_dir, src_dir, src_filter=None):
        self.sources.append((variant_dir, src_dir, src_filter))

    def AddCustomTarget(self, name, dependencies, actions, title=None, description=None):
        assert name not in self.targets, f"target {name} registered twice"
        self.targets[name] = actions

    def BoardConfig(self):
        return self.board

    def Exit(self, code):
        self.exited = code
        raise SystemExit(code)


def objdump(obj: Path, symbol: str) -> str:
    """The disassembly of one function of an Arm object or ELF."""
    return subprocess.run(["arm-none-eabi-objdump", "-d", f"--disassemble={symbol}", str(obj)],
                          capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def hil_env(tmp_path_factory):
    """PlatformIO for the HIL builds: a fresh core dir made offline-capable by setup-offline (as
    tests/test_examples.py does) and a private build cache; restored afterwards."""
    base = tmp_path_factory.mktemp("hil-variants")
    mp = pytest.MonkeyPatch()
    mp.setenv("PLATFORMIO_CORE_DIR", str(base / "core"))
    mp.setenv("PLATFORMIO_NO_ANSI", "true")
    mp.setenv("PLATFORMIO_SETTING_ENABLE_TELEMETRY", "No")
    mp.setenv("PLATFORMIO_SETTING_CHECK_PLATFORMIO_INTERVAL", "1000")
    mp.setenv("TINYML_PIO_CACHE", str(base / "cache"))
    r = subprocess.run([sys.executable, "-m", "tinyml_pio.cli", "setup-offline", "--python", sys.executable],
                       capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert r.returncode == 0, r.stdout + r.stderr
    yield base
    mp.undo()


