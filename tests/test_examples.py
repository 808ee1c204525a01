"""The example projects (example_projects/*/) end to end.

For every project and every emulated board in its platformio.ini: build with `pio run` (the
library's extra script converts the model), boot the firmware in QEMU until it exits, parse the raw
int8 outputs it prints for each test sample and compare them bit for bit with TFLite's reference
kernels (tflite-runtime) run on the same samples (parsed from the project's include/test_samples.h).
The builds go to a temporary PlatformIO workspace, so the projects in the repository stay clean.

Cheap checks first (no toolchain needed): each example model verifies bit-exact on the host, and the
expected outputs committed in test_samples.h are what the reference gives for the committed model.
"""

from __future__ import annotations

import configparser
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, missing_toolchain, offline_pio_env
from tinyml_pio.hil.targets import elf_symbol_size

EXAMPLES = ROOT / "example_projects"
PROJECTS = ["digits_cnn", "gesture_imu", "anomaly_ae"]
BUILD_TIMEOUT = 300
RUN_TIMEOUT = 60


# ---- project files ------------------------------------------------------------------------------

def _ini(project: str) -> configparser.ConfigParser:
    cp = configparser.ConfigParser(inline_comment_prefixes=(";",), interpolation=None)
    cp.read(EXAMPLES / project / "platformio.ini")
    return cp


def model_path(project: str) -> Path:
    """The model named by custom_tinyml_models = prefix:path in [env]."""
    spec = _ini(project).get("env", "custom_tinyml_models").split()[0]
    return EXAMPLES / project / spec.partition(":")[2]


def emulated_envs(project: str) -> list[tuple[str, str]]:
    """(env name, board) of the envs for the emulated boards (board qemu_*)."""
    cp = _ini(project)
    out = []
    for section in cp.sections():
        if not section.startswith("env:"):
            continue
        board = cp.get(section, "board", fallback="")
        if board.startswith("qemu_"):
            out.append((section[4:], board))
    return out


def c_array(text: str, name: str) -> list[int]:
    """The integers of `static const ... name[..]... = { ... };` in a generated header."""
    m = re.search(rf"\b{re.escape(name)}\s*(?:\[[^\]]*\])+\s*=\s*\{{(.*?)\}};", text, re.S)
    assert m, f"{name} not found"
    return [int(v) for v in re.findall(r"-?\d+", m.group(1))]


def c_define(text: str, name: str) -> str:
    m = re.search(rf"#define\s+{re.escape(name)}\s+(\S+)", text)
    assert m, f"#define {name} not found"
    return m.group(1)


class Samples:
    """include/test_samples.h of a project, parsed."""

    def __init__(self, project: str):
        text = (EXAMPLES / project / "include" / "test_samples.h").read_text()
        self.n = int(c_define(text, "TEST_NUM_SAMPLES"))
        self.inputs = np.array(c_array(text, "test_inputs"), dtype=np.int8).reshape(self.n, -1)
        self.expected = np.array(c_array(text, "test_expected"), dtype=np.int8).reshape(self.n, -1)
        label_name = "test_kinds" if "test_kinds" in text else "test_labels"
        self.labels = c_array(text, label_name)
        assert len(self.labels) == self.n


def reference(project: str, samples: Samples) -> tuple[np.ndarray, dict]:
    """TFLite's reference kernels on the samples: outputs [n, size] and the I/O quantization."""
    pytest.importorskip("tflite_runtime")
    from tflite_runtime.interpreter import Interpreter, OpResolverType

    it = Interpreter(model_content=model_path(project).read_bytes(),
                     experimental_op_resolver_type=OpResolverType.BUILTIN_REF, num_threads=1)
    it.allocate_tensors()
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    outs = []
    for x in samples.inputs:
        it.set_tensor(i["index"], x.reshape(i["shape"]))
        it.invoke()
        outs.append(it.get_tensor(o["index"]).reshape(-1).copy())
    return np.stack(outs), {"in": i["quantization"], "out": o["quantization"]}


# ---- host checks ------------------------------------------------------------------------------

@pytest.mark.parametrize("project", PROJECTS)
def test_example_model_small_and_bit_exact(project):
    from tinyml_pio.pipeline import compile_model
    from tinyml_pio.verify import verify_model

    path = model_path(project)
    c = compile_model(path, "m")
    weights = int(re.search(r"#define M_WEIGHTS_BYTES (\d+)", c.files["m.h"]).group(1))
    assert weights < 60 * 1024 and c.plan.arena_size < 64 * 1024, (weights, c.plan.arena_size)
    r = verify_model(str(path), n=20, seed=0)
    assert (r.identical, r.total) == (20, 20), r.mismatch


@pytest.mark.parametrize("project", PROJECTS)
def test_example_expected_outputs_match_reference(project):
    """test_samples.h was written from the committed model (train.py and the .tflite are in sync)."""
    s = Samples(project)
    ref, _ = reference(project, s)
    np.testing.assert_array_equal(ref, s.expected)
    if (EXAMPLES / project / "test").exists():  # offline `pio test` needs our QEMU runner, not Unity
        assert (EXAMPLES / project / "test" / "test_custom_runner.py").is_file()
        assert "test_framework = custom" in (EXAMPLES / project / "platformio.ini").read_text()


# ---- build and run in QEMU --------------------------------------------------------------------

_MISSING = missing_toolchain("tflite_runtime")
needs_toolchain = pytest.mark.skipif(_MISSING is not None, reason=str(_MISSING))


@pytest.fixture(scope="module")
def pio_env(tmp_path_factory):
    """Environment for `pio run`: a fresh PlatformIO core dir made offline-capable by setup-offline
    (as tests/test_platformio.py does), so the builds never reach for the registry."""
    return offline_pio_env(tmp_path_factory.mktemp("pio-examples") / "core")


def build(project: str, env_name: str, workspace: Path, env: dict) -> Path:
    """`pio run -e env_name` with the .pio workspace in `workspace` (the project stays clean)."""
    cmd = [sys.executable, "-m", "platformio", "run", "-d", str(EXAMPLES / project), "-e", env_name]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=BUILD_TIMEOUT,
                       env=dict(env, PLATFORMIO_WORKSPACE_DIR=str(workspace)))
    elf = workspace / "build" / env_name / "firmware.elf"
    if r.returncode != 0 or not elf.is_file():
        tail = "\n".join((r.stdout + r.stderr).strip().splitlines()[-30:])
        pytest.fail(f"{' '.join(cmd)} failed (exit {r.returncode}):\n{tail}")
    return elf


SAMPLE_RE = re.compile(r"^sample (\d+): out ((?:-?\d+ ?)+)\|(.*)\| (\d+) ticks \| (.*)$")


def parse_samples(text: str) -> dict[int, tuple[list[int], str, int, str]]:
    """sample index -> (raw int8 outputs, project-specific middle part, ticks, reference check)."""
    out = {}
    for line in text.splitlines():
        m = SAMPLE_RE.match(line.strip())
        if m:
            out[int(m.group(1))] = ([int(v) for v in m.group(2).split()], m.group(3).strip(), int(m.group(4)),
                                    m.group(5).strip())
    return out


def _first_argmax(row: np.ndarray) -> int:
    return int(np.argmax(row))  # the first maximum, as the firmware's strict '>' scan picks


def check_classifier(project: str, parsed: dict, ref: np.ndarray, quant: dict, samples: Samples) -> None:
    names = None
    if project == "gesture_imu":
        text = (EXAMPLES / project / "include" / "test_samples.h").read_text()
        names = re.findall(r'"([^"]+)"', re.search(r"test_class_names\[[^\]]*\]\s*=\s*\{(.*?)\};", text, re.S).group(1))
    scale, zp = quant["out"]
    for s, (_, middle, _, _) in parsed.items():
        best = _first_argmax(ref[s])
        m = re.fullmatch(r"label (\S+) pred (\S+) score (\d+\.\d{3})", middle)
        assert m, middle
        label, pred = samples.labels[s], best
        want_label, want_pred = (names[label], names[pred]) if names else (str(label), str(pred))
        assert (m.group(1), m.group(2)) == (want_label, want_pred), f"sample {s}: {middle}"
        assert abs(float(m.group(3)) - (int(ref[s][best]) - zp) * scale) <= 0.0006, f"sample {s}: {middle}"


def check_anomaly(project: str, parsed: dict, ref: np.ndarray, quant: dict, samples: Samples) -> None:
    text = (EXAMPLES / project / "include" / "anomaly_threshold.h").read_text()
    threshold = float(c_define(text, "ANOMALY_THRESHOLD").rstrip("fF"))
    (s_in, z_in), (s_out, z_out) = quant["in"], quant["out"]
    for s, (_, middle, _, _) in parsed.items():
        m = re.fullmatch(r"kind (\S+) score (\d+\.\d{7}) -> (normal|anomaly)", middle)
        assert m, middle
        x = (samples.inputs[s].astype(np.float64) - z_in) * s_in
        y = (ref[s].astype(np.float64) - z_out) * s_out
        score = float(np.mean((y - x) ** 2))
        # float32 on the board vs float64 here: equal to a few ulps, printed with 7 decimals
        assert abs(float(m.group(2)) - score) <= 2e-7 + 1e-4 * score, f"sample {s}: {middle} (host score {score:.9f})"
        assert m.group(3) == ("anomaly" if score > threshold else "normal"), f"sample {s}: {middle}"


CASES = [(p, env, board) for p in PROJECTS for env, board in emulated_envs(p)]


@needs_toolchain
@pytest.mark.parametrize("project,env_name,board", CASES, ids=[f"{p}-{e}" for p, e, _ in CASES])
def test_example_runs_in_qemu_bit_exact(project, env_name, board, pio_env, tmp_path_factory):
    from tinyml_pio.platformio import qemu

    samples = Samples(project)
    ref, quant = reference(project, samples)
    elf = build(project, env_name, tmp_path_factory.mktemp(f"{project}-{env_name}"), pio_env)
    r = qemu.run(elf, qemu.load_board(board), timeout=RUN_TIMEOUT)
    assert not r.timed_out, f"no exit within {RUN_TIMEOUT} s:\n{r.text}"
    assert r.exit_code == 0, f"exit code {r.exit_code}:\n{r.text}"

    parsed = parse_samples(r.text)
    assert sorted(parsed) == list(range(samples.n)), r.text
    for s, (outputs, _, ticks, check) in parsed.items():
        np.testing.assert_array_equal(np.array(outputs, dtype=np.int8), ref[s], err_msg=f"sample {s}:\n{r.text}")
        assert ticks > 0 and check == "reference ok", f"sample {s}: {check}"
    (check_anomaly if project == "anomaly_ae" else check_classifier)(project, parsed, ref, quant, samples)
    assert f"summary: {samples.n}/{samples.n} outputs equal the TFLite reference" in r.text
    assert "[tinyml-bsp] exit 0" in r.text
    # the scores above came from printf("%.3f"/"%.7f"): newlib-nano's float printf is linked in
    assert elf_symbol_size(elf, "_printf_float") is not None


@pytest.mark.parametrize("project", sorted(q.parent.name for q in EXAMPLES.glob("*/platformio.ini")))
def test_example_enables_float_printf(project):
    """newlib-nano leaves printf's float support out, so printf("%f") would print nothing: every
    example links it in (emulated and Arduino boards), and the examples print floats with printf."""
    ini = configparser.ConfigParser(inline_comment_prefixes=(";",), interpolation=None)
    ini.read(EXAMPLES / project / "platformio.ini")
    for section in ("qemu", "arduino"):
        if ini.has_section(section):
            assert "-Wl,-u,_printf_float" in ini.get(section, "build_flags", fallback="").split(), section
    for src in (EXAMPLES / project / "src").glob("*.c"):
        assert "newlib-nano leaves it out" not in src.read_text(), f"{src}: a hand-written float formatter"
