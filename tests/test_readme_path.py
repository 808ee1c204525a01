"""The README's "Your first project, step by step", followed literally: its platformio.ini, main.c
and shell steps are read from README.md, so the documented user path cannot drift from one that
works (a new project, `pio run -t exec`, `-t tinyml-verify`, `verify --data`, `hil run --data`,
the HIL suite on the user's model), offline, on the emulated Cortex-M4."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, missing_toolchain, offline_pio_env

MODEL = ROOT / "example_projects" / "digits_cnn" / "models" / "digits_cnn.tflite"
BIN = Path(sys.executable).parent


def readme_block(name: str) -> str:
    text = (ROOT / "README.md").read_text()
    m = re.search(rf"<!-- first-project:{re.escape(name)} -->\n```\w*\n(.*?)```", text, re.S)
    assert m, f"README.md has no first-project block {name}"
    return m.group(1).replace("/path/to/tinyml-pio", ROOT.as_posix())


def _command(line: str) -> list[str]:
    """One README step as argv: our console scripts from this venv, pytest through this Python."""
    argv = shlex.split(line, comments=True)
    if argv[0] == "pytest":
        return [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *argv[1:]]
    return [str(BIN / argv[0]), *argv[1:]]


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    why = missing_toolchain()
    if why:
        pytest.skip(why)
    d = tmp_path_factory.mktemp("first-project")
    (d / "models").mkdir()
    shutil.copy(MODEL, d / "models" / "digits.tflite")
    (d / "src").mkdir()
    (d / "platformio.ini").write_text(readme_block("platformio.ini"))
    (d / "src" / "main.c").write_text(readme_block("src/main.c"))
    from sklearn.datasets import load_digits

    digits = load_digits()  # the user's own data: 60 labelled 8x8 images as floats in 0..1
    np.savez(d / "data.npz", x=(digits.images[:60] / 16.0).astype(np.float32)[..., None], y=digits.target[:60])
    return d, offline_pio_env(tmp_path_factory.mktemp("pio-core"))


def test_the_readme_first_project_path_works_as_written(project):
    d, env = project
    env = dict(env, PATH=f"{BIN}:{env.get('PATH', '')}")
    steps = [line for line in readme_block("steps").splitlines() if line.strip()]
    assert [shlex.split(s, comments=True)[:2] for s in steps][:3] == [["tinyml-pio", "setup-offline"], ["pio", "run"], ["pio", "run"]]
    out = {}
    for line in steps:
        r = subprocess.run(_command(line), cwd=d, env=env, capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, f"{line}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
        out[line] = r.stdout + r.stderr
    run, verify, data, hil, suite = (out[s] for s in steps[1:])
    m = re.search(r"class (\d), score (\d\.\d{3}), arena (\d+) B", run)
    assert m and m.group(1) == "1" and 0.0 < float(m.group(2)) <= 1.0, run[-2000:]  # %f printed (float printf on)
    assert "20/20" in verify, verify[-2000:]
    assert re.search(r"accuracy: \d+(\.\d+)?% \(60 samples\)", data) and "bit-exact: 60/60 inputs" in data, data[-2000:]
    assert "accuracy" in hil and "60/60" in hil, hil[-2000:]
    assert re.search(r"\d+ passed", suite) and "failed" not in suite, suite[-2000:]
