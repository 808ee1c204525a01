"""HIL protocol: Python framing, the firmware parser (compiled on the host, fuzzed), and the client
against a real HIL firmware running on the host "board" over a pty."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ZOO
from tinyml_pio.hil import protocol as P
from tinyml_pio.hil.client import HilClient, HilError
from tinyml_pio.hil.firmware import build_host_firmware
from tinyml_pio.hostbuild import HostModel
from tinyml_pio.pipeline import compile_model
from tinyml_pio.verify import random_inputs


@given(st.integers(0, 255), st.integers(0, 255), st.binary(max_size=P.MAX_PAYLOAD), st.binary(max_size=64))
def test_frames_survive_leading_garbage(ftype, seq, payload, garbage):
    parser = P.FrameParser()
    frames = parser.feed(garbage + P.encode(ftype, seq, payload))
    assert P.Frame(ftype, seq, payload) in frames


@given(st.binary(min_size=1, max_size=64), st.integers(0, 10_000))
def test_corrupted_frame_is_rejected(payload, where):
    frame = bytearray(P.encode(0x03, 7, payload))
    i = 2 + where % (len(frame) - 2)  # corrupt anything after the sync bytes
    frame[i] ^= 1 << (where % 8)
    frames = P.FrameParser().feed(bytes(frame))
    assert all(f.payload != payload or f.type != 0x03 or f.seq != 7 for f in frames)


@pytest.fixture(scope="module")
def model():
    return compile_model(ZOO / "fc_relu.tflite", "m")


def _spawn(exe):
    master, slave = os.openpty()
    proc = subprocess.Popen([str(exe)], stdin=master, stdout=master, close_fds=True)
    os.close(master)
    name = os.ttyname(slave)
    return proc, name, slave


@pytest.fixture()
def board(model, tmp_path):
    exe = build_host_firmware(model, tmp_path)
    proc, name, slave = _spawn(exe)
    yield proc, name
    proc.kill()
    proc.wait()
    os.close(slave)


def test_client_runs_model_on_host_board_bit_exact(model, board, tmp_path):
    proc, port = board
    g = model.graph
    with HilClient(port, timeout=2.0) as cl:
        info = cl.hello()
        assert info.model_sha256 == g.sha256 and info.arena_bytes == model.plan.arena_size
        assert info.inputs[0].shape == g.t(g.inputs[0]).shape and info.clock_source == "host-ns"
        samples = random_inputs(g, 5, seed=3)
        spec_in = [(g.t(t).shape, np.int8) for t in g.inputs]
        spec_out = [(g.t(t).shape, np.int8) for t in g.outputs]
        expect = HostModel(model.files, model.prefix, tmp_path / "ref", spec_in, spec_out).run(samples)
        for s, e in zip(samples, expect):
            cl.set_input(0, s[0].tobytes())
            status, cycles = cl.invoke()
            assert status == 0 and cycles > 0
            out = np.frombuffer(cl.get_output(0, info.outputs[0].nbytes), np.int8).reshape(e[0].shape)
            np.testing.assert_array_equal(out, e[0])
        mem = cl.memory()
        assert mem.arena_bytes == model.plan.arena_size


def test_corrupted_request_is_retried(model, board):
    _, port = board
    with HilClient(port, timeout=0.5, retries=2) as cl:
        cl.hello()
        real_write = cl.port.write
        flipped = []

        def flaky_write(data):
            if not flipped:
                flipped.append(1)
                data = bytearray(data)
                data[-3] ^= 0x10  # a flipped bit in the payload/CRC region
            return real_write(bytes(data))

        cl.port.write = flaky_write
        status, _ = cl.invoke()
        assert status == 0 and cl.retried == 1


def test_hung_board_fails_within_timeout(model, board):
    proc, port = board
    with HilClient(port, timeout=0.3, retries=1) as cl:
        cl.hello()
        proc.send_signal(signal.SIGSTOP)
        t0 = time.monotonic()
        with pytest.raises(HilError, match="stopped answering"):
            cl.invoke(timeout=0.3)
        assert time.monotonic() - t0 < 3
        proc.send_signal(signal.SIGCONT)


def test_board_reset_mid_run_is_reported(model, tmp_path):
    """The firmware restarts (a new boot on the same line): the client aborts with a clear error."""
    exe = build_host_firmware(model, tmp_path)
    master, slave = os.openpty()
    first = subprocess.Popen([str(exe)], stdin=master, stdout=master, close_fds=True)
    second = None
    try:
        with HilClient(os.ttyname(slave), timeout=1.0, retries=0) as cl:
            cl.hello()
            first.kill()
            first.wait()
            second = subprocess.Popen([str(exe)], stdin=master, stdout=master, close_fds=True)
            with pytest.raises(HilError, match="reset during the run"):
                cl.invoke(timeout=1.0)
    finally:
        for p in (first, second):
            if p:
                p.kill()
                p.wait()
        os.close(master)
        os.close(slave)


def test_wrong_protocol_version_is_refused(model, tmp_path):
    exe = build_host_firmware(model, tmp_path, defines=("-DTINYML_HIL_PROTOCOL_VERSION=9",))
    proc, port, slave = _spawn(exe)
    try:
        with HilClient(port, timeout=1.0) as cl, pytest.raises(HilError, match="version 9"):
            cl.hello()
    finally:
        proc.kill()
        proc.wait()
        os.close(slave)


def test_firmware_parser_fuzz_never_crashes(model, tmp_path):
    """Random bytes, truncated and corrupted frames into the C parser under ASan/UBSan."""
    exe = build_host_firmware(model, tmp_path, opt="-O1",
                              extra_flags=("-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g"))
    rng = np.random.default_rng(0)
    chunks = [rng.integers(0, 256, 200_000, dtype=np.uint8).tobytes()]
    for _ in range(3000):
        f = bytearray(P.encode(int(rng.integers(0, 8)), int(rng.integers(0, 256)),
                               rng.integers(0, 256, int(rng.integers(0, 40)), dtype=np.uint8).tobytes()))
        if rng.random() < 0.5:
            f[int(rng.integers(0, len(f)))] ^= 1 << int(rng.integers(0, 8))
        if rng.random() < 0.3:
            f = f[: int(rng.integers(1, len(f)))]
        chunks.append(bytes(f))
    chunks.append(P.encode(P.HELLO, 1))
    r = subprocess.run([str(exe)], input=b"".join(chunks), capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-2000:]
    frames = P.FrameParser().feed(r.stdout)
    assert frames[0].type == P.BOOT
    assert any(f.type == P.HELLO | 0x80 and f.seq == 1 for f in frames)
