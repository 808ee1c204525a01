"""Accuracy on the user's data (`verify --data`, `hil run --data`, `pytest hil_tests --hil-model`):
every figure is computed again here, independently, from TFLite's interpreters and scikit-learn's
metrics on real data (scikit-learn's bundled digits, the anomaly example's frames)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.metrics import confusion_matrix, mean_absolute_error, mean_squared_error, roc_auc_score
from sklearn.model_selection import train_test_split

from conftest import run_cli, ROOT, ZOO, missing_toolchain
from tinyml_pio.errors import EXIT_ERROR, EXIT_USAGE

DIGITS = ZOO / "accuracy_digits_mlp.tflite"  # trained on the other 75 % of the same split (zoo_specs/accuracy.py)
DIGITS_FLOAT = ZOO / "float" / "accuracy_digits_mlp.tflite"
AE = ROOT / "example_projects" / "anomaly_ae"


def _interpreter(model: Path, ref: bool = True):
    from tflite_runtime.interpreter import Interpreter, OpResolverType

    kind = OpResolverType.BUILTIN_REF if ref else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    it = Interpreter(model_path=str(model), experimental_op_resolver_type=kind, num_threads=1)
    it.allocate_tensors()
    return it


def _outputs(model: Path, xs: np.ndarray, ref: bool = True) -> np.ndarray:
    it = _interpreter(model, ref)
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    res = []
    for x in xs:
        it.set_tensor(i["index"], x[None].astype(i["dtype"]))
        it.invoke()
        res.append(it.get_tensor(o["index"])[0].copy())
    return np.stack(res)


def _quant(model: Path, which: str) -> tuple[float, int]:
    it = _interpreter(model)
    d = (it.get_input_details() if which == "input" else it.get_output_details())[0]
    return d["quantization"]


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> tuple[Path, np.ndarray, np.ndarray]:
    """The held-out quarter of scikit-learn's digits, as floats in 0..1, saved as x, y."""
    d = load_digits()
    x = (d.images.astype(np.float32) / 16.0)[..., None]
    _, x_test, _, y_test = train_test_split(x, d.target, test_size=0.25, random_state=0, stratify=d.target)
    path = tmp_path_factory.mktemp("digits") / "digits.npz"
    np.savez(path, x=x_test, y=y_test)
    return path, x_test, y_test


def _digits_reference(x: np.ndarray) -> np.ndarray:
    """TFLite's reference kernels on x quantized here (x >= 0, so half away from zero is floor(v + 0.5))."""
    s, zp = _quant(DIGITS, "input")
    xq = np.clip(np.floor(x / s + 0.5) + zp, -128, 127).astype(np.int8)
    return _outputs(DIGITS, xq)



def test_verify_reports_the_accuracy_tflite_gives_on_digits(capsys, digits, tmp_path):
    path, x, y = digits
    report = tmp_path / "r.json"
    rc, out, err = run_cli(capsys, "verify", str(DIGITS), "--data", str(path), "--float-model", str(DIGITS_FLOAT),
                        "--report", str(report))
    assert rc == 0, err
    pred = np.argmax(_digits_reference(x), axis=1)
    acc = float(np.mean(pred == y))
    assert acc > 0.9  # a trained model on real data, not noise
    assert f"accuracy: {100 * acc:.2f}% ({len(y)} samples)" in out.splitlines()
    assert out.splitlines()[-1] == f"bit-exact: {len(y)}/{len(y)} inputs"
    rep = json.loads(report.read_text())
    a = rep["accuracy"]
    assert a["metric"] == "accuracy" and a["samples"] == len(y) and rep["bit_exact"] == f"{len(y)}/{len(y)}"
    assert a["generated"]["accuracy"] == a["tflite_int8"]["accuracy"] == acc
    assert a["generated"]["confusion"] == confusion_matrix(y, pred, labels=range(10)).tolist()
    float_acc = float(np.mean(np.argmax(_outputs(DIGITS_FLOAT, x, ref=False), axis=1) == y))
    assert a["tflite_float"]["accuracy"] == float_acc
    assert f"TFLite float model" in out and f"{100 * float_acc:.2f}%" in out
    assert a["labels"] == [str(i) for i in range(10)]


def test_int8_samples_are_taken_as_they_are_and_inputs_limits_them(capsys, digits, tmp_path):
    _, x, y = digits
    s, zp = _quant(DIGITS, "input")
    xq = np.clip(np.floor(x / s + 0.5) + zp, -128, 127).astype(np.int8)
    path = tmp_path / "q.npz"
    np.savez(path, x=xq[:, :, :, 0], y=y)  # without the channel axis: N x 8 x 8
    report = tmp_path / "r.json"
    rc, out, err = run_cli(capsys, "verify", str(DIGITS), "--data", str(path), "--inputs", "50", "--report", str(report))
    assert rc == 0, err
    acc = float(np.mean(np.argmax(_outputs(DIGITS, xq[:50]), axis=1) == y[:50]))
    assert f"accuracy: {100 * acc:.2f}% (50 samples)" in out and "bit-exact: 50/50 inputs" in out
    assert json.loads(report.read_text())["accuracy"]["generated"]["accuracy"] == acc


@pytest.mark.parametrize("name", ["fc_uint8_io", "fc_float_io"])
def test_float_samples_reach_uint8_and_float_inputs(capsys, tmp_path, name):
    """uint8 inputs: quantized with the input's parameters; float inputs: passed as they are (the
    model's own QUANTIZE quantizes them)."""
    model = ZOO / f"{name}.tflite"
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, (30, 24)).astype(np.float32)
    y = rng.integers(0, 10, 30)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    report = tmp_path / "r.json"
    rc, out, err = run_cli(capsys, "verify", str(model), "--data", str(tmp_path / "d.npz"), "--report", str(report))
    assert rc == 0, err
    if name == "fc_uint8_io":
        s, zp = _quant(model, "input")
        v = x / s
        xin = np.clip(np.where(v >= 0, np.floor(v + 0.5), np.ceil(v - 0.5)) + zp, 0, 255).astype(np.uint8)
    else:
        xin = x
    acc = float(np.mean(np.argmax(_outputs(model, xin), axis=1) == y))
    assert json.loads(report.read_text())["accuracy"]["generated"]["accuracy"] == acc
    assert f"accuracy: {100 * acc:.2f}% (30 samples)" in out and "bit-exact: 30/30 inputs" in out


def _with_metadata_labels(tmp_path: Path, names: list[str]) -> Path:
    """The digits model with a labels file packed as TFLite's metadata writer packs associated files."""
    m = tmp_path / "with_labels.tflite"
    shutil.copy(DIGITS, m)
    with zipfile.ZipFile(m, "a") as z:
        z.writestr("labels.txt", "\n".join(names) + "\n")
    return m


def test_labels_come_from_the_model_metadata_or_labels(capsys, digits, tmp_path):
    path = digits[0]
    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    model = _with_metadata_labels(tmp_path, names)
    report = tmp_path / "r.json"
    rc, out, err = run_cli(capsys, "verify", str(model), "--data", str(path), "--inputs", "40", "--report", str(report))
    assert rc == 0, err
    assert json.loads(report.read_text())["accuracy"]["labels"] == names
    matrix = out[out.index("confusion matrix"):]
    assert " seven " in matrix and "\nthree " in matrix
    labels = tmp_path / "labels.txt"
    labels.write_text("".join(f"d{i}\n" for i in range(10)))
    rc, out, err = run_cli(capsys, "verify", str(model), "--data", str(path), "--inputs", "40", "--labels", str(labels),
                        "--report", str(report))
    assert rc == 0, err
    assert json.loads(report.read_text())["accuracy"]["labels"] == [f"d{i}" for i in range(10)]
    labels.write_text("a\nb\n")
    rc, out, err = run_cli(capsys, "verify", str(model), "--data", str(path), "--labels", str(labels))
    assert rc == EXIT_ERROR and "2 labels for an output of 10 values" in err and "Traceback" not in err


def _ae_frames() -> tuple[np.ndarray, np.ndarray]:
    """The anomaly example's eight int8 frames (four normal, four anomalies) and their kinds."""
    h = (AE / "include" / "test_samples.h").read_text()
    block = h[h.index("test_inputs["):h.index("};", h.index("test_inputs["))]
    x = np.array([[int(v) for v in row.split(",")] for row in re.findall(r"\{([-\d,\s]+)\}", block)], np.int8)
    kinds = np.array([int(v) for v in re.search(r"test_kinds\[[^]]*\] = \{([^}]*)\}", h).group(1).split(",")])
    return x, kinds


def test_autoencoder_mse_mae_without_y_and_auc_with_0_1_labels(capsys, tmp_path):
    model = AE / "models" / "anomaly_ae.tflite"
    x, kinds = _ae_frames()
    s_in, zp_in = _quant(model, "input")
    s_out, zp_out = _quant(model, "output")
    real_in = s_in * (x.astype(np.float64) - zp_in)
    real_out = s_out * (_outputs(model, x).astype(np.float64) - zp_out)
    report = tmp_path / "r.json"

    np.savez(tmp_path / "frames.npz", x=x)  # no y: the reconstruction against the input
    rc, out, err = run_cli(capsys, "verify", str(model), "--data", str(tmp_path / "frames.npz"), "--report", str(report))
    assert rc == 0, err
    a = json.loads(report.read_text())["accuracy"]
    assert a["metric"] == "mse"
    assert a["generated"]["mse"] == pytest.approx(mean_squared_error(real_in, real_out), rel=1e-12)
    assert a["generated"]["mae"] == pytest.approx(mean_absolute_error(real_in, real_out), rel=1e-12)
    assert "accuracy:" not in out and f"mse: {a['generated']['mse']:.6g} (8 samples)" in out

    y = (kinds != 0).astype(np.int64)
    np.savez(tmp_path / "labelled.npz", x=x, y=y)
    rc, out, err = run_cli(capsys, "verify", str(model), "--data", str(tmp_path / "labelled.npz"), "--report", str(report))
    assert rc == 0, err
    a = json.loads(report.read_text())["accuracy"]
    expect = roc_auc_score(y, np.mean((real_out - real_in) ** 2, axis=1))
    assert a["metric"] == "auc" and a["generated"]["auc"] == pytest.approx(expect, abs=1e-12)
    assert f"auc: {expect:.4f} (8 samples)" in out

    rc, out, err = run_cli(capsys, "verify", str(model), "--data", str(tmp_path / "labelled.npz"), "--metric", "mse")
    assert rc == EXIT_USAGE and "--metric mse" in err and "needs y with 32 target values" in err
    rc, out, err = run_cli(capsys, "verify", str(DIGITS), "--data", str(tmp_path / "labelled.npz"), "--metric", "auc")
    assert rc == EXIT_ERROR and "'x' has shape [8, 32]" in err  # the data of another model


@pytest.mark.parametrize("arrays, message", [
    (dict(images=np.zeros((4, 8, 8, 1), np.float32)), "no array 'x' (it has: images)"),
    (dict(x=np.zeros((4, 8, 9), np.float32)), "'x' has shape [4, 8, 9], but model input 0"),
    (dict(x=np.zeros((4, 8, 8), np.int32)), "'x' holds int32 values"),
    (dict(x=np.zeros((4, 8, 8), np.float32), y=np.zeros(3, np.int64)), "'y' has shape [3] for 4 samples"),
    (dict(x=np.zeros((4, 8, 8), np.float32), y=np.array([0, 1, 2, 10])), "y has class 10, but output 0 has 10 classes"),
    (dict(x=np.zeros((4, 8, 8), np.float32), y=np.array(["a", "b", "c", "d"])), "'y' holds <U1 values"),
    (dict(x=np.zeros((4, 8, 8), np.float32), y=np.zeros((4, 3), np.float32)), "cannot tell how to score output 0"),
])
def test_bad_data_is_a_clear_error(capsys, tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    rc, out, err = run_cli(capsys, "verify", str(DIGITS), "--data", str(path))
    assert rc == EXIT_ERROR and message in err and str(path) in err, err
    assert "Traceback" not in err and "bit-exact" not in out


def test_unusable_files_and_options_are_clear_errors(capsys, digits, tmp_path):
    not_npz = tmp_path / "data.npz"
    not_npz.write_text("x,y\n1,2\n")
    rc, _, err = run_cli(capsys, "verify", str(DIGITS), "--data", str(not_npz))
    assert rc == EXIT_ERROR and "cannot read it as a .npz file" in err and "Traceback" not in err
    rc, _, err = run_cli(capsys, "verify", str(DIGITS), "--metric", "auc")
    assert rc == EXIT_USAGE and "--metric scores the model on --data" in err
    rc, _, err = run_cli(capsys, "verify", str(DIGITS), "--data", str(digits[0]), "--metric", "auc")
    assert rc == EXIT_USAGE and "auc needs y of 0 (normal) / 1 (anomaly)" in err
    rc, _, err = run_cli(capsys, "verify", str(DIGITS), "--data", str(digits[0]), "--metric", "f1")
    assert rc == EXIT_USAGE and "invalid choice: 'f1'" in err
    other = AE / "models" / "anomaly_ae.tflite"  # a float model for another task
    rc, _, err = run_cli(capsys, "verify", str(DIGITS), "--data", str(digits[0]), "--float-model", str(other))
    assert rc == EXIT_ERROR and "do not match the int8 model's" in err and "Traceback" not in err
    rc, out, err = run_cli(capsys, "verify", str(DIGITS), "--data", str(digits[0]), "--report", str(tmp_path / "no" / "r.json"))
    assert rc == EXIT_USAGE and "does not exist or is not writable" in err and out == ""  # refused before running
    rc, out, err = run_cli(capsys, "verify", str(DIGITS), "--inputs", "3", "--report", str(tmp_path / "r.json"))
    assert rc == 0 and json.loads((tmp_path / "r.json").read_text())["bit_exact"] == "3/3"  # no --data: no accuracy
    rc, _, err = run_cli(capsys, "hil", "run", "--board", "host", "--model", str(DIGITS), "--float-model", str(DIGITS_FLOAT))
    assert rc == EXIT_USAGE and "--float-model scores the model on --data" in err


def test_hil_run_scores_the_board_on_the_data(capsys, digits, tmp_path):
    why = missing_toolchain()
    if why:
        pytest.skip(why)
    path, x, y = digits
    report = tmp_path / "r.json"
    rc, out, err = run_cli(capsys, "hil", "run", "--board", "qemu_mps2_an386", "--model", str(DIGITS), "--data", str(path),
                        "--inputs", "24", "--float-model", str(DIGITS_FLOAT), "--report", str(report))
    assert rc == 0, err
    pred = np.argmax(_digits_reference(x[:24]), axis=1)
    acc = float(np.mean(pred == y[:24]))
    rec = json.loads(report.read_text())["results"][0]
    a = rec["accuracy"]
    assert rec["bit_exact"] == "24/24" and a["generated_on"] == "qemu_mps2_an386" and a["samples"] == 24
    assert a["generated"]["accuracy"] == a["tflite_int8"]["accuracy"] == acc
    assert a["generated"]["confusion"] == confusion_matrix(y[:24], pred, labels=range(10)).tolist()
    assert a["tflite_float"]["accuracy"] == float(np.mean(np.argmax(_outputs(DIGITS_FLOAT, x[:24], ref=False), axis=1) == y[:24]))
    assert f"accuracy: {100 * acc:.2f}% (24 samples)" in out and "generated C (qemu_mps2_an386)" in out


# ---- pytest hil_tests --hil-model ---------------------------------------------------------------

def _hil_suite(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """The repository's HIL suite, copied so its results directory stays in tmp_path. `--opt=PATH`:
    pytest reads a bare path argument early, before the plugin's options exist, and would load the
    conftest.py beside it (here tests/conftest.py)."""
    shutil.copytree(ROOT / "hil_tests", tmp_path / "hil_tests")
    env = {k: v for k, v in os.environ.items() if k != "TINYML_PIO_PLATFORM"}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
                           "hil_tests", "-k", "test_model_on_board", *args],
                          capture_output=True, text=True, timeout=900, cwd=tmp_path, env=env)


def test_hil_suite_runs_on_the_users_model_and_data(digits, tmp_path):
    why = missing_toolchain()
    if why:
        pytest.skip(why)
    path, x, y = digits
    report = tmp_path / "report.json"
    r = _hil_suite(tmp_path, f"--hil-model={DIGITS}", f"--hil-data={path}", "--hil-board", "qemu_mps2_an386",
                   "--hil-inputs", "16", "--hil-report", str(report))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 passed" in r.stdout, r.stdout
    acc = float(np.mean(np.argmax(_digits_reference(x[:16]), axis=1) == y[:16]))
    (rec,) = json.loads(report.read_text())["results"]
    assert rec["model"] == "accuracy_digits_mlp" and rec["board"] == "qemu_mps2_an386" and rec["bit_exact"] == "16/16"
    assert rec["accuracy"]["generated"]["accuracy"] == acc
    assert f"accuracy: {100 * acc:.2f}% (16 samples)" in r.stdout


@pytest.mark.parametrize("args, message", [
    (["--hil-data=/nonexistent/d.npz", "--hil-board", "host"], "--hil-data /nonexistent/d.npz: no such file"),
    (["--hil-model=/nonexistent/m.tflite", "--hil-board", "host"], "--hil-model /nonexistent/m.tflite: no such file"),
    (["--hil-data={data}", "--hil-board", "host"], "none was given"),
    (["--hil-model={model}", "--hil-model={model}", "--hil-model={model}", "--hil-data={data}", "--hil-data={data}",
      "--hil-board", "host"], "2 --hil-data for 3 --hil-model"),
    (["--hil-model={model}", "--hil-data={data}", "--hil-metric", "f1", "--hil-board", "host"], "not one of"),
])
def test_hil_suite_refuses_model_and_data_options_that_do_not_fit(digits, tmp_path, args, message):
    args = [a.format(model=DIGITS, data=digits[0]) for a in args]
    r = _hil_suite(tmp_path, *args)
    assert r.returncode == 4, r.stdout + r.stderr  # pytest's usage error
    assert message in r.stderr and "Traceback" not in r.stderr + r.stdout


@pytest.mark.parametrize("model, y, metric, expect", [
    (DIGITS, np.arange(8) % 10, None, "accuracy"),
    (DIGITS, np.eye(10, dtype=np.int64)[np.arange(8) % 10], None, "accuracy"),  # one-hot
    (DIGITS, np.zeros((8, 10), np.float32), None, "mse"),  # a float target per output value
    (DIGITS, np.zeros((8, 10), np.float32), "mae", "mae"),
    (AE / "models" / "anomaly_ae.tflite", None, None, "mse"),  # reconstruction of the input
    (AE / "models" / "anomaly_ae.tflite", np.array([0, 1] * 4), None, "auc"),
    (AE / "models" / "anomaly_ae.tflite", np.array([0, 1] * 4), "mae", "usage error"),
    (AE / "models" / "anomaly_ae.tflite", np.arange(8) % 5, None, "accuracy"),  # more than two classes
    (DIGITS, None, None, "error"),  # a classifier without labels
])
def test_the_metric_follows_y_and_the_output_shape(model, y, metric, expect):
    from tinyml_pio.accuracy import choose_metric
    from tinyml_pio.errors import TinymlError, UsageError
    from tinyml_pio.tflite_import import load_model

    g = load_model(str(model))
    if expect in ("error", "usage error"):
        with pytest.raises(UsageError if expect == "usage error" else TinymlError) as e:
            choose_metric(g, y, "d.npz", metric)
        assert "d.npz" in str(e.value)
    else:
        assert choose_metric(g, y, "d.npz", metric) == expect
