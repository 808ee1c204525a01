"""The custom-operator hook: --custom-op / custom_tinyml_custom_ops name a C function for a custom
(or unsupported) operator; the generator calls it with a constant descriptor and plans its outputs
and scratch; verify runs the user's Python reference in place of the operator (the model cut at it,
TFLite running the rest) or says it skipped. The model is example_projects/custom_op_window's
(a real CUSTOM SignalWindow operator in a hand-built flatbuffer, tests/custom_op_models.py)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import missing_toolchain, offline_pio_env
from custom_op_models import window_model
from fc_models import fc_chain
from tinyml_pio.custom_ops import parse_custom_ops
from tinyml_pio.errors import EXIT_ERROR, EXIT_USAGE, TinymlError, UsageError
from tinyml_pio.hostbuild import build_executable
from tinyml_pio.pipeline import compile_model
from tinyml_pio.platformio import extra
from tinyml_pio.reference import Reference
from tinyml_pio.reference_custom import PiecewiseReference, cut_model, load_custom_refs
from tinyml_pio.verify import verify_model

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "example_projects" / "custom_op_window"
MODEL = EXAMPLE / "custom_model" / "window.tflite"
KERNEL = EXAMPLE / "src" / "signal_window.c"
REF = f"{EXAMPLE / 'window_ref.py'}:signal_window"
SPEC = "SignalWindow=signal_window:128"


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tinyml_pio.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def test_committed_model_is_what_the_writer_makes(tmp_path):
    assert window_model(tmp_path / "w.tflite").read_bytes() == MODEL.read_bytes()


@pytest.mark.parametrize("spec, message", [
    ("SignalWindow", "is not of the form NAME=c_function[:scratch_bytes]"),
    ("SignalWindow=9fn", "'9fn' is not a C identifier"),
    ("SignalWindow=tinyml_window", "reserved for the kernel library"),
    ("SignalWindow=fn:lots", "scratch 'lots' is not a byte count"),
    ("SignalWindow=fn:-4", "is not a byte count"),
    ("A=f, A=g", "operator 'A' is given twice"),
])
def test_spec_errors_say_what_is_wrong(spec, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        parse_custom_ops(spec)


def test_spec_forms():
    got = parse_custom_ops(["SignalWindow=win:256, ARG_MAX=my_argmax", "Other=f\nLast = g : 8"])
    assert {k: (v.function, v.scratch_bytes) for k, v in got.items()} == {
        "SignalWindow": ("win", 256), "ARG_MAX": ("my_argmax", 0), "Other": ("f", 0), "Last": ("g", 8)}


def test_without_a_kernel_the_error_names_the_option():
    r = _cli("convert", str(MODEL), "-o", "/nonexistent/never-written")
    assert r.returncode == EXIT_ERROR, r.stderr
    assert "operator #1 (CUSTOM:SignalWindow)" in r.stderr and "--custom-op SignalWindow=c_function" in r.stderr
    assert "Traceback" not in r.stderr


def test_cli_usage_errors_exit_2(tmp_path):
    r = _cli("convert", str(MODEL), "-o", str(tmp_path / "o"), "--custom-op", "SignalWindow")
    assert r.returncode == EXIT_USAGE and "NAME=c_function" in r.stderr and not (tmp_path / "o").exists()
    r = _cli("verify", str(MODEL), "--custom-op", SPEC, "--custom-ref", "nope.py:f", "--custom-src", str(KERNEL))
    assert r.returncode == EXIT_USAGE and "nope.py does not exist" in r.stderr


def test_a_spec_for_no_operator_is_an_error():
    with pytest.raises(TinymlError, match=r"(?s)names Window, which no operator.*SignalWindow"):
        compile_model(MODEL, "win", custom_ops=["Window=fn"])


def test_descriptor_and_planned_scratch():
    c = compile_model(MODEL, "win", custom_ops=[SPEC])
    src = c.files["win.c"]
    assert "int signal_window(const tinyml_custom_op_t *op);" in src
    assert '.name = "SignalWindow", .op_index = 1' in src
    assert ".options = (const uint8_t[]){14, 0, 0, 0}, .options_size = 4" in src
    assert "int status = signal_window(win_l1_op);" in src and "if (status != 0) return status;" in src
    assert c.plan.scratch_offsets[1] is not None
    off = c.plan.scratch_offsets[1]
    assert f".scratch = (win_arena + {off}), .scratch_size = 128" in src
    # the scratch overlaps neither the operator's input nor its output while it runs
    for t in (*c.graph.ops[1].inputs, *c.graph.ops[1].outputs):
        if not c.graph.t(t).is_const:
            lo, n = c.plan.tensor_offsets[t], c.graph.t(t).nbytes
            assert off + 128 <= lo or lo + n <= off
    without = compile_model(MODEL, "win", custom_ops=["SignalWindow=signal_window"])
    assert c.plan.arena_size >= without.plan.arena_size + 64  # the 128 B are planned (reusing dead space)


def test_a_builtin_can_be_replaced(tmp_path):
    path = fc_chain(tmp_path / "fc.tflite", 1, [8, 4])
    c = compile_model(path, "m", custom_ops=["FULLY_CONNECTED=my_fc:16"])
    assert "my_fc(m_l0_op)" in c.files["m.c"] and "tinyml_fully_connected" not in c.files["m.c"]


def test_cut_model_runs_in_tflite(tmp_path):
    """A cut (operators 1..2 of a 3-layer chain, fed its middle tensor) computes what the whole
    model computes there."""
    path = fc_chain(tmp_path / "fc.tflite", 2, [6, 5, 7, 3], seed=3)
    buf = path.read_bytes()
    whole = Reference(buf, num_outputs=1, num_inputs=1)
    x = np.random.default_rng(0).integers(-128, 128, (2, 6)).astype(np.int8)
    out = whole.run([x])[0]
    g = compile_model(path, "m").graph
    mid = g.ops[1].inputs[0]
    part = Reference(cut_model(buf, [1, 2], [mid], [g.outputs[0]]), num_outputs=1, num_inputs=1)
    assert np.array_equal(part.run([whole.tensor(mid)])[0], out)


def test_piecewise_reference_follows_the_python_function():
    c = compile_model(MODEL, "win", custom_ops=[SPEC])
    ref = PiecewiseReference(c.graph, MODEL.read_bytes(), load_custom_refs([REF]), {1})
    assert ref.kind == "tflite-runtime+custom-ref (SignalWindow)"
    x = np.arange(-64, 64, 8, dtype=np.int8).reshape(1, 16)
    ref.run([x])
    h, w = ref.tensor(c.graph.ops[1].inputs[0]), c.graph.t(c.graph.ops[1].inputs[1]).data
    v = ((h.astype(np.int64) - 5) * w + (1 << 13)) >> 14
    assert np.array_equal(ref.tensor(c.graph.ops[1].outputs[0]), np.clip(v + 5, -128, 127).astype(np.int8))


def test_verify_is_bit_exact_with_the_python_reference():
    r = _cli("verify", str(MODEL), "--custom-op", SPEC, "--custom-src", str(KERNEL), "--custom-ref", REF,
             "--inputs", "30", "--sanitize")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "reference: tflite-runtime+custom-ref (SignalWindow)" in r.stdout
    assert r.stdout.strip().splitlines()[-1] == "bit-exact: 30/30 inputs"


def test_verify_names_the_custom_operator_when_it_differs(tmp_path):
    bad = tmp_path / "bad_ref.py"
    bad.write_text((EXAMPLE / "window_ref.py").read_text().replace("+ (1 << (shift - 1))", ""))
    r = _cli("verify", str(MODEL), "--custom-op", SPEC, "--custom-src", str(KERNEL), "--custom-ref",
             f"{bad}:signal_window", "--inputs", "10")
    assert r.returncode == EXIT_ERROR, r.stdout + r.stderr
    assert "first differing operator: #1 CUSTOM:SignalWindow (tensor 5 'windowed')" in r.stdout


def test_verify_without_a_reference_says_it_skipped():
    r = verify_model(str(MODEL), custom_ops=[SPEC])
    assert r.total == 0 and "operator #1 (CUSTOM:SignalWindow) -> signal_window" in r.skipped
    cli = _cli("verify", str(MODEL), "--custom-op", SPEC)
    assert cli.returncode == 0 and cli.stdout.startswith("bit-exact: skipped (not verified: user kernels")


def test_reference_errors_are_reported(tmp_path):
    wrong = tmp_path / "wrong.py"
    wrong.write_text("import numpy as np\ndef f(inputs, options, op):\n    return [np.zeros(3, np.int16)]\n")
    with pytest.raises(TinymlError, match=r"returned int16\[3\] for output 'windowed' \(int8\[1, 32\]\)"):
        verify_model(str(MODEL), custom_ops=[SPEC], custom_refs=[f"{wrong}:f"], custom_sources=[str(KERNEL)])
    with pytest.raises(UsageError, match="has no function g"):
        load_custom_refs([f"{wrong}:g"])


def test_verify_needs_the_kernel_source_and_blames_it_when_it_does_not_build(tmp_path):
    r = _cli("verify", str(MODEL), "--custom-op", SPEC, "--custom-ref", REF)
    assert r.returncode == EXIT_USAGE and "needs the kernels' C files too: the host build links signal_window" in r.stderr
    bad = tmp_path / "k.c"
    bad.write_text('#include "tinyml/custom_op.h"\nint signal_window(const tinyml_custom_op_t *op) { return 0; }\n')
    r = _cli("verify", str(MODEL), "--custom-op", SPEC, "--custom-ref", REF, "--custom-src", str(bad))
    assert r.returncode == EXIT_ERROR and "unused parameter" in r.stderr and "fix them" in r.stderr
    assert "Traceback" not in r.stderr


def test_a_kernel_status_stops_invoke(tmp_path):
    c = compile_model(MODEL, "win", custom_ops=[SPEC])
    main = ('#include <stdio.h>\n#include "win.h"\n'
            "int main(void) { int rc = win_invoke(); printf(\"%d\\n\", rc); return 0; }\n")
    kernel = '#include "tinyml/custom_op.h"\nint signal_window(const tinyml_custom_op_t *op) { return 7 + op->op_index; }\n'
    exe = build_executable({**c.files, "main.c": main, "k.c": kernel}, tmp_path)
    assert subprocess.run([str(exe)], capture_output=True, text=True).stdout.strip() == "8"


def test_platformio_option_is_known_and_checked(tmp_path):
    assert extra.OPT_CUSTOM_OPS in extra.KNOWN_OPTIONS
    shutil.copy(MODEL, tmp_path / "w.tflite")
    specs = extra.parse_models("w.tflite", None, "win", tmp_path)
    per = extra.custom_ops_per_model(specs, parse_custom_ops(SPEC))
    assert per["win"]["SignalWindow"].function == "signal_window"
    with pytest.raises(TinymlError, match="custom_tinyml_custom_ops names Nope"):
        extra.custom_ops_per_model(specs, parse_custom_ops("Nope=f"))
    with pytest.raises(UsageError, match="custom_tinyml_custom_ops 'SignalWindow=' is not of the form"):
        parse_custom_ops("SignalWindow=", where=extra.OPT_CUSTOM_OPS)


# ---- on an emulated board: a real `pio run -t exec` of the example (offline) -------------------

_MISSING = missing_toolchain()


def _inputs() -> list[list[np.ndarray]]:
    """The inputs src/main.c builds: input i of sample s = ((i*53 + s*29 + 7) & 0xFF) - 128."""
    i = np.arange(16)
    return [[(((i * 53 + s * 29 + 7) & 0xFF) - 128).astype(np.int8).reshape(1, 16)] for s in range(4)]


@pytest.mark.skipif(_MISSING is not None, reason=str(_MISSING))
def test_example_runs_in_qemu_and_matches_the_reference(tmp_path):
    proj = tmp_path / "custom_op_window"
    shutil.copytree(EXAMPLE, proj, ignore=shutil.ignore_patterns(".pio"))
    ini = proj / "platformio.ini"
    ini.write_text(ini.read_text().replace("symlink://../../", f"symlink://{ROOT.as_posix()}/"))
    env = offline_pio_env(tmp_path / "core")
    r = subprocess.run([sys.executable, "-m", "platformio", "run", "-d", str(proj), "-e", "qemu_mps2_an386",
                        "-t", "exec"], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "custom_tinyml_custom_ops" not in r.stderr
    got = [[int(v) for v in line.split(":", 1)[1].split()[1:]]
           for line in r.stdout.splitlines() if line.startswith("sample ")]
    c = compile_model(MODEL, "win", custom_ops=[SPEC])
    ref = PiecewiseReference(c.graph, MODEL.read_bytes(), load_custom_refs([REF]), {1})
    want = [ref.run(x)[0].reshape(-1).tolist() for x in _inputs()]
    assert got == want and len(set(map(tuple, want))) == 4
    r = subprocess.run([sys.executable, "-m", "platformio", "run", "-d", str(proj), "-e", "qemu_mps2_an386",
                        "-t", "tinyml-verify"], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "win: bit-exact: skipped (not verified: user kernels" in r.stdout, r.stdout + r.stderr
