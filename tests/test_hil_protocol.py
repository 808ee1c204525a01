"""HIL protocol: Python framing, the firmware parser (compiled on the host, fuzzed), and the client
against a real HIL firmware running on the host "board" over a pty."""

from __future__ import annotations

import os
import signal
import struct
import subprocess

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


def _reference(model, samples, workdir):
    g = model.graph
    spec_in = [(g.t(t).shape, np.int8) for t in g.inputs]
    spec_out = [(g.t(t).shape, np.int8) for t in g.outputs]
    return HostModel(model.files, model.prefix, workdir, spec_in, spec_out).run(samples)


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
        expect = _reference(model, samples, tmp_path / "ref")
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
        status, _ = cl.invoke(timeout=0.5)
        assert status == 0 and cl.retried == 1


def test_corrupted_reply_is_retried_and_answered_without_running_again(model, board, tmp_path):
    """The board's INVOKE reply arrives corrupted: the client asks again at once with the same
    frame and the firmware answers from the reply it kept. The model ran once: the cycles are the
    first run's, and the outputs match the reference although invoke overwrote its inputs (fc_relu
    does: a second run computes on garbage)."""
    _, port = board
    sample = random_inputs(model.graph, 1, seed=11)[0]
    expect = _reference(model, [sample], tmp_path / "ref")[0][0]
    with HilClient(port, timeout=0.5, retries=2) as cl:
        info = cl.hello()
        cl.set_input(0, sample[0].tobytes())
        real_read = cl.port.read
        received = bytearray()  # what the board sent during INVOKE, as sent
        flip_at = 6  # the first payload byte of the INVOKE reply (its status)

        def flaky_read(n):
            data = real_read(n)
            start = len(received)
            received.extend(data)
            if start <= flip_at < len(received):
                data = bytearray(data)
                data[flip_at - start] ^= 0x10
                data = bytes(data)
            return data

        cl.port.read = flaky_read
        status, cycles = cl.invoke(timeout=0.5)
        cl.port.read = real_read
        assert status == 0 and cl.retried == 1 and cl.parser.bad == 1
        # the board answered twice, byte for byte the same: the original run's reply, replayed
        frames = P.FrameParser().feed(bytes(received))
        assert [f.type for f in frames] == [P.INVOKE | 0x80] * 2 and frames[0] == frames[1]
        assert struct.unpack("<iII", frames[0].payload)[1] == cycles
        out = np.frombuffer(cl.get_output(0, info.outputs[0].nbytes), np.int8).reshape(expect.shape)
        np.testing.assert_array_equal(out, expect)


def test_firmware_answers_a_repeated_request_from_its_kept_reply(model, tmp_path):
    """At the firmware's end: a repeated frame gets the same reply without executing again; the
    same type and seq with another payload is a new request."""
    exe = build_host_firmware(model, tmp_path)
    g = model.graph
    x = random_inputs(g, 2, seed=4)
    expect = _reference(model, x, tmp_path / "ref")
    n_out = g.t(g.outputs[0]).nbytes
    get = P.encode(P.GET_OUTPUT, 4, struct.pack("<BIH", 0, 0, n_out))
    stream = [P.encode(P.HELLO, 1),
              P.encode(P.SET_INPUT, 2, struct.pack("<BI", 0, 0) + x[0][0].tobytes()),
              P.encode(P.INVOKE, 3), P.encode(P.INVOKE, 3),  # the repeat must not run the model again
              get, get,
              P.encode(P.SET_INPUT, 4, struct.pack("<BI", 0, 0) + x[1][0].tobytes()),  # seq 4 again, new request
              P.encode(P.INVOKE, 5), P.encode(P.GET_OUTPUT, 6, struct.pack("<BIH", 0, 0, n_out))]
    r = subprocess.run([str(exe)], input=b"".join(stream), capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    frames = P.FrameParser().feed(r.stdout)
    assert [(f.type & 0x7F, f.seq) for f in frames] == [
        (P.BOOT, 0), (P.HELLO, 1), (P.SET_INPUT, 2), (P.INVOKE, 3), (P.INVOKE, 3), (P.GET_OUTPUT, 4),
        (P.GET_OUTPUT, 4), (P.SET_INPUT, 4), (P.INVOKE, 5), (P.GET_OUTPUT, 6)]
    assert frames[3] == frames[4] and frames[5] == frames[6]
    assert frames[5].payload == expect[0][0].tobytes()
    assert frames[9].payload == expect[1][0].tobytes()


def test_hung_board_fails_after_its_tries(model, board):
    proc, port = board
    with HilClient(port, timeout=0.3, retries=1) as cl:
        cl.hello()
        real_write = cl.port.write
        sent = []

        def counting_write(data):
            sent.append(P.FrameParser().feed(bytes(data)))
            return real_write(data)

        cl.port.write = counting_write
        proc.send_signal(signal.SIGSTOP)
        try:
            with pytest.raises(HilError, match=r"stopped answering \(command 0x03, 2 tries of 0.3 s\)"):
                cl.invoke(timeout=0.3)
        finally:
            proc.send_signal(signal.SIGCONT)
        # the same INVOKE frame, sent once and retried once
        assert cl.retried == 1 and len(sent) == 2 and sent[0] == sent[1] and sent[0][0].type == P.INVOKE


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
