"""PlatformIO integration: the library's extra script, setup-offline, the QEMU dev-platform.

Part (a) runs everywhere: option parsing, the no-op case, generation/stamps/budget with a stand-in
SCons environment, `setup-offline` against a temporary PlatformIO core directory.
Part (b) needs arm-none-eabi-gcc and qemu-system-arm: it builds example_projects/hello_mlp with a
real `pio run` for every emulated board (offline: a fresh PlatformIO core dir prepared by
setup-offline), boots each in QEMU through `pio run -t upload`, reads UART0 through pyserial and
checks the printed outputs equal the host build and the TFLite reference bit for bit.
"""

from __future__ import annotations

import json
import re
import runpy
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import missing_toolchain, offline_pio_env
from conftest import FakeEnv
from tinyml_pio.errors import TinymlError
from tinyml_pio.platformio import extra, qemu
from tinyml_pio.platformio.offline import setup_offline

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "example_projects" / "hello_mlp"
PLATFORM = ROOT / "board_defs" / "platform"
LIBRARY = ROOT / "library"
MODEL = EXAMPLE / "models" / "fc_relu.tflite"
EMULATED = ["qemu_mps2_an385", "qemu_mps2_an386", "qemu_mps2_an500", "qemu_mps2_an505", "qemu_mps3_an547"]
NUM_SAMPLES = 4


@pytest.fixture(autouse=True)
def _fresh_state():
    extra._STATE.clear()
    yield
    extra._STATE.clear()


# ---- (a) option parsing ------------------------------------------------------------------------

def test_parse_single_model_default_and_custom_prefix(tmp_path):
    shutil.copy(MODEL, tmp_path / "m.tflite")
    (s,) = extra.parse_models("m.tflite", None, None, tmp_path)
    assert (s.prefix, s.path, s.option) == ("model", (tmp_path / "m.tflite").resolve(), extra.OPT_MODEL)
    (s,) = extra.parse_models("m.tflite", "", "kws", tmp_path)
    assert s.prefix == "kws"


def test_parse_several_models_any_separator(tmp_path):
    for n in ("a", "b", "c"):
        shutil.copy(MODEL, tmp_path / f"{n}.tflite")
    specs = extra.parse_models("", "kws:a.tflite vww:b.tflite,\n  third:c.tflite", None, tmp_path)
    assert [(s.prefix, s.path.name) for s in specs] == [("kws", "a.tflite"), ("vww", "b.tflite"), ("third", "c.tflite")]
    # PlatformIO may hand multi-line values over as lists
    specs = extra.parse_models(None, ["kws:a.tflite", "vww:b.tflite"], None, tmp_path)
    assert [s.prefix for s in specs] == ["kws", "vww"]
    # absolute paths work; both options together too
    specs = extra.parse_models(str(tmp_path / "a.tflite"), f"vww:{tmp_path / 'b.tflite'}", None, "/")
    assert [s.prefix for s in specs] == ["model", "vww"]


@pytest.mark.parametrize("model, models, prefix, message", [
    ("nope.tflite", None, None, "model file 'nope.tflite' not found"),
    ("a.tflite b.tflite", None, None, "takes one"),
    (None, "kws=a.tflite", None, "is not PREFIX:PATH"),
    (None, "kws:a.tflite kws:b.tflite", None, "two models use the prefix 'kws'"),
    (None, "9lives:a.tflite", None, "not a valid C identifier"),
    ("a.tflite", None, "bad-prefix", "not a valid C identifier"),
    (None, "kws:a.tflite", "kws", "custom_tinyml_prefix = kws is set but custom_tinyml_model is not"),
])
def test_parse_errors_say_what_to_do(tmp_path, model, models, prefix, message):
    for n in ("a", "b"):
        shutil.copy(MODEL, tmp_path / f"{n}.tflite")
    with pytest.raises(TinymlError) as e:
        extra.parse_models(model, models, prefix, tmp_path)
    assert message in str(e.value)
    assert "What to do:" in str(e.value)


def test_parse_bytes():
    assert [extra.parse_bytes(v) for v in ("4096", "4k", "4 KB", "2KiB", "1M")] == [4096, 4096, 4096, 2048, 1 << 20]
    with pytest.raises(TinymlError, match="is not a size"):
        extra.parse_bytes("lots")


# ---- (a) the extra script outside a build ------------------------------------------------------

def _run_script(env, monkeypatch, calls=None):
    if calls is not None:
        monkeypatch.setattr(extra, "main", lambda *a, **k: calls.append((a, k)))

    def fake_import(name):
        if name != "env":
            raise KeyError(name)  # SCons raises UserError for names nobody exported

    runpy.run_path(str(LIBRARY / "extra_script.py"), init_globals={"Import": fake_import, "env": env})


def test_extra_script_without_options_does_nothing(monkeypatch):
    env = FakeEnv()
    calls: list = []
    _run_script(env, monkeypatch, calls)
    assert calls == [] and env.sources == [] and env.cpppath == [] and env.targets == {} and env.exited is None


def test_extra_script_with_options_calls_the_package(monkeypatch):
    env = FakeEnv({extra.OPT_MODELS: "mlp:models/fc_relu.tflite"})
    calls: list = []
    _run_script(env, monkeypatch, calls)
    ((args, kwargs),) = calls
    assert args == (env,) and kwargs["library_dir"] == str(LIBRARY) and kwargs["projenv"] is None


def test_library_manifest():
    manifest = json.loads((LIBRARY / "library.json").read_text())
    assert manifest["name"] == "tinyml-pio"
    assert manifest["build"]["extraScript"] == "extra_script.py"
    assert (LIBRARY / manifest["build"]["extraScript"]).is_file()
    from tinyml_pio import __version__
    assert manifest["version"] == __version__


# ---- (a) generation, stamps, sources and targets with a stand-in environment -------------------

def _project(tmp_path):
    (tmp_path / "models").mkdir()
    shutil.copy(MODEL, tmp_path / "models" / "fc_relu.tflite")
    return tmp_path


def test_configure_generates_once_and_registers_once(tmp_path):
    proj = _project(tmp_path)
    build = tmp_path / "build"
    env, projenv, genv = (FakeEnv({extra.OPT_MODELS: "mlp:models/fc_relu.tflite"}, build, proj) for _ in range(3))
    log: list[str] = []
    gen = extra.configure(env, genv, projenv=projenv, library_dir=str(LIBRARY), log=log.append)
    assert [g.spec.prefix for g in gen] == ["mlp"] and gen[0].fresh and gen[0].arena > 0 and gen[0].weights > 0
    assert (build / "tinyml" / "mlp.h").is_file() and (build / "tinyml" / "mlp.c").is_file()
    assert str(build / "tinyml") in projenv.cpppath and str(build / "tinyml") in env.cpppath
    assert env.sources == [("$BUILD_DIR/tinyml_obj", str(build / "tinyml"), "-<*> +<mlp.c>")]
    assert set(genv.targets) == {extra.TARGET_PLAN, extra.TARGET_VERIFY}
    assert "converted" in log[0]
    # PlatformIO may run the script again in the same build: nothing is added twice
    env2 = FakeEnv(env.options, build, proj)
    extra.configure(env2, genv, library_dir=str(LIBRARY), log=log.append)
    assert env2.sources == [] and str(build / "tinyml") in env2.cpppath and len(log) == 1


def test_stamp_skips_unchanged_models_and_removes_stale_files(tmp_path):
    proj = _project(tmp_path)
    build = tmp_path / "build"
    extra.configure(FakeEnv({extra.OPT_MODELS: "mlp:models/fc_relu.tflite"}, build, proj), FakeEnv(), log=lambda m: None)
    mtime = (build / "tinyml" / "mlp.c").stat().st_mtime_ns
    extra._STATE.clear()  # a new `pio run`
    (g,) = extra.configure(FakeEnv({extra.OPT_MODELS: "mlp:models/fc_relu.tflite"}, build, proj), FakeEnv(),
                           log=lambda m: None)
    assert not g.fresh and (build / "tinyml" / "mlp.c").stat().st_mtime_ns == mtime
    extra._STATE.clear()  # the prefix changes: the old files must not be compiled any more
    (g,) = extra.configure(FakeEnv({extra.OPT_MODEL: "models/fc_relu.tflite"}, build, proj), FakeEnv(),
                           log=lambda m: None)
    assert g.fresh and g.spec.prefix == "model"
    assert sorted(p.name for p in (build / "tinyml").glob("*.[ch]")) == ["model.c", "model.h"]


def test_conversion_error_stops_the_build_with_the_cli_message(tmp_path, capsys):
    (tmp_path / "bad.tflite").write_bytes(b"not a model")
    env = FakeEnv({extra.OPT_MODEL: "bad.tflite"}, tmp_path / "build", tmp_path)
    with pytest.raises(SystemExit):
        extra.main(env, default_env=FakeEnv())
    err = capsys.readouterr().err
    assert env.exited == 1
    assert err.startswith("Error: ") and "TFLite flatbuffer" in err and "What to do:" in err and "Traceback" not in err


def test_arena_budget(tmp_path):
    proj = _project(tmp_path)
    opts = {extra.OPT_MODELS: "mlp:models/fc_relu.tflite", extra.OPT_MARGIN: "1000"}
    # a board PlatformIO knows only by its RAM size: RAM - margin
    env = FakeEnv(opts, tmp_path / "b1", proj, board="tiny_board", ram=1010)
    with pytest.raises(TinymlError) as e:
        extra.configure(env, FakeEnv(), log=lambda m: None)
    text = str(e.value)
    assert "needs" in text and "'tiny_board' has 10 B" in text and "custom_tinyml_ram_margin" in text and "What to do:" in text
    extra._STATE.clear()
    assert extra.configure(FakeEnv(opts, tmp_path / "b2", proj, board="tiny_board", ram=4096), FakeEnv(),
                           log=lambda m: None)
    # a board listed in board_defs/boards uses that budget (SRAM minus its reserve)
    budget = extra.ram_budget(FakeEnv({}, board="qemu_mps2_an386", ram=262144))
    assert budget is not None and budget[0] == 262144 - 32768 and "board_defs/boards/qemu_mps2_an386.json" in budget[1]
    assert extra.ram_budget(FakeEnv({})) is None  # no board (e.g. native): no check


# ---- (a) QEMU helpers --------------------------------------------------------------------------

def test_open_uart_keeps_what_arrives_while_it_opens(monkeypatch):
    """QEMU starts the CPU as the connection is accepted: bytes that arrive while pyserial opens
    the port (it used to flush them in open()) are the firmware's first lines, and must be read."""
    import socket
    import threading

    import serial.urlhandler.protocol_socket as ps

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    sent = threading.Event()

    def serve() -> None:
        conn, _ = srv.accept()
        conn.sendall(b"first line\nsecond line\n")
        sent.set()
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    configure = ps.Serial._reconfigure_port

    def slow_configure(self, *a, **k):  # open() runs this just before its flush: let the bytes land first
        sent.wait(5)
        time.sleep(0.2)
        return configure(self, *a, **k)

    monkeypatch.setattr(ps.Serial, "_reconfigure_port", slow_configure)
    ser = qemu.open_uart(srv.getsockname()[1])
    try:
        data, reason = qemu.read_uart(ser, timeout=5)
    finally:
        ser.close()
        srv.close()
    assert data == b"first line\nsecond line\n" and reason == "closed"


def test_parse_port():
    assert qemu.parse_port("socket://localhost:4386") == ("localhost", 4386)
    assert qemu.parse_port("tcp:127.0.0.1:5000,server=on") == ("127.0.0.1", 5000)
    assert qemu.parse_port("4321") == ("127.0.0.1", 4321)
    assert qemu.parse_port("/dev/ttyACM0") is None and qemu.parse_port("") is None


def test_board_manifests_match_linker_scripts_and_budgets():
    from tinyml_pio.boards import load_board

    for b in EMULATED:
        cfg = json.loads((PLATFORM / "boards" / f"{b}.json").read_text())
        t = qemu.target_from_board_config(cfg, b)
        assert t.machine == b.replace("qemu_", "").replace("_", "-")
        ld = (PLATFORM / "bsp" / "ldscripts" / cfg["build"]["ldscript"]).read_text()
        sizes = dict(re.findall(r"(FLASH|RAM)\s*\([rwx]+\)\s*:\s*ORIGIN\s*=\s*\w+,\s*LENGTH\s*=\s*(\d+)K", ld))
        assert int(sizes["RAM"]) * 1024 == cfg["upload"]["maximum_ram_size"]
        assert int(sizes["FLASH"]) * 1024 == cfg["upload"]["maximum_size"]
        budget = load_board(b)  # board_defs/boards: the same part
        assert budget.sram_bytes == cfg["upload"]["maximum_ram_size"]
        assert budget.flash_bytes == cfg["upload"]["maximum_size"]
        assert cfg["build"]["cpu"] == budget.cpu
        # a core without FPU (an385's Cortex-M3) builds soft-float: the builder passes no -mfpu then
        assert (budget.fpu == "none") == (cfg["build"]["fpu"] == "none" and cfg["build"]["float_abi"] == "soft")


# ---- (a) setup-offline -------------------------------------------------------------------------

def test_setup_offline_in_a_fresh_core_dir(tmp_path, monkeypatch, capsys):
    pytest.importorskip("platformio")
    pytest.importorskip("SCons")
    monkeypatch.setenv("PLATFORMIO_CORE_DIR", str(tmp_path / "core"))
    assert setup_offline(python=sys.executable, check_only=True) == 1
    assert setup_offline(python=sys.executable) == 0
    pkg = tmp_path / "core" / "packages" / "tool-scons"
    meta = json.loads((pkg / ".piopm").read_text())
    assert meta["spec"]["owner"] == "platformio" and (pkg / "scons.py").is_file()
    assert "created" in capsys.readouterr().out
    assert setup_offline(python=sys.executable) == 0  # idempotent
    assert "already set up" in capsys.readouterr().out
    assert setup_offline(python=sys.executable, check_only=True) == 0


# ---- (b) real builds in QEMU -------------------------------------------------------------------

_MISSING = missing_toolchain()
needs_toolchain = pytest.mark.skipif(_MISSING is not None, reason=str(_MISSING))


@pytest.fixture(scope="module")
def pio_project(tmp_path_factory):
    """A copy of hello_mlp (absolute platform/library paths) and a fresh, offline PlatformIO core dir."""
    base = tmp_path_factory.mktemp("pio")
    proj = base / "hello_mlp"
    shutil.copytree(EXAMPLE, proj, ignore=shutil.ignore_patterns(".pio"))
    ini = proj / "platformio.ini"
    ini.write_text(ini.read_text().replace("symlink://../../", f"symlink://{ROOT.as_posix()}/"))
    return proj, offline_pio_env(base / "core")


def _pio(project: Path, env: dict, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "platformio", "run", "-d", str(project), *args], env=env,
                          capture_output=True, text=True, timeout=timeout)


def _inputs() -> list[list[np.ndarray]]:
    """The inputs src/main.c builds: input i of sample s = ((i*37 + s*101 + 11) & 0xFF) - 128."""
    i = np.arange(24)
    return [[(((i * 37 + s * 101 + 11) & 0xFF) - 128).astype(np.int8).reshape(1, 24)] for s in range(NUM_SAMPLES)]


@pytest.fixture(scope="module")
def expected(tmp_path_factory):
    """Outputs of the host build of the generated code, checked against TFLite's reference first."""
    from tinyml_pio.hostbuild import HostModel
    from tinyml_pio.pipeline import compile_model
    from tinyml_pio.reference import Reference

    c = compile_model(MODEL, "mlp")
    g = c.graph
    specs = lambda ts: [(g.t(t).shape, np.dtype(np.int8)) for t in ts]  # noqa: E731
    host = HostModel(c.files, "mlp", tmp_path_factory.mktemp("host"), specs(g.inputs), specs(g.outputs))
    samples = _inputs()
    ours = [o[0].reshape(-1).tolist() for o in host.run(samples)]
    try:
        ref = Reference(MODEL.read_bytes())
        theirs = [ref.run(s)[0].reshape(-1).tolist() for s in samples]
        assert ours == theirs, "host build differs from TFLite"
    except TinymlError:
        pass  # no reference interpreter installed: the host build alone is the reference
    return ours


def _parse(text: str) -> tuple[list[list[int]], list[int]]:
    rows = re.findall(r"^sample (\d+): output ([-\d ]+) \| class (\d+) \| (\d+) cycles", text, re.M)
    assert [int(r[0]) for r in rows] == list(range(NUM_SAMPLES)), text
    outs = [[int(v) for v in r[1].split()] for r in rows]
    assert all(int(r[2]) == int(np.argmax(o)) for r, o in zip(rows, outs))
    return outs, [int(r[3]) for r in rows]


@needs_toolchain
def test_hello_mlp_on_every_emulated_board(pio_project, expected):
    proj, env = pio_project
    args = [a for b in EMULATED for a in ("-e", b)]
    r = _pio(proj, env, *args)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    assert r.stdout.count("tinyml: mlp <- models/fc_relu.tflite") == len(EMULATED)
    # the one weights figure, with its breakdown (weights.py), as inspect/convert print it
    assert re.search(r"tinyml: mlp <- models/fc_relu\.tflite: arena \d+ B, weights \d+ B \(weights [\d,]+ \+ ", r.stdout), r.stdout
    cycles = {}
    for board in EMULATED:
        port = qemu.free_port()
        up = _pio(proj, dict(env, PLATFORMIO_UPLOAD_PORT=f"socket://127.0.0.1:{port}"), "-e", board, "-t", "upload")
        try:
            assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
            assert f"UART0 on socket://127.0.0.1:{port}" in up.stdout
            ser = qemu.open_uart(port)  # pyserial serial_for_url("socket://...")
            try:
                data, reason = qemu.read_uart(ser, until=b"[tinyml-bsp] exit 0\n", timeout=60)
            finally:
                ser.close()
        finally:
            qemu.stop(proj / ".pio" / "qemu" / board)
        text = data.decode()
        assert reason == "until", f"{board}: {reason}\n{text}"
        assert text.startswith(f"hello_mlp on {board}:"), text
        outs, cycles[board] = _parse(text)
        assert outs == expected, f"{board} differs from the host build / TFLite:\n{text}"
        assert all(c > 0 for c in cycles[board]) and "cycle counter: SysTick" in text
    # run to completion (the CI path, semihosting on): same outputs, and -icount makes every
    # cycle count repeat exactly although QEMU was started differently
    r = _pio(proj, env, *args, "-t", "exec", timeout=120)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    sections = re.split(r"^Processing (\S+)", r.stdout, flags=re.M)[1:]
    runs = dict(zip(sections[0::2], sections[1::2]))
    assert sorted(runs) == sorted(EMULATED)
    for board, text in runs.items():
        assert "[tinyml-bsp] exit 0" in text, text
        outs, again = _parse(text)
        assert outs == expected and again == cycles[board], f"{board}: {again} != {cycles[board]}"


@needs_toolchain
def test_build_errors_are_readable(pio_project):
    proj, env = pio_project
    ini = proj / "platformio.ini"
    original = ini.read_text()
    try:
        ini.write_text(original.replace("custom_tinyml_models = mlp:models/fc_relu.tflite",
                                        "custom_tinyml_models = mlp:models/fc_relu.tflite\ncustom_tinyml_ram_margin = 262130"))
        r = _pio(proj, env, "-e", "qemu_mps2_an386")
        out = r.stdout + r.stderr
        assert r.returncode != 0 and "the tensor arena needs" in out and "Traceback" not in out, out[-3000:]
        (proj / "models" / "broken.tflite").write_bytes(b"\0" * 64)
        ini.write_text(original.replace("mlp:models/fc_relu.tflite", "mlp:models/broken.tflite"))
        r = _pio(proj, env, "-e", "qemu_mps2_an386")
        out = r.stdout + r.stderr
        assert r.returncode != 0 and "Error: " in out and "What to do:" in out and "Traceback" not in out, out[-3000:]
    finally:
        ini.write_text(original)


def test_misspelt_option_names_the_closest_known_one():
    from conftest import FakeEnv
    from tinyml_pio.platformio.extra import configure

    env = FakeEnv({"custom_tinyml_modle": "models/x.tflite"})
    with pytest.raises(TinymlError, match="unknown option custom_tinyml_modle") as e:
        configure(env, env)
    assert "did you mean custom_tinyml_model?" in str(e.value)


def test_labels_and_training_options_reach_the_generated_code(tmp_path):
    from conftest import FakeEnv
    from tinyml_pio.platformio.extra import configure

    model = ROOT / "example_projects" / "digits_cnn" / "models" / "digits_cnn.tflite"
    (tmp_path / "labels.txt").write_text("\n".join(str(i) for i in range(10)) + "\n")
    env = FakeEnv({"custom_tinyml_models": f"dg:{model}", "custom_tinyml_labels": "labels.txt",
                   "custom_tinyml_train": "bias+last"}, build_dir=tmp_path / "build", project_dir=tmp_path)
    gen = configure(env, env)
    header = (tmp_path / "build" / "tinyml" / "dg.h").read_text()
    assert "#define DG_NUM_LABELS 10" in header and "float dg_train_step(int32_t label, float lr);" in header
    assert gen[0].arena >= 4224 + 616  # the arena serving both plans plus the trainable parameters
    bad = FakeEnv({"custom_tinyml_models": f"dg:{model}", "custom_tinyml_train": "dg:last zz:bias"},
                  build_dir=tmp_path / "b2", project_dir=tmp_path)
    with pytest.raises(TinymlError, match="custom_tinyml_train entry 'zz:bias' is not PREFIX:VALUE"):
        configure(bad, bad)
