"""The HIL harness's emulators do not outlive it: `tinyml-pio hil run` stopped by SIGTERM stops its
QEMU, a run killed outright (SIGKILL, as an xdist worker killed on a timeout) takes its QEMU with it
(Linux: PR_SET_PDEATHSIG), state dirs of dead runs are reaped, and a HIL launch never stops a QEMU
it does not own. Real QEMU, real firmware, checked through /proc."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ZOO, missing_toolchain, offline_pio_env
from tinyml_pio.hil.client import HilClient
from tinyml_pio.platformio import qemu

BOARD = "qemu_mps2_an386"
MODEL = ZOO / "fc_relu.tflite"
_MISSING = missing_toolchain()
pytestmark = [pytest.mark.skipif(_MISSING is not None, reason=str(_MISSING)),
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="checks processes through /proc")]


@pytest.fixture(scope="module")
def hil_env(tmp_path_factory):
    """An offline PlatformIO core dir and a private tinyml-pio cache (its hil-qemu/ is this test's
    alone), for this process and the `hil run` processes it starts."""
    base = tmp_path_factory.mktemp("hil-cleanup")
    env = offline_pio_env(base / "core")
    env["TINYML_PIO_CACHE"] = str(base / "cache")
    mp = pytest.MonkeyPatch()
    for k in ("PLATFORMIO_CORE_DIR", "PLATFORMIO_NO_ANSI", "PLATFORMIO_SETTING_ENABLE_TELEMETRY",
              "PLATFORMIO_SETTING_CHECK_PLATFORMIO_INTERVAL", "TINYML_PIO_CACHE"):
        mp.setenv(k, env[k])
    yield env
    mp.undo()


@pytest.fixture(scope="module")
def elf(hil_env) -> Path:
    """The HIL firmware for fc_relu on the board (built once; `hil run` then finds it in the cache)."""
    from tinyml_pio.hil.targets import EmulatedTarget
    from tinyml_pio.pipeline import compile_model

    target = EmulatedTarget(BOARD)
    return target.build(compile_model(MODEL, "model", target=target.cpu), per_layer=False).path


def _state_dirs(env: dict) -> Path:
    return Path(env["TINYML_PIO_CACHE"]) / "hil-qemu"


def _running(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])


def _wait_for(cond, what: str, limit: float = 300.0, proc: subprocess.Popen | None = None, out: Path | None = None):
    """Poll `cond` until it gives something truthy (a bounded wait, not a timing assertion)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"`hil run` ended (code {proc.returncode}) before {what}:\n"
                        + (out.read_text(errors="replace")[-3000:] if out else ""))
        time.sleep(0.05)
    pytest.fail(f"gave up waiting for {what}")


def _start_run(env: dict, tmp: Path) -> tuple[subprocess.Popen, Path, Path, int]:
    """`hil run` in a subprocess, waited for until its QEMU answers inputs; returns (proc, stdout
    file, state dir, QEMU pid)."""
    out, err = tmp / "out.txt", tmp / "err.txt"
    with open(out, "wb") as fo, open(err, "wb") as fe:
        proc = subprocess.Popen([sys.executable, "-m", "tinyml_pio.cli", "hil", "run", "--board", BOARD,
                                 "--model", str(MODEL), "--inputs", "100000", "-v"],
                                env=dict(env, PYTHONUNBUFFERED="1"), stdout=fo, stderr=fe, stdin=subprocess.DEVNULL)
    try:
        _wait_for(lambda: "input 1:" in out.read_text(errors="replace"), "its QEMU answering", proc=proc, out=err)
        states = list(_state_dirs(env).glob(f"{BOARD}-{proc.pid}-*/{qemu.STATE_FILE}"))
        assert len(states) == 1, states
        qpid = json.loads(states[0].read_text())["pid"]
        assert _running(qpid) and b"qemu-system-arm" in Path(f"/proc/{qpid}/cmdline").read_bytes()
        assert _parent(qpid) == proc.pid  # the run's own QEMU
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc, err, states[0].parent, qpid


def test_sigterm_stops_the_runs_qemu(hil_env, elf, tmp_path):
    proc, err, state_dir, qpid = _start_run(hil_env, tmp_path)
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(timeout=120)
    text = err.read_text(errors="replace")
    assert rc == 128 + signal.SIGTERM and "terminated" in text and "Traceback" not in text, text
    assert not _running(qpid), f"QEMU {qpid} survived the SIGTERM of its run"
    assert not state_dir.exists()


def test_killed_run_takes_its_qemu_along_and_its_state_is_reaped(hil_env, elf, tmp_path):
    from tinyml_pio.hil.targets import reap_stale_qemu

    proc, _, state_dir, qpid = _start_run(hil_env, tmp_path)
    proc.kill()  # no cleanup at all can run in the process: the kernel ends its QEMU (PDEATHSIG)
    proc.wait()
    _wait_for(lambda: not _running(qpid), f"QEMU {qpid} to end with its killed parent", limit=60)
    assert state_dir.is_dir()  # left behind: the next HIL start reaps it
    assert state_dir in reap_stale_qemu()
    assert not state_dir.exists()


def test_reap_ends_an_orphaned_qemu_and_spares_live_runs(hil_env, elf):
    """A state dir whose run is gone but whose QEMU still runs (a run killed where QEMU does not
    die with its parent) is reaped with its QEMU; the dirs of live runs are left alone."""
    from tinyml_pio.hil.targets import reap_stale_qemu

    gone = subprocess.Popen(["true"])
    gone.wait()
    target = qemu.load_board(BOARD)
    orphan_dir = _state_dirs(hil_env) / f"{BOARD}-{gone.pid}-1"
    live_dir = _state_dirs(hil_env) / f"{BOARD}-{os.getpid()}-2"
    orphan = qemu.start_detached(elf, target, orphan_dir, port=qemu.free_port())  # detached, like an upload
    live = qemu.start_detached(elf, target, live_dir, owned=True)
    try:
        removed = reap_stale_qemu()
        assert orphan_dir in removed and live_dir not in removed
        assert not _running(orphan.pid) and not orphan_dir.exists()
        assert _running(live.pid) and live_dir.is_dir()
    finally:
        qemu.stop(orphan_dir)
        qemu.stop(live_dir)


def test_hil_launch_never_stops_a_foreign_qemu(hil_env, elf, tmp_path):
    """A QEMU serving a port (another worker's, or the user's `pio run -t upload`) is never
    stopped by a HIL launch: asking for its port is an error, and without a port the launch gets
    one reserved for it. Both emulators keep answering."""
    target = qemu.load_board(BOARD)
    port = qemu.free_port()
    foreign = qemu.start_detached(elf, target, tmp_path / "foreign", port=port)
    try:
        with pytest.raises(qemu.QemuError, match="already in use"):
            qemu.start_detached(elf, target, tmp_path / "ours", port=port, owned=True)
        assert _running(foreign.pid)
        ours = qemu.start_detached(elf, target, tmp_path / "ours", owned=True)
        assert ours.port != port and _running(foreign.pid)
        for d in (foreign, ours):
            with HilClient(d.url, timeout=5.0) as cl:
                assert cl.hello().model_name == "fc_relu"
    finally:
        qemu.stop(tmp_path / "ours")
        qemu.stop(tmp_path / "foreign")
