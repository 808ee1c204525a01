"""The DSP (Cortex-M4, mps2-an386) and Helium (Cortex-M55, mps3-an547) kernels stay inside their
buffers, proved on the emulated boards: tests/kernel_bounds/bounds_main.c runs 1x1/FC, im2col
conv, depthwise and max-pool layers with k, channel and pixel tails, each buffer (input, weights,
per-channel constants, the planned scratch, output) in turn ending exactly at a byte the core
cannot touch (an MPU no-access region on the M4; the end of the SRAM, a BusFault, on the M55).
Any access past a buffer faults and the firmware exits 255; canaries catch stores in the baseline
run; the output must not change with the placement."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import missing_toolchain

ROOT = Path(__file__).resolve().parent.parent
PLATFORM = ROOT / "tinyml_pio" / "board_defs" / "platform"
LIB = ROOT / "library"
# the first address the guard forbids: inside the machine's RAM, above what the linker script uses
EDGES = {"qemu_mps2_an386": "0x20100000u", "qemu_mps3_an547": "0x11200000u"}

pytestmark = pytest.mark.skipif(missing_toolchain() is not None, reason=str(missing_toolchain()))


def _build(board: str, out: Path, *defines: str) -> Path:
    cfg = json.loads((PLATFORM / "boards" / f"{board}.json").read_text())
    b = cfg["build"]
    flags = ["-mthumb", f"-mcpu={b['cpu']}", f"-mfpu={b['fpu']}", f"-mfloat-abi={b['float_abi']}"]
    src = [ROOT / "tests" / "kernel_bounds" / "bounds_main.c", *(LIB / "src" / "kernels").glob("*_opt.c"),
           *(LIB / "src" / "kernels" / "mve").glob("*.c"), *(PLATFORM / "bsp" / "src").glob("*.c")]
    elf = out / f"bounds_{board}.elf"
    cmd = ["arm-none-eabi-gcc", *flags, "-O2", "-std=gnu11", "-Wall", "-Werror", "-ffunction-sections",
           "-fdata-sections", f"-I{LIB / 'include'}", *b["extra_flags"].split(), f"-DGUARD_EDGE={EDGES[board]}",
           f'-DTINYML_BSP_BOARD="{board}"', *defines, *map(str, src), f"-L{PLATFORM / 'bsp' / 'ldscripts'}",
           f"-T{PLATFORM / 'bsp' / 'ldscripts' / b['ldscript']}", "-Wl,--gc-sections", "--specs=nano.specs",
           "--specs=nosys.specs", "-lc", "-lm", "-lgcc", "-lnosys", "-o", str(elf)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return elf


def _run(board: str, elf: Path) -> subprocess.CompletedProcess:
    machine = json.loads((PLATFORM / "boards" / f"{board}.json").read_text())["qemu"]["machine"]
    return subprocess.run([shutil.which("qemu-system-arm"), "-M", machine, "-display", "none", "-monitor", "none",
                           "-serial", "stdio", "-semihosting-config", "enable=on,target=native", "-kernel", str(elf)],
                          capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("board", sorted(EDGES))
def test_the_guard_faults_on_one_byte_past_the_edge(board, tmp_path):
    r = _run(board, _build(board, tmp_path, "-DBOUNDS_SELFTEST"))
    assert "below the edge" in r.stdout and "at the edge" not in r.stdout, r.stdout
    assert "fault" in r.stdout and r.returncode == 255, r.stdout


@pytest.mark.parametrize("board", sorted(EDGES))
def test_optimized_kernels_touch_nothing_outside_their_buffers(board, tmp_path):
    r = _run(board, _build(board, tmp_path))
    assert r.returncode == 0 and "FAIL" not in r.stdout and "fault" not in r.stdout, r.stdout[-3000:]
    layers = int(r.stdout.split("bounds: ")[1].split()[0])
    assert layers > 1000, r.stdout
