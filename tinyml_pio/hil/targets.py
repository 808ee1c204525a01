"""Targets: build the HIL firmware for a board, start ("flash") it, and give back a serial URL.

One interface for every kind of board:
- `host`: the HIL firmware compiled for this machine, talking over a pty (no hardware at all);
- emulated boards (`qemu_*` in board_defs/platform/boards): a real PlatformIO build with Debian's
  arm-none-eabi-gcc, booted in qemu-system-arm with UART0 on a TCP socket (`socket://` URL);
- real boards: a PlatformIO build and `pio run -t upload` for the PlatformIO board id; the user
  gives the serial port (`--port /dev/ttyACM0`).

Each target knows its CPU (`cpu`, a tinyml_pio.cpu.CpuFeatures): `build` generates the model's code
for it, so boards with the DSP extension run the DSP kernel variants and the host the portable ones.
Pass `cpu=CpuFeatures.portable()` to measure a board with the portable kernels instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..cpu import CpuFeatures
from ..errors import TinymlError, UsageError
from ..hostbuild import library_dir
from ..pipeline import Compiled, compile_model
from .firmware import build_host_firmware, hil_sources


@dataclass
class Firmware:
    path: Path  # ELF or host executable
    ram_bytes: int | None  # static RAM (.data + .bss) from the ELF
    flash_bytes: int | None  # .text + .data (+ .rodata) from the ELF
    arena_bytes: int | None = None  # size of the linked <prefix>_arena symbol in the ELF
    deterministic_clock: bool = False  # emulated boards: ticks follow the instruction count (-icount)
    kernels: str = "portable"  # the kernel variants the firmware's model code calls ("dsp", ...)


class Target:
    """Build, start and stop one board. `start` returns the serial URL of the running firmware."""

    name: str
    cpu: CpuFeatures = CpuFeatures.portable()

    def for_cpu(self, c: Compiled) -> Compiled:
        """The model generated for this target's CPU (kernel variants); `c` itself when it already is."""
        if c.target == self.cpu:
            return c
        return compile_model(c.graph.path, c.prefix, target=self.cpu, train=c.train.spec if c.train is not None else None,
                             patches=c.patches.text if c.patches is not None else None)

    def build(self, c: Compiled, per_layer: bool) -> Firmware:
        raise NotImplementedError

    def start(self, fw: Firmware) -> str:
        raise NotImplementedError

    def stop(self) -> None:
        pass


def _cache_dir(*parts: str) -> Path:
    base = Path(os.environ.get("TINYML_PIO_CACHE", Path.home() / ".cache" / "tinyml-pio"))
    d = base.joinpath(*parts)
    d.mkdir(parents=True, exist_ok=True)
    return d


def elf_symbol_size(elf: Path, symbol: str, nm_tool: str = "arm-none-eabi-nm") -> int | None:
    """The size the linker gave `symbol` (e.g. the model's arena), or None if it is absent."""
    out = subprocess.run([nm_tool, "-S", str(elf)], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3] == symbol:
            return int(parts[1], 16)
    return None


def elf_sizes(elf: Path, size_tool: str = "arm-none-eabi-size") -> tuple[int, int]:
    """(static RAM, flash) from the ELF's sections: RAM = .data + .bss (+ .noinit), flash = everything loaded from flash."""
    out = subprocess.run([size_tool, "-A", str(elf)], capture_output=True, text=True, check=True).stdout
    sections = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1].isdigit():
            sections[parts[0]] = (int(parts[1]), int(parts[2]))
    ram = sum(sections.get(s, (0, 0))[0] for s in (".data", ".bss", ".noinit"))
    flash = sum(size for name, (size, addr) in sections.items()
                if name in (".isr_vector", ".text", ".rodata", ".ARM.extab", ".ARM.exidx", ".data"))
    return ram, flash


class HostTarget(Target):
    name = "host"

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self._fd: int | None = None
        self._tmp = tempfile.TemporaryDirectory(prefix="tinyml-hil-host-")

    def build(self, c: Compiled, per_layer: bool) -> Firmware:
        c = self.for_cpu(c)
        defines = ("-DTINYML_HIL_LAYER_TIMING",) if per_layer else ()
        exe = build_host_firmware(c, Path(self._tmp.name), defines=defines)
        return Firmware(exe, None, None, kernels=c.kernels)

    def start(self, fw: Firmware) -> str:
        master, slave = os.openpty()
        self.proc = subprocess.Popen([str(fw.path)], stdin=master, stdout=master, close_fds=True)
        os.close(master)
        self._fd = slave
        return os.ttyname(slave)

    def stop(self) -> None:
        if self.proc:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def platform_dir() -> Path:
    p = library_dir().parent / "board_defs" / "platform"
    if not (p / "platform.json").is_file():
        raise TinymlError("the emulated-board platform (board_defs/platform) was not found beside the library.",
                          hint="run from a source checkout of tinyml-pio.")
    return p


def _pio() -> str:
    beside = Path(sys.executable).parent / "pio"  # the venv this package runs in
    for cand in (str(beside) if beside.is_file() else None, shutil.which("pio"), shutil.which("platformio")):
        if cand:
            return cand
    raise TinymlError("PlatformIO ('pio') was not found.", hint="pip install platformio (it is a dependency of tinyml-pio).")


def _library_fingerprint() -> str:
    """The C library's sources: a changed kernel must not reuse a firmware cached with the old one."""
    lib = library_dir()
    h = hashlib.sha256()
    for p in sorted(lib.rglob("*")):
        if p.is_file() and p.suffix in (".c", ".h", ".cpp", ".json", ".py"):
            h.update(str(p.relative_to(lib)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


class PlatformIOTarget(Target):
    """Build the HIL firmware as a generated PlatformIO project (one env per board)."""

    def __init__(self, board: str, port: str | None = None, platform: str | None = None,
                 log: Callable[[str], None] = lambda s: None, cpu: CpuFeatures | None = None):
        self.name = board
        self.port = port
        self.platform = platform
        self.log = log
        self.project: Path | None = None
        # the board's CPU (board_defs/boards; portable for boards it does not list) unless told otherwise
        self.cpu = cpu if cpu is not None else CpuFeatures.for_board(board)

    def _platformio_ini(self, per_layer: bool) -> str:
        # Arduino cores: the library's setup()/loop() forward to the HIL firmware's C functions
        flags = ["-DTINYML_ARDUINO_POLL_MAIN"] + (["-DTINYML_HIL_LAYER_TIMING"] if per_layer else [])
        return "\n".join([
            "; generated by tinyml-pio hil: the HIL firmware for one model and board",
            f"[env:{self.name}]",
            f"platform = {self.platform}",
            f"board = {self.name}",
            f"lib_deps = symlink://{library_dir()}",
            "lib_ldf_mode = deep+",
            f"build_flags = {' '.join(flags)}",
            "",
        ])

    def build(self, c: Compiled, per_layer: bool) -> Firmware:
        c = self.for_cpu(c)
        files = hil_sources(c)
        ini = self._platformio_ini(per_layer)
        key = hashlib.sha256(json.dumps([ini, sorted(files.items()), _library_fingerprint()]).encode()).hexdigest()[:16]
        proj = _cache_dir("hil", f"{self.name}-{key}")
        self.project = proj
        (proj / "src").mkdir(exist_ok=True)
        for name, text in files.items():
            (proj / "src" / name).write_text(text)
        (proj / "platformio.ini").write_text(ini)
        elf = proj / ".pio" / "build" / self.name / "firmware.elf"
        if not elf.is_file():
            self.log(f"building the HIL firmware for {self.name} (pio run) in {proj}")
            r = subprocess.run([_pio(), "run", "-d", str(proj), "-e", self.name], capture_output=True, text=True)
            if r.returncode != 0 or not elf.is_file():
                tail = "\n".join((r.stdout + r.stderr).strip().splitlines()[-25:])
                raise TinymlError(f"building the HIL firmware for board {self.name} failed:\n{tail}",
                                  hint="run `tinyml-pio setup-offline` on machines without the PlatformIO registry; "
                                  f"the project is in {proj}.")
        ram, flash = elf_sizes(elf)
        return Firmware(elf, ram, flash, elf_symbol_size(elf, f"{c.prefix}_arena"),
                        deterministic_clock=isinstance(self, EmulatedTarget), kernels=c.kernels)

    def start(self, fw: Firmware) -> str:
        if not self.port:
            raise TinymlError(f"board {self.name} needs --port (e.g. /dev/ttyACM0) to talk to it.")
        assert self.project is not None
        r = subprocess.run([_pio(), "run", "-d", str(self.project), "-e", self.name, "-t", "upload"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise TinymlError(f"uploading to {self.name} failed:\n" + "\n".join(r.stdout.splitlines()[-15:]),
                              hint="check the USB connection and the upload_protocol for this board.")
        time.sleep(1.0)  # boards reset after flashing
        return self.port


class EmulatedTarget(PlatformIOTarget):
    """An emulated board: PlatformIO build for the board in board_defs/platform, run in QEMU."""

    def __init__(self, board: str, log: Callable[[str], None] = lambda s: None, cpu: CpuFeatures | None = None):
        super().__init__(board, platform=f"symlink://{platform_dir()}", log=log, cpu=cpu)
        self.state_dir: Path | None = None

    def start(self, fw: Firmware) -> str:
        from ..platformio import qemu

        reap_stale_qemu()
        self.state_dir = _cache_dir("hil-qemu", f"{self.name}-{os.getpid()}-{id(self)}")
        try:
            # owned: QEMU dies with this process, gets a port reserved for it, never stops another QEMU
            d = qemu.start_detached(fw.path, qemu.load_board(self.name), self.state_dir, owned=True)
        except qemu.QemuError as e:
            raise TinymlError(str(e)) from None
        return d.url

    def stop(self) -> None:
        from ..platformio import qemu

        if self.state_dir:
            qemu.stop(self.state_dir)
            shutil.rmtree(self.state_dir, ignore_errors=True)
            self.state_dir = None


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def reap_stale_qemu() -> list[Path]:
    """Remove the QEMU state dirs (hil-qemu/<board>-<pid>-<id>) of HIL runs whose process is gone,
    ending their QEMU if it still runs (a run killed before it could stop it, on a system where
    QEMU does not die with its parent). Returns the dirs removed."""
    from ..platformio import qemu

    removed = []
    base = _cache_dir("hil-qemu")
    for d in sorted(base.iterdir()):
        parts = d.name.rsplit("-", 2)
        if not d.is_dir() or len(parts) != 3 or not parts[1].isdigit() or _process_alive(int(parts[1])):
            continue
        qemu.stop(d)  # only the QEMU recorded there, and only while it still runs that command
        shutil.rmtree(d, ignore_errors=True)
        removed.append(d)
    return removed


def emulated_boards() -> list[str]:
    try:
        return sorted(p.stem for p in (platform_dir() / "boards").glob("*.json"))
    except TinymlError:
        return []


def make_target(board: str, port: str | None = None, log: Callable[[str], None] = lambda s: None,
                cpu: CpuFeatures | None = None, platform: str | None = None) -> Target:
    """The target for a board name; `cpu` overrides the board's CPU features (e.g. portable kernels).

    `port` is the serial port of a real board; `platform` its PlatformIO platform (default:
    $TINYML_PIO_PLATFORM). The host and the emulated boards take neither: the harness starts them
    and connects to them itself."""
    if board == "host" or board in emulated_boards():
        kind = "the host board" if board == "host" else f"board {board} is emulated: it"
        if port:
            raise UsageError(f"{kind} needs no serial port, but one was given ({port}).",
                              hint="leave out --port / --hil-port (the harness starts it and connects to it itself); "
                              "a port is for a real board.")
        if platform:
            raise TinymlError(f"{kind} needs no PlatformIO platform, but one was given ({platform}).",
                              hint="give a platform only for real boards.")
        return HostTarget() if board == "host" else EmulatedTarget(board, log=log, cpu=cpu)
    platform = platform or os.environ.get("TINYML_PIO_PLATFORM")
    if not platform:
        raise TinymlError(
            f"board '{board}' is not one of the emulated boards ({', '.join(emulated_boards()) or 'none found'}) "
            "and no PlatformIO platform is set for it.",
            hint="for a real board give its platform (platform = \"ststm32\" in the HIL inventory, or set "
            "TINYML_PIO_PLATFORM) and its port; its firmware needs a board-support package implementing tinyml_board.h.")
    return PlatformIOTarget(board, port=port, platform=platform, log=log, cpu=cpu)
