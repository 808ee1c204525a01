"""PlatformIO options and memory placement, each through a real offline `pio run` on the emulated
boards: board_upload.maximum_ram_size / maximum_size in the arena check, the flash check and the
generated linker script; the monitor's default port; the custom targets' output; option errors;
the arena in a named section, the application's arena, and one arena shared by two models that
run in turn on QEMU, bit for bit equal to the host build of the generated code."""

from __future__ import annotations

import os
import pty
import re
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import FakeEnv, missing_toolchain, offline_pio_env
from tinyml_pio.errors import TinymlError
from tinyml_pio.platformio import extra, qemu

ROOT = Path(__file__).resolve().parent.parent
MODELS = {"mlp": ROOT / "example_projects" / "hello_mlp" / "models" / "fc_relu.tflite",
          "dg": ROOT / "example_projects" / "digits_cnn" / "models" / "digits_cnn.tflite"}
BOARD = "qemu_mps2_an386"
ROUNDS = 2  # each model runs this often, alternating, so each invoke follows the other model's

_MISSING = missing_toolchain()
needs_toolchain = pytest.mark.skipif(_MISSING is not None, reason=str(_MISSING))

# Runs the models one after the other, ROUNDS times, printing every output value.
MAIN_C = r"""
#include <stdint.h>
#include "tinyml_board.h"
#include "tinyml/common.h"
{includes}
{extra}
static int8_t value(int i, int s) {{ return (int8_t)(((i * 37 + s * 101 + 11) & 0xFF) - 128); }}
#define RUN(P, p, s) do {{ \
        int i_; int8_t *in_ = (int8_t *)p##_input(0); const int8_t *out_; \
        for (i_ = 0; i_ < P##_INPUT0_SIZE; ++i_) in_[i_] = value(i_, s); \
        if (p##_invoke() != 0) {{ tinyml_board_printf(#p " failed\n"); return 1; }} \
        out_ = (const int8_t *)p##_output(0); tinyml_board_printf(#p " %d:", s); \
        for (i_ = 0; i_ < P##_OUTPUT0_SIZE; ++i_) tinyml_board_printf(" %d", (int)out_[i_]); \
        tinyml_board_printf("\n"); }} while (0)
int main(void) {{
    int s;
    for (s = 0; s < {rounds}; ++s) {{
{runs}
    }}
    tinyml_board_printf("done\n");
    return 0;
}}
"""

# a DTCM-like region beside the board's RAM (mps2-an386 maps 4 MB of SSRAM2/3 at 0x20000000)
DTCM_LD = """MEMORY
{
    FLASH (rx)  : ORIGIN = 0x00000000, LENGTH = 1024K
    RAM   (rwx) : ORIGIN = 0x20000000, LENGTH = 256K
    DTCM  (rwx) : ORIGIN = 0x20100000, LENGTH = 64K
}
REGION_ALIAS("VECTORS", FLASH);
SECTIONS
{
    .dtcm (NOLOAD) : { . = ALIGN(16); *(.dtcm .dtcm.*) } > DTCM
}
INCLUDE tinyml_cortexm.ld
"""


@pytest.fixture(scope="module")
def core(tmp_path_factory):
    return offline_pio_env(tmp_path_factory.mktemp("pio-memory") / "core")


def _project(base: Path, prefixes: list[str], options: str, extra_c: str = "", files: dict[str, str] | None = None) -> Path:
    proj = base / "proj"
    if proj.exists():
        shutil.rmtree(proj)
    (proj / "src").mkdir(parents=True)
    (proj / "models").mkdir()
    for p in prefixes:
        shutil.copy(MODELS[p], proj / "models" / f"{p}.tflite")
    runs = "\n".join(f"        RUN({p.upper()}, {p}, s);" for p in prefixes)
    (proj / "src" / "main.c").write_text(MAIN_C.format(includes="\n".join(f'#include "{p}.h"' for p in prefixes),
                                                       extra=extra_c, rounds=ROUNDS, runs=runs))
    for name, text in (files or {}).items():
        (proj / name).write_text(text)
    models = " ".join(f"{p}:models/{p}.tflite" for p in prefixes)
    (proj / "platformio.ini").write_text(f"""[env:{BOARD}]
platform = symlink://{ROOT.as_posix()}/board_defs/platform
board = {BOARD}
upload_protocol = qemu
lib_deps = symlink://{ROOT.as_posix()}/library
custom_tinyml_models = {models}
{options}
""")
    return proj


def _pio(proj: Path, env: dict, *args: str, timeout: float = 240) -> tuple[int, str]:
    r = subprocess.run([sys.executable, "-m", "platformio", "run", "-d", str(proj), *args], env=env,
                       capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout + r.stderr


def _expected(prefixes: list[str], tmp: Path) -> list[str]:
    """The lines MAIN_C prints, from the host build of the same generated code."""
    from tinyml_pio.hostbuild import HostModel
    from tinyml_pio.pipeline import compile_model

    outs = {}
    for p in prefixes:
        c = compile_model(MODELS[p], p)
        g = c.graph
        specs = lambda ts: [(g.t(t).shape, np.dtype(np.int8)) for t in ts]  # noqa: E731
        host = HostModel(c.files, p, tmp / p, specs(g.inputs), specs(g.outputs))
        shape = g.t(g.inputs[0]).shape
        i = np.arange(int(np.prod(shape)))
        samples = [[(((i * 37 + s * 101 + 11) & 0xFF) - 128).astype(np.int8).reshape(shape)] for s in range(ROUNDS)]
        outs[p] = [o[0].reshape(-1).tolist() for o in host.run(samples)]
    return [f"{p} {s}: " + " ".join(map(str, outs[p][s])) for s in range(ROUNDS) for p in prefixes] + ["done"]


def _uart_lines(text: str) -> list[str]:
    return [l.strip() for l in text.splitlines() if re.match(r"^(\w+ \d+:|done$)", l.strip())]


def _symbol(elf: Path, name: str) -> tuple[int, str]:
    """(address, section) of a symbol, from arm-none-eabi-objdump -t."""
    out = subprocess.run(["arm-none-eabi-objdump", "-t", str(elf)], capture_output=True, text=True, check=True).stdout
    m = re.search(rf"^([0-9a-f]+)\s.*?\s(\S+)\s+[0-9a-f]+\s+{re.escape(name)}$", out, re.M)
    assert m, f"{name} not in {elf}"
    return int(m.group(1), 16), m.group(2)


# ---- board_upload overrides, flash check, linker script, header ---------------------------------

@needs_toolchain
def test_board_upload_overrides_reach_the_checks_and_the_linker_script(core, tmp_path):
    # the arena check uses the overridden RAM (minus board_defs' 32 KB reserve): 32800 B leave 32 B
    proj = _project(tmp_path, ["mlp"], "board_upload.maximum_ram_size = 32800")
    rc, out = _pio(proj, core)
    assert rc == 1 and "32800 B RAM (board_upload.maximum_ram_size)" in out and "8 B over" in out, out[-3000:]
    assert "Compiling" not in out and "Traceback" not in out
    # flash: weights + the code estimate (64 KB reserved) against 64 KB, before anything links
    proj = _project(tmp_path, ["mlp"], "board_upload.maximum_size = 65536")
    rc, out = _pio(proj, core)
    assert rc == 1 and "the weights need 960 B of flash" in out and "65536 B of flash (upload.maximum_size)" in out, out[-3000:]
    assert "Linking" not in out and "custom_tinyml_flash_margin" in out
    # both overrides and a smaller code estimate: the build links against the overridden sizes
    proj = _project(tmp_path, ["mlp"], "board_upload.maximum_ram_size = 49152\nboard_upload.maximum_size = 65536\n"
                                       "custom_tinyml_flash_margin = 16k")
    rc, out = _pio(proj, core)
    assert rc == 0, out[-3000:]
    assert "used" in out and "from 49152 bytes" in out and "from 65536 bytes" in out
    build = proj / ".pio" / "build" / BOARD
    ld = (build / "ldscript" / f"{BOARD}.ld").read_text()
    assert "FLASH (rx)  : ORIGIN = 0x00000000, LENGTH = 65536" in ld and "ORIGIN = 0x20000000, LENGTH = 49152" in ld
    assert _symbol(build / "firmware.elf", "__StackTop")[0] == 0x20000000 + 49152
    # the build header names the local board page, not a docs.platformio.org page that does not exist
    assert "docs.platformio.org/page/boards" not in out
    assert f"CONFIGURATION: {ROOT / 'board_defs' / 'platform' / 'README.md'}" in out
    # and the firmware runs with the stack at the top of the smaller RAM
    rc, run = _pio(proj, core, "-t", "exec")
    assert rc == 0 and _uart_lines(run) == _expected(["mlp"], tmp_path / "host"), run[-3000:]


# ---- monitor, custom targets --------------------------------------------------------------------

def _run_in_pty(cmd: list[str], env: dict, until: bytes, timeout: float) -> str:
    """Output of `cmd` run on a pseudo-terminal (pio device monitor needs one) until `until` appears."""
    master, slave = pty.openpty()
    p = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    buf = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and until not in buf:
            if select.select([master], [], [], 1)[0]:
                try:
                    buf += os.read(master, 4096)
                except OSError:
                    break
    finally:
        p.terminate()
        p.wait(20)
        os.close(master)
    return buf.decode(errors="replace")


@needs_toolchain
def test_upload_and_monitor_talk_to_qemu_without_monitor_port(core, tmp_path):
    proj = _project(tmp_path, ["mlp"], "")
    port = qemu.free_port()
    env = dict(core, PLATFORMIO_UPLOAD_PORT=f"socket://127.0.0.1:{port}")
    try:
        out = _run_in_pty([sys.executable, "-m", "platformio", "run", "-d", str(proj), "-t", "upload", "-t", "monitor"],
                          env, b"[tinyml-bsp] exit 0", 240)
    finally:
        qemu.stop(proj / ".pio" / "qemu" / BOARD)
    assert f"--- Terminal on socket://127.0.0.1:{port}" in out and "/dev/tty" not in out, out[-3000:]
    assert _uart_lines(out) == _expected(["mlp"], tmp_path / "host")


def test_monitor_default_port_follows_upload_port_then_board(tmp_path):
    pytest.importorskip("platformio")
    import importlib.util

    from platformio.project.config import ProjectConfig

    spec = importlib.util.spec_from_file_location("filter_qemu", ROOT / "board_defs" / "platform" / "monitor" / "filter_qemu.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    ini = tmp_path / "platformio.ini"
    ini.write_text("[env:a]\nboard = qemu_mps2_an386\nupload_protocol = qemu\n"
                   "[env:b]\nboard = qemu_mps2_an386\nupload_port = socket://127.0.0.1:5001\n"
                   "[env:c]\nboard = nucleo_f746zg\n[env:d]\nboard = qemu_mps3_an547\nupload_protocol = stlink\n")
    cfg = ProjectConfig(str(ini))
    assert mod.default_port(cfg, "a") == "socket://127.0.0.1:4386"
    assert mod.default_port(cfg, "b") == "socket://127.0.0.1:5001"
    assert mod.default_port(cfg, "c") is None and mod.default_port(cfg, "d") is None and mod.default_port(cfg, "zz") is None


@needs_toolchain
def test_tinyml_targets_print_no_scons_echo(core, tmp_path):
    proj = _project(tmp_path, ["mlp"], "custom_tinyml_verify_inputs = 3")
    rc, out = _pio(proj, core, "-t", "tinyml-verify")
    assert rc == 0 and "mlp: bit-exact 3/3 inputs" in out, out[-3000:]
    assert "action([" not in out
    rc, out = _pio(proj, core, "-t", "tinyml-plan")
    assert rc == 0 and "== mlp (models/mlp.tflite) ==" in out and "action([" not in out, out[-3000:]


# ---- option errors ------------------------------------------------------------------------------

@needs_toolchain
@pytest.mark.parametrize("models, options, message", [
    ([], "custom_tinyml_prefix = kws", "custom_tinyml_prefix is set but no model is"),
    ([], "custom_tinyml_modle = models/kws.tflite", "did you mean custom_tinyml_model?"),
    (["mlp"], "custom_tinyml_verify_inputs = many", "custom_tinyml_verify_inputs = 'many' is not a positive whole number"),
    (["mlp"], "custom_tinyml_max_overhead = 0.3", "custom_tinyml_max_overhead is set but no model has custom_tinyml_patches = auto"),
    (["mlp"], "custom_tinyml_arena = extern\ncustom_tinyml_arena_section = .dtcm", "cannot be combined with custom_tinyml_arena = extern"),
    (["mlp"], "custom_tinyml_shared_arena = yes", "group 'shared' has only the model mlp"),
    (["mlp"], "custom_tinyml_arena_section = 'dtcm'", "is not a linker section name"),
    (["mlp", "dg"], "custom_tinyml_shared_arena = yes\ncustom_tinyml_arena_section = mlp:.dtcm",
     "ask for different sections"),
])
def test_option_errors_stop_the_build(core, tmp_path, models, options, message):
    proj = _project(tmp_path, models or ["mlp"], options)
    if not models:
        ini = proj / "platformio.ini"
        ini.write_text(re.sub(r"^custom_tinyml_models = .*$", "", ini.read_text(), flags=re.M))
    rc, out = _pio(proj, core)
    assert rc == 1 and message in out and "What to do:" in out and "Traceback" not in out, out[-3000:]
    assert "Compiling" not in out


# ---- placement ----------------------------------------------------------------------------------

@needs_toolchain
def test_shared_arena_in_a_section_runs_two_models_in_turn(core, tmp_path):
    proj = _project(tmp_path, ["mlp", "dg"], "custom_tinyml_shared_arena = yes\ncustom_tinyml_arena_section = .dtcm\n"
                                             "board_build.ldscript = dtcm.ld", files={"dtcm.ld": DTCM_LD})
    rc, out = _pio(proj, core)
    assert rc == 0, out[-3000:]
    sizes = dict(re.findall(r"tinyml: (\w+) <- \S+: arena (\d+) B", out))
    assert f"tinyml: shared arena 'shared': {max(map(int, sizes.values()))} B for mlp, dg" in out
    build = proj / ".pio" / "build" / BOARD
    src = (build / "tinyml" / "tinyml_arena_shared.c").read_text()
    assert "uint8_t tinyml_arena_shared[TINYML_ARENA_SHARED_SIZE]" in src and '__attribute__((section(".dtcm")))' in src
    addr, section = _symbol(build / "firmware.elf", "tinyml_arena_shared")
    assert section == ".dtcm" and 0x20100000 <= addr < 0x20110000 and addr % 16 == 0
    syms = subprocess.run(["arm-none-eabi-nm", str(build / "firmware.elf")], capture_output=True, text=True).stdout
    assert " mlp_arena" not in syms and " dg_arena" not in syms  # one buffer, not three
    rc, run = _pio(proj, core, "-t", "exec")
    assert rc == 0 and _uart_lines(run) == _expected(["mlp", "dg"], tmp_path / "host"), run[-3000:]


@needs_toolchain
def test_application_arena(core, tmp_path):
    mine = 'uint8_t mlp_arena[MLP_ARENA_SIZE] TINYML_ALIGN(16) __attribute__((section(".dtcm")));'
    proj = _project(tmp_path, ["mlp"], "custom_tinyml_arena = extern\nboard_build.ldscript = dtcm.ld", extra_c=mine,
                    files={"dtcm.ld": DTCM_LD})
    rc, out = _pio(proj, core, "-t", "exec")
    assert rc == 0 and _uart_lines(out) == _expected(["mlp"], tmp_path / "host"), out[-3000:]
    header = (proj / ".pio" / "build" / BOARD / "tinyml" / "mlp.h").read_text()
    assert "#define MLP_ARENA_EXTERN 1" in header and "extern uint8_t mlp_arena[MLP_ARENA_SIZE];" in header
    assert _symbol(proj / ".pio" / "build" / BOARD / "firmware.elf", "mlp_arena")[1] == ".dtcm"
    # a buffer smaller than the plan does not compile
    proj = _project(tmp_path, ["mlp"], "custom_tinyml_arena = extern", extra_c="uint8_t mlp_arena[8];")
    rc, out = _pio(proj, core)
    assert rc == 1 and "conflicting types for 'mlp_arena'" in out, out[-3000:]


# ---- the checks without a build (stand-in environment) ------------------------------------------

def test_placement_options_per_model_and_budget(tmp_path):
    models = f"mlp:{MODELS['mlp']} dg:{MODELS['dg']}"
    env = FakeEnv({extra.OPT_MODELS: models, "custom_tinyml_shared_arena": "mlp:g1 dg:g1"},
                  build_dir=tmp_path / "b", board=BOARD, ram=262144)
    gen = extra.configure(env, FakeEnv(), log=lambda m: None)
    arenas = {g.spec.prefix: g.arena for g in gen}
    assert arenas["mlp"] < arenas["dg"]
    assert (tmp_path / "b" / "tinyml" / "tinyml_arena_g1.c").is_file()
    assert "#define mlp_arena tinyml_arena_g1" in (tmp_path / "b" / "tinyml" / "mlp.h").read_text()
    # RAM counts a shared group once, at its largest member; an arena in a named section not at all
    from tinyml_pio.platformio import memory

    places = extra._STATE[str(tmp_path / "b")].placements
    assert memory.ram_entries(gen, places) == [("shared 'g1'", arenas["dg"])]
    assert f"#define TINYML_ARENA_G1_SIZE {arenas['dg']}" in (tmp_path / "b" / "tinyml" / "tinyml_arena_g1.c").read_text()
    env = FakeEnv({extra.OPT_MODELS: models}, build_dir=tmp_path / "c", board="tiny", ram=4096 + 100)
    with pytest.raises(TinymlError, match=r"the tensor arenas need 680 B \(mlp 40 \+ dg 640\)"):
        extra.configure(env, FakeEnv(), log=lambda m: None)
    env = FakeEnv({extra.OPT_MODELS: models, "custom_tinyml_arena_section": "dg:.sram2"}, build_dir=tmp_path / "d",
                  board="tiny", ram=4096 + 100)
    extra.configure(env, FakeEnv(), log=lambda m: None)  # dg's arena is the .sram2 region's (the linker checks it)
    assert '__attribute__((section(".sram2")))' in (tmp_path / "d" / "tinyml" / "dg.c").read_text()
