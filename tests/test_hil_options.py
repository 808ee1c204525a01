"""The HIL front doors refuse what cannot work before doing any work (`tinyml-pio hil run`, the
pytest plugin's options), and a failed run still shows in the report. Everything runs for real on
the host board (the HIL firmware compiled for this machine, over a pty)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ZOO, run_cli
from tinyml_pio.errors import TinymlError
from tinyml_pio.hil.pytest_plugin import BoardSpec
from tinyml_pio.hil.report import markdown, record_filename
from tinyml_pio.hil.runner import error_record
from tinyml_pio.hil.targets import make_target

MODEL = ZOO / "fc_relu.tflite"


def _hil_run(capsys, *args: str) -> tuple[int, str, str]:
    return run_cli(capsys, "hil", "run", *args)


@pytest.mark.parametrize("n", ["0", "-3"])
def test_cli_refuses_a_non_positive_input_count(capsys, n):
    rc, out, err = _hil_run(capsys, "--board", "host", "--model", str(MODEL), "--inputs", n)
    assert rc == 2 and "--inputs" in err and "1 or more" in err and "Traceback" not in err
    assert "bit-exact" not in out  # nothing ran


def test_cli_refuses_a_report_path_it_cannot_write_before_running(capsys, tmp_path):
    rc, out, err = _hil_run(capsys, "--board", "host", "--model", str(MODEL), "--report", str(tmp_path / "no" / "r.json"))
    assert rc == 2 and "does not exist" in err and str(tmp_path / "no") in err
    assert out == ""  # refused before any model was built or run
    rc, out, err = _hil_run(capsys, "--board", "host", "--model", str(MODEL), "--report", str(tmp_path))
    assert rc == 2 and "is a directory" in err and out == ""


@pytest.mark.parametrize("board", ["host", "qemu_mps2_an386"])
def test_a_port_for_a_board_that_takes_none_is_an_error(capsys, board):
    rc, out, err = _hil_run(capsys, "--board", board, "--model", str(MODEL), "--port", "/dev/ttyACM0")
    assert rc == 2 and "needs no serial port" in err and "/dev/ttyACM0" in err and out == ""


def test_the_inventorys_platform_reaches_the_target(monkeypatch):
    monkeypatch.delenv("TINYML_PIO_PLATFORM", raising=False)
    t = BoardSpec("nucleo_f446re", "/dev/ttyACM0", "ststm32").target()  # an inventory's [[board]]
    assert t.platform == "ststm32" and t.port == "/dev/ttyACM0"
    assert "platform = ststm32" in t._platformio_ini(per_layer=False)
    with pytest.raises(TinymlError, match="no PlatformIO platform"):
        make_target("nucleo_f446re", "/dev/ttyACM0")
    with pytest.raises(TinymlError, match="needs no PlatformIO platform"):
        make_target("qemu_mps2_an386", platform="ststm32")


def test_cli_reports_a_failed_model_and_goes_on(capsys, tmp_path):
    bad = tmp_path / "broken.tflite"
    bad.write_bytes(b"not a model")
    report = tmp_path / "r.json"
    rc, out, err = _hil_run(capsys, "--board", "host", "--model", str(bad), "--model", str(MODEL), "--inputs", "2",
                            "--report", str(report))
    assert rc == 1 and "Traceback" not in err and "broken.tflite" in err
    rows = {line.split("|")[1].strip(): line for line in out.splitlines() if line.startswith("| ") and "board" not in line}
    assert rows["broken"].rstrip().endswith("| error |") and rows["fc_relu"].rstrip().endswith("| 2/2 |")
    assert "- broken on host: " in out and "not a TFLite flatbuffer" in out
    results = json.loads(report.read_text())["results"]
    assert [(r["model"], r["bit_exact"]) for r in results] == [("broken", "error"), ("fc_relu", "2/2")]


def test_error_records_and_record_files():
    rec = error_record(MODEL, "nucleo_f446re", TinymlError("the board on /dev/ttyACM0 stopped answering"))
    assert rec["bit_exact"] == "error" and rec["model"] == "fc_relu" and "stopped answering" in rec["error"]
    table = markdown([rec])
    assert "| fc_relu | nucleo_f446re | - |" in table and "stopped answering" in table
    other = dict(rec, model_sha256="f" * 64)  # another model with the same file name
    assert record_filename(rec) != record_filename(other)
    assert record_filename(rec).startswith("nucleo_f446re__fc_relu__")


# ---- the pytest plugin ----------------------------------------------------------------------

SUITE = '''
import pytest
from pathlib import Path
from tinyml_pio.pipeline import compile_model

MODELS = sorted(Path(__file__).parent.glob("*/m.tflite"))

@pytest.mark.parametrize("model", MODELS, ids=lambda p: p.parent.name)
def test_model(model, hil_board, hil_run):
    hil_run(compile_model(model, "model"))
'''


def _pytest(suite: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TINYML_PIO_PLATFORM"}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "tinyml_pio.hil.pytest_plugin", "-q", "-p", "no:cacheprovider",
                           "--rootdir", str(suite), str(suite), *args],
                          capture_output=True, text=True, timeout=600, cwd=suite, env=env)


@pytest.fixture()
def suite(tmp_path) -> Path:
    """Two different models, both named m.tflite (in a/ and b/)."""
    (tmp_path / "test_suite.py").write_text(SUITE)
    for sub, model in (("a", "fc_relu.tflite"), ("b", "fc_relu6.tflite")):
        (tmp_path / sub).mkdir()
        shutil.copy(ZOO / model, tmp_path / sub / "m.tflite")
    return tmp_path


@pytest.mark.parametrize("args, message", [
    (["--hil-board", "host", "--hil-inputs", "0"], "--hil-inputs must be at least 1"),
    (["--hil-board", "host", "--hil-board", "nucleo_f446re", "--hil-port", "/dev/ttyACM0"], "exactly one --hil-board"),
    (["--hil-inventory", "/nonexistent/lab.toml"], "cannot read it"),
    (["--hil-board", "host", "--hil-report", "/nonexistent/r.json"], "does not exist"),
])
def test_plugin_refuses_bad_options(suite, args, message):
    r = _pytest(suite, *args)
    assert r.returncode == 4, r.stdout + r.stderr  # pytest's usage error
    assert message in r.stderr and "Traceback" not in r.stderr + r.stdout


def test_plugin_reports_failures_and_models_with_the_same_name(suite, tmp_path):
    """The report has a row for each model (both are m.tflite) on each board, and one for the
    board that failed (a PlatformIO board with no platform given)."""
    report = tmp_path / "report.json"
    r = _pytest(suite, "--hil-board", "host", "--hil-board", "nucleo_f446re", "--hil-inputs", "2",
                "--hil-report", str(report))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "2 failed, 2 passed" in r.stdout, r.stdout
    results = json.loads(report.read_text())["results"]
    rows = sorted((x["board"], x["model"], x["model_sha256"][:8], x["bit_exact"]) for x in results)
    assert len({row[2] for row in rows}) == 2  # the two models are told apart
    assert [(b, m, e) for b, m, _, e in rows] == [("host", "m", "2/2"), ("host", "m", "2/2"),
                                                  ("nucleo_f446re", "m", "error"), ("nucleo_f446re", "m", "error")]
    assert "no PlatformIO platform" in r.stdout and "| m | nucleo_f446re | - |" in r.stdout
    assert "Traceback" not in r.stdout and "hil/targets.py:" not in r.stdout  # the error's text, no traceback
