"""example_projects/ondevice_finetune: the model fine-tunes itself on the device.

On the host board (the HIL firmware over a pty, fast) and in QEMU (the example's own firmware,
built with `pio run`, fed over its UART by the example's stream.py): target accuracy rises, and
the device's parameters equal the host build's replay of the same sample sequence."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, missing_toolchain, offline_pio_env
from tinyml_pio.pipeline import compile_model

PROJECT = ROOT / "example_projects" / "ondevice_finetune"
MODEL = PROJECT / "models" / "ft.tflite"
DATA = PROJECT / "data" / "target.npz"


def test_hil_train_on_the_host_board_learns_and_matches_the_host_build(tmp_path):
    import json

    report = tmp_path / "r.json"
    r = subprocess.run([sys.executable, "-m", "tinyml_pio.cli", "hil", "train", "--board", "host", "--model", str(MODEL),
                        "--update", "bias+last", "--data", str(DATA), "--epochs", "2", "--lr", "0.005",
                        "--train-samples", "150", "--test-samples", "120", "--report", str(report),
                        "--plot", str(tmp_path / "c.png"), "--per-layer"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    rec = json.loads(report.read_text())
    assert rec["accuracy_after"] >= rec["accuracy_before"] + 0.15, rec["curve"]
    assert rec["params_identical"] is True
    assert [p["epoch"] for p in rec["curve"]] == [0, 1, 2] and len(rec["losses"]) == 300
    assert rec["memory"]["params_bytes"] == compile_model(MODEL, "m", train="bias+last").train.params_bytes
    assert (tmp_path / "c.png").stat().st_size > 1000
    # the host counts nanoseconds (a time, not cycles) and paints no stack
    assert rec["step"]["unit"] == "ns" and rec["step"]["ms"]["median"] > 0 and rec["memory"]["stack_peak_bytes"] is None
    assert re.search(r"median [\d,]+ ns, [\d.]+ (µs|ms) \(min", r.stdout) and "stack peak not measured (host)" in r.stdout
    rows = {r["type"] + str(r["op"]): r for r in rec["per_layer"]}
    assert rows["FULLY_CONNECTED6"]["backward"] > 0 and rows["CONV_2D0"]["forward"] > 0
    assert rows["SOFTMAX7"]["forward"] is None  # the tail after the logits does not run in training
    assert "backward + update" in r.stdout


def test_bad_data_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "d.npz"
    np.savez(bad, x_train=np.zeros((3, 64), np.float32))
    r = subprocess.run([sys.executable, "-m", "tinyml_pio.cli", "hil", "train", "--board", "host", "--model", str(MODEL),
                        "--update", "last", "--data", str(bad)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "missing array(s) x_test, y_train, y_test" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.skipif(missing_toolchain() is not None, reason=str(missing_toolchain()))
def test_example_fine_tunes_over_its_uart_in_qemu(tmp_path):
    from tinyml_pio.platformio import qemu
    from tinyml_pio.training.simulate import simulate

    env = offline_pio_env(tmp_path / "core")
    ws = tmp_path / "ws"
    r = subprocess.run([sys.executable, "-m", "platformio", "run", "-d", str(PROJECT), "-e", "qemu_mps2_an386"],
                       capture_output=True, text=True, timeout=300, env=dict(env, PLATFORMIO_WORKSPACE_DIR=str(ws)))
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    elf = ws / "build" / "qemu_mps2_an386" / "firmware.elf"
    spec = importlib.util.spec_from_file_location("stream", PROJECT / "stream.py")
    stream = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(stream)
    d = qemu.start_detached(elf, qemu.load_board("qemu_mps2_an386"), tmp_path / "qemu", owned=True)
    try:
        res = stream.run(f"socket://{d.host}:{d.port}", DATA, MODEL, epochs=1, n_train=150, n_test=100, log=lambda s: None)
    finally:
        qemu.stop(tmp_path / "qemu")
    assert res["after"] >= res["before"] + 0.1, res
    # the device's parameters are the host build's after the same sequence
    c = compile_model(MODEL, "ft", train="bias+last")
    with np.load(DATA) as f:
        x = stream.quantize(f["x_train"][:150], MODEL).reshape(150, 8, 8, 1)
        y = f["y_train"][:150]
    order = np.array(res["order"])
    host = simulate(c, x[order], y[order], 0.005)
    assert res["saved"] == f"saved {len(host.params)} crc {zlib.crc32(host.params):08x}"


def test_float_io_model_trains_through_the_same_command(tmp_path):
    """QUANTIZE in, DEQUANTIZE out (as PyTorch exports often are): float data, same command."""
    model = ROOT / "tests" / "models" / "zoo" / "fixedpoint_classifier_float_io.tflite"
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (200, 24)).astype(np.float32)
    y = np.argmax(x @ rng.normal(0, 1, (24, 10)), axis=1)
    data = tmp_path / "d.npz"
    np.savez(data, x_train=x[:150], y_train=y[:150], x_test=x[150:], y_test=y[150:])
    r = subprocess.run([sys.executable, "-m", "tinyml_pio.cli", "hil", "train", "--board", "host", "--model", str(model),
                        "--update", "full", "--data", str(data), "--epochs", "3", "--lr", "0.01"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "parameters identical to the host build's: yes" in r.stdout
    before = float(r.stdout.split("| before | ")[1].split()[0])
    after = float(r.stdout.split("| after epoch 3 | ")[1].split()[0])
    assert after > before + 0.1
