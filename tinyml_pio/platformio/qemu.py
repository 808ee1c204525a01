"""Boot firmware for the emulated boards in qemu-system-arm and read its UART through pyserial.

Used by the dev-platform in board_defs/platform (`pio run -t upload`, `-t exec`, `-t qemu-stop`),
by tests, and by the HIL harness. Two ways to run:

- `start_detached()`: what `pio run -t upload` does. QEMU starts in the background with UART0 on a
  TCP server socket and waits for the first client before the CPU starts, so
  `pio device monitor --port socket://127.0.0.1:PORT` (or pyserial's
  `serial_for_url("socket://127.0.0.1:PORT")`) sees the output from the first byte. Its PID and
  command line are kept in a state file (the dev-platform uses .pio/qemu/<env>/, outside the build
  directory PlatformIO wipes when platformio.ini changes); the next upload (or `stop()`,
  `-t qemu-stop`) ends it, and an upload also ends a QEMU of ours still serving the same port.
  Without semihosting the firmware halts in WFI when main() returns, so the emulator stays up like
  a board that finished its work.
  With `owned=True` (the HIL harness) the emulator belongs to the calling process instead: it
  dies with it (Linux), its UART port is reserved by binding it here and handing the listening
  socket to QEMU, and no other QEMU is ever stopped.
- `run()`: for CI scripts. Semihosting is on, so the firmware's exit(code) ends QEMU with that
  code; the UART is read through pyserial until QEMU exits or the timeout passes.

Timing: `-icount shift=N` makes every instruction take 2**N ns of virtual time, so SysTick (the
only cycle counter QEMU models for these machines) advances exactly with the instruction count:
the same ELF prints the same tick counts on every run and every host.
"""

from __future__ import annotations

import argparse
import ctypes
import errno
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

DEFAULT_ICOUNT_SHIFT = 5  # 32 ns per instruction: ~31 MIPS of virtual time
DEFAULT_HOST = "127.0.0.1"
STATE_FILE = "qemu.json"
LOG_FILE = "qemu.log"


class QemuError(Exception):
    """QEMU missing, failing to start, or a board without QEMU settings; the text says what to do."""


@dataclass
class QemuTarget:
    """How to emulate one board: the QEMU machine and the icount shift."""

    machine: str
    icount_shift: int = DEFAULT_ICOUNT_SHIFT
    cpu_hz: int | None = None  # the machine clock SysTick counts (informational)
    board: str | None = None


@dataclass
class RunResult:
    exit_code: int | None  # the firmware's exit(code); None when it was stopped by the timeout
    output: bytes
    timed_out: bool
    command: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.output.decode("utf-8", errors="replace")


# ---- boards -----------------------------------------------------------------------------------

def boards_dir() -> Path:
    """board_defs/platform/boards of this checkout ($TINYML_PIO_BOARDS overrides)."""
    env = os.environ.get("TINYML_PIO_BOARDS")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent.parent
    for cand in (here.parent / "board_defs" / "platform" / "boards", here / "board_defs" / "platform" / "boards"):
        if cand.is_dir():
            return cand
    raise QemuError("board_defs/platform/boards was not found next to the tinyml_pio package; set TINYML_PIO_BOARDS.")


def target_from_board_config(cfg: dict, board: str | None = None) -> QemuTarget:
    """QemuTarget from a board manifest (the JSON dict, or PlatformIO's BoardConfig)."""
    q = cfg.get("qemu") or {}
    if not q.get("machine"):
        raise QemuError(f"board '{board or cfg.get('name', '?')}' has no qemu.machine: it is not an emulated board.")
    f_cpu = str((cfg.get("build") or {}).get("f_cpu", "")).rstrip("Ll")
    return QemuTarget(machine=q["machine"], icount_shift=int(q.get("icount_shift", DEFAULT_ICOUNT_SHIFT)),
                      cpu_hz=int(f_cpu) if f_cpu.isdigit() else None, board=board)


def load_board(board: str) -> QemuTarget:
    path = boards_dir() / f"{board}.json"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in boards_dir().glob("*.json")))
        raise QemuError(f"unknown board '{board}' (known: {known}).")
    return target_from_board_config(json.loads(path.read_text()), board)


# ---- command line -----------------------------------------------------------------------------

def find_qemu(explicit: str | None = None) -> str:
    exe = explicit or os.environ.get("TINYML_QEMU") or "qemu-system-arm"
    path = shutil.which(exe)
    if not path:
        raise QemuError(f"'{exe}' was not found.\nWhat to do: install QEMU's Arm system emulator "
                        "(Debian/Ubuntu: apt-get install qemu-system-arm; macOS: brew install qemu) "
                        "or set TINYML_QEMU to its path.")
    return path


def qemu_command(elf: str | os.PathLike[str], target: QemuTarget, *, port: int | None = None, host: str = DEFAULT_HOST,
                 wait: bool = True, semihosting: bool = False, serial: str | None = None,
                 qemu: str | None = None, extra: tuple[str, ...] = ()) -> list[str]:
    """The qemu-system-arm command line; UART0 on a TCP server socket unless `serial` is given."""
    if serial is None:
        if port is None:
            raise ValueError("port or serial is required")
        serial = f"{_serial_arg(host, port)},wait={'on' if wait else 'off'}"
    cmd = [find_qemu(qemu), "-M", target.machine, "-display", "none", "-monitor", "none",
           "-serial", serial, "-icount", f"shift={target.icount_shift},align=off,sleep=on",
           "-kernel", str(elf)]
    if semihosting:
        cmd += ["-semihosting-config", "enable=on,target=native"]
    return cmd + list(extra)


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port(host: str = DEFAULT_HOST) -> int:
    """A free TCP port for a detached QEMU to listen on, below the kernel's ephemeral range: a port
    handed out by bind(0) is ephemeral, so between this call and QEMU's own bind any outgoing
    connection (a serial client, the HIL harness, pip) could take it; below the range only another
    server can."""
    low = _ephemeral_low()
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(max(1024, low - 12000), low)
        if not port_listening(port, host):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                try:
                    s.bind((host, port))
                except OSError:
                    continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_listening(port: int, host: str = DEFAULT_HOST) -> bool:
    """True when some socket listens on host:port (probed by bind, so no connection is made:
    a connection would start QEMU's CPU and take its single client slot)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def _wait_listening(proc: subprocess.Popen, port: int, host: str, timeout: float, log: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise QemuError(f"QEMU exited with code {proc.returncode} before opening the UART socket:\n{log().strip()}")
        if port_listening(port, host):
            return
        time.sleep(0.02)
    proc.kill()
    raise QemuError(f"QEMU did not open {host}:{port} within {timeout:.0f} s:\n{log().strip()}")


def parse_port(value: str | None) -> tuple[str, int] | None:
    """'socket://host:4386', 'tcp:host:4386', 'host:4386' or '4386' -> (host, port); None otherwise."""
    if not value:
        return None
    v = value.strip()
    for prefix in ("socket://", "rfc2217://", "tcp://", "tcp:"):
        if v.startswith(prefix):
            v = v[len(prefix):]
    v = v.split(",")[0].split("?")[0].rstrip("/")
    host, _, port = v.rpartition(":")
    if port.isdigit():
        return (host or DEFAULT_HOST, int(port))
    return None


# ---- UART through pyserial --------------------------------------------------------------------

def open_uart(port: int, host: str = DEFAULT_HOST, timeout: float = 0.2):
    """pyserial's socket:// port, opened without its input flush: QEMU starts the CPU the moment
    the connection is accepted, and pyserial's open() discards whatever arrived by the time it
    calls reset_input_buffer(), so on a loaded machine a short firmware's whole output was lost."""
    import serial  # pyserial

    ser = serial.serial_for_url(f"socket://{host}:{port}", timeout=timeout, do_not_open=True)
    ser.reset_input_buffer = lambda: None  # shadow the flush for open() only
    try:
        ser.open()
    finally:
        del ser.reset_input_buffer
    return ser


def read_uart(ser, *, until: bytes | None = None, timeout: float = 30.0, echo: Callable[[str], None] | None = None,
              alive: Callable[[], bool] | None = None) -> tuple[bytes, str]:
    """Read until `until` appears, the other end closes, `alive()` turns false, or the timeout.

    Returns (data, reason) with reason "until", "closed" or "timeout"; `echo` gets each line as it
    arrives. Reads one byte per call so a disconnect right after the last byte loses nothing
    (pyserial's socket:// read drops what it buffered in the same call when it meets EOF).
    """
    import serial  # pyserial

    data = bytearray()
    line = bytearray()
    reason = "timeout"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            b = ser.read(1)
        except serial.SerialException:
            reason = "closed"
            break
        if b:
            data += b
            line += b
            if b == b"\n":
                if echo:
                    echo(line.decode("utf-8", errors="replace").rstrip("\r\n"))
                line.clear()
            if until and data.endswith(until):
                reason = "until"
                break
        elif alive and not alive():
            reason = "closed"
            break
    if echo and line:
        echo(line.decode("utf-8", errors="replace"))
    return bytes(data), reason


# ---- run to completion ------------------------------------------------------------------------

def run(elf: str | os.PathLike[str], target: QemuTarget, *, timeout: float = 60.0, host: str = DEFAULT_HOST,
        port: int | None = None, echo: Callable[[str], None] | None = None, qemu: str | None = None,
        extra: tuple[str, ...] = ()) -> RunResult:
    """Boot `elf` with semihosting, read UART0 through pyserial until the firmware exits or `timeout`."""
    if not Path(elf).is_file():
        raise QemuError(f"{elf} does not exist (build it first).")
    port = port or free_port(host)
    cmd = qemu_command(elf, target, port=port, host=host, wait=True, semihosting=True, qemu=qemu, extra=extra)
    qlog = tempfile.TemporaryFile()  # QEMU's own messages (a pipe could fill up and stall it)
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=qlog, stderr=subprocess.STDOUT)

    def _qemu_messages() -> str:
        qlog.seek(0)
        return qlog.read().decode(errors="replace")

    try:
        _wait_listening(proc, port, host, 20.0, _qemu_messages)
        ser = open_uart(port, host)
        try:
            out, reason = read_uart(ser, timeout=timeout, echo=echo, alive=lambda: proc.poll() is None)
        finally:
            ser.close()
        if reason == "timeout":
            return RunResult(None, out, True, cmd)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            return RunResult(None, out, True, cmd)
        return RunResult(proc.returncode, out, False, cmd)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        qlog.close()


# ---- detached (upload + monitor) --------------------------------------------------------------

@dataclass
class Detached:
    pid: int
    host: str
    port: int
    state_file: Path
    log_file: Path
    command: list[str]

    @property
    def url(self) -> str:
        return f"socket://{self.host}:{self.port}"


def _pid_is_qemu(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():
        try:
            return b"qemu-system" in cmdline.read_bytes()
        except OSError:
            return False
    return True  # no /proc (macOS): trust the state file


def _runs_command(pid: int, command: list[str] | None) -> bool:
    """Whether `pid` still runs the recorded command line (not a reused PID); True without /proc."""
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not command or not cmdline.exists():
        return True
    try:
        return cmdline.read_bytes().split(b"\0")[:-1] == [os.fsencode(a) for a in command]
    except OSError:
        return False


def stop(state_dir: str | os.PathLike[str], log: Callable[[str], None] = lambda s: None) -> bool:
    """End the QEMU started from `state_dir` (if it still runs). True when one was stopped."""
    state = Path(state_dir) / STATE_FILE
    if not state.is_file():
        return False
    try:
        info = json.loads(state.read_text())
        pid = int(info["pid"])
    except (ValueError, KeyError, TypeError, OSError):
        state.unlink(missing_ok=True)
        return False
    stopped = False
    if _pid_is_qemu(pid) and _runs_command(pid, info.get("command")):
        _terminate(pid)
        stopped = True
        log(f"stopped QEMU (pid {pid})")
    state.unlink(missing_ok=True)
    return stopped


def _serial_arg(host: str, port: int) -> str:
    return f"tcp:{host}:{port},server=on"


def _qemu_serving(host: str, port: int) -> list[int]:
    """PIDs of qemu-system processes started with our `-serial tcp:HOST:PORT,server=on` (Linux /proc)."""
    found = []
    want = _serial_arg(host, port).encode()
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    for d in proc.iterdir():
        if not d.name.isdigit():
            continue
        try:
            args = (d / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if args and b"qemu-system" in args[0] and any(a.startswith(want) for a in args):
            found.append(int(d.name))
    return found


def _terminate(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            time.sleep(0.02)
            if _reap(pid) or not _pid_is_qemu(pid):
                return
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def stop_serving(port: int, host: str = DEFAULT_HOST, log: Callable[[str], None] = lambda s: None) -> bool:
    """End the QEMU (started by this module) that serves UART0 on host:port, if any."""
    pids = _qemu_serving(host, port)
    for pid in pids:
        _terminate(pid)
        log(f"stopped QEMU (pid {pid}) serving {host}:{port}")
    return bool(pids)


def _reap(pid: int) -> bool:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == pid
    except ChildProcessError:
        return False


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn that has the kernel SIGKILL the child when the thread that started it ends
    (Linux's PR_SET_PDEATHSIG), however that ends: SIGKILL, a crash, an xdist worker killed on a
    timeout. None where there is no such thing (the caller's own cleanup is all there is)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up here: the child only calls it
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:
        if prctl(1, int(signal.SIGKILL), 0, 0, 0) != 0:  # PR_SET_PDEATHSIG
            os._exit(126)
        if os.getppid() != parent:  # the parent was gone before the request took effect
            os._exit(126)

    return preexec


def _reserve_port(host: str, port: int | None) -> socket.socket:
    """A listening socket on host:port (port None or 0: a free one), to hand to QEMU."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((host, port or 0))
        s.listen(1)
    except OSError as e:
        s.close()
        if e.errno == errno.EADDRINUSE:
            raise QemuError(f"{host}:{port} is already in use by another program.\n"
                            "What to do: leave the port out (a free one is chosen) or end the program holding it.") from None
        raise QemuError(f"cannot listen on {host}:{port or 0}: {e}") from None
    return s


def _wait_waiting(proc: subprocess.Popen, log_file: Path, timeout: float) -> None:
    """Until QEMU (with a server socket handed over and wait=on) waits for its client: it says so."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log_file.read_text(errors="replace") if log_file.is_file() else ""
        if proc.poll() is not None:
            raise QemuError(f"QEMU exited with code {proc.returncode} before its UART was ready:\n{text.strip()}")
        if "waiting for connection" in text:
            return
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    raise QemuError(f"QEMU did not get ready within {timeout:.0f} s:\n{log_file.read_text(errors='replace').strip()}")


def start_detached(elf: str | os.PathLike[str], target: QemuTarget, state_dir: str | os.PathLike[str], *,
                   port: int | None = None, host: str = DEFAULT_HOST, wait: bool = True, semihosting: bool = False,
                   qemu: str | None = None, extra: tuple[str, ...] = (),
                   log: Callable[[str], None] = lambda s: None, owned: bool = False) -> Detached:
    """Start QEMU in the background (a previous instance from `state_dir` is stopped first).

    owned=False (`pio run -t upload`): QEMU outlives the caller in its own session, on the given
    port, and a QEMU of ours still serving that port (the user's previous upload) is stopped.
    owned=True (the HIL harness, which uses the emulator only while it runs): QEMU dies with the
    calling thread's process (Linux), and on POSIX the port (None: any free one) is bound here and
    the listening socket handed to QEMU, so no other process can take it between choosing and
    binding; a port in use is an error, and no other QEMU is ever stopped."""
    if not Path(elf).is_file():
        raise QemuError(f"{elf} does not exist (build it first).")
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    stop(state_dir, log)
    log_file = state_dir / LOG_FILE
    kwargs: dict = {}
    if os.name == "nt":
        kwargs["creationflags"] = getattr(subprocess, "DETACHED_PROCESS", 0) | getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)
    else:
        kwargs["start_new_session"] = True  # a Ctrl-C in the terminal goes to the caller, which stops it
    listener: socket.socket | None = None
    if owned and os.name == "posix" and wait:
        listener = _reserve_port(host, port)
        port = listener.getsockname()[1]
        chardev = f"socket,id=uart0,fd={listener.fileno()},server=on,wait=on"
        cmd = qemu_command(elf, target, serial="chardev:uart0", semihosting=semihosting, qemu=qemu,
                           extra=("-chardev", chardev) + tuple(extra))
        kwargs["pass_fds"] = (listener.fileno(),)
    else:
        if port is None:
            port = free_port(host)
        elif port_listening(port, host) and not owned:
            stop_serving(port, host, log)  # the user's earlier upload whose state file is gone
        if port_listening(port, host):
            raise QemuError(f"{host}:{port} is already in use by another program.\n"
                            "What to do: choose another port (upload_port = socket://127.0.0.1:PORT in platformio.ini, "
                            "or PLATFORMIO_UPLOAD_PORT) or end the program holding it.")
        cmd = qemu_command(elf, target, port=port, host=host, wait=wait, semihosting=semihosting, qemu=qemu, extra=extra)
    if owned:
        kwargs["preexec_fn"] = _die_with_parent()
    try:
        with open(log_file, "wb") as lf:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=lf, stderr=subprocess.STDOUT, close_fds=True,
                                    **kwargs)
    finally:
        if listener is not None:
            listener.close()  # QEMU holds it now; when QEMU ends, the port is closed
    d = Detached(pid=proc.pid, host=host, port=port, state_file=state_dir / STATE_FILE, log_file=log_file, command=cmd)
    d.state_file.write_text(json.dumps({"pid": proc.pid, "host": host, "port": port, "elf": str(elf),
                                        "machine": target.machine, "command": cmd}, indent=2))
    if listener is not None:
        _wait_waiting(proc, log_file, 20.0)
    else:
        _wait_listening(proc, port, host, 20.0, lambda: log_file.read_text(errors="replace"))
    return d


# ---- command line: python -m tinyml_pio.platformio.qemu ---------------------------------------

def _target(a: argparse.Namespace) -> QemuTarget:
    if a.board:
        t = load_board(a.board)
    elif a.machine:
        t = QemuTarget(machine=a.machine)
    else:
        raise QemuError("give --board (e.g. qemu_mps2_an386) or --machine (e.g. mps2-an386).")
    if a.icount_shift is not None:
        t.icount_shift = a.icount_shift
    return t


def main(argv: list[str] | None = None, prog: str = "python -m tinyml_pio.platformio.qemu") -> int:
    p = argparse.ArgumentParser(prog=prog,
                                description="Run tinyml-pio firmware in qemu-system-arm (UART0 read through pyserial).")
    sub = p.add_subparsers(dest="cmd", required=True)
    for name, help_ in (("run", "run to completion; exit with the firmware's exit code"),
                        ("start", "start in the background; UART0 on a TCP socket for a monitor")):
        s = sub.add_parser(name, help=help_)
        s.add_argument("elf")
        s.add_argument("--board", help="board id, e.g. qemu_mps2_an386 (reads board_defs/platform/boards)")
        s.add_argument("--machine", help="QEMU machine, e.g. mps2-an386 (instead of --board)")
        s.add_argument("--icount-shift", type=int)
        s.add_argument("--port", type=int)
        if name == "run":
            s.add_argument("--timeout", type=float, default=60.0)
        else:
            s.add_argument("--state-dir", default=".", help="where the PID/state file and log go")
            s.add_argument("--semihosting", action="store_true", help="let exit() end QEMU")
    s = sub.add_parser("stop", help="stop a QEMU started with `start`")
    s.add_argument("--state-dir", default=".")
    a = p.parse_args(argv)
    try:
        if a.cmd == "run":
            r = run(a.elf, _target(a), timeout=a.timeout, port=a.port, echo=print)
            if r.timed_out:
                print(f"error: timeout after {a.timeout:g} s (no exit from the firmware)", file=sys.stderr)
                return 124
            return r.exit_code or 0
        if a.cmd == "start":
            d = start_detached(a.elf, _target(a), a.state_dir, port=a.port or free_port(), semihosting=a.semihosting, log=print)
            print(f"QEMU pid {d.pid}; UART0 on {d.url} (the CPU starts when a client connects)")
            return 0
        print("stopped" if stop(a.state_dir, print) else "no QEMU running from this state dir")
        return 0
    except QemuError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
