"""pytest plugin for HIL suites (`pytest_plugins = ["tinyml_pio.hil.pytest_plugin"]`).

Options:
  --hil-board NAME       a board to test (repeatable): host, qemu_mps2_an386, ... or a PlatformIO id
  --hil-port URL         the serial port of a real board: only with exactly one --hil-board (for
                         several real boards, give each its port in an inventory)
  --hil-inventory FILE   a lab's boards (TOML):  [[board]] name = "..."  port = "/dev/ttyACM0"  platform = "ststm32"
                         (platform: the board's PlatformIO platform; default $TINYML_PIO_PLATFORM)
  --hil-inputs N         inputs per model (default 10, at least 1; with --hil-data: the first N samples)
  --hil-report FILE      write every result as JSON (a markdown table is printed at the end)
  --hil-model PATH       run the suite on this model (repeatable) instead of the suite's own models
                         (tests taking the `hil_model` fixture; a suite names its own in HIL_DEFAULT_MODELS)
  --hil-data FILE        with --hil-model: run each model on this data.npz (x, optional y: see
                         `tinyml-pio verify --data`) instead of random inputs, and score it; one file for
                         every model, or one per --hil-model in the same order
  --hil-metric NAME      --hil-data's metric (accuracy, mse, mae, auc; default: chosen from y)

Every test that takes the `hil_board` fixture runs once per board. Each board's tests carry an
xdist group named after the board, so `pytest -n <boards> --dist loadgroup` gives one worker per
board: a rack of boards is tested in parallel, and no board is ever shared by two workers.

The `hil_run` fixture runs a compiled model on the test's board and adds the result to the report,
a failure included (board, model, error, bit-exact "error"), so the table shows every run. For a
model given with --hil-data it runs the data's samples, and the record's "accuracy" holds the
metric on the board beside the TFLite int8 reference.
"""

from __future__ import annotations

import json
import os
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .report import markdown, record_filename


@dataclass(frozen=True)
class BoardSpec:
    name: str
    port: str | None = None
    platform: str | None = None

    def __str__(self) -> str:
        return self.name

    def target(self, **kw: Any):
        """The board's HIL target (tinyml_pio.hil.targets.make_target with its port and platform)."""
        from .targets import make_target

        return make_target(self.name, self.port, platform=self.platform, **kw)


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("tinyml-pio HIL")
    g.addoption("--hil-board", action="append", default=[], help="board to test (repeatable)")
    g.addoption("--hil-port", default=None, help="serial port / pyserial URL for a single real board")
    g.addoption("--hil-inventory", default=None, help="TOML file listing a lab's boards")
    g.addoption("--hil-inputs", type=int, default=None, help="inputs per model (default 10; --hil-data: first N samples)")
    g.addoption("--hil-report", default=None, help="write all results to this JSON file")
    g.addoption("--hil-model", action="append", default=[], help="run the suite on this .tflite model (repeatable)")
    g.addoption("--hil-data", action="append", default=[],
                help="data.npz (x, optional y) to run and score the --hil-model models on (one, or one per model)")
    g.addoption("--hil-metric", default=None, help="metric of --hil-data: accuracy, mse, mae or auc (default: from y)")


def boards_from_options(config: pytest.Config) -> list[BoardSpec]:
    """The boards to test; a pytest usage error (no traceback) for options that do not fit together."""
    names = config.getoption("--hil-board")
    port = config.getoption("--hil-port")
    if port and len(names) != 1:
        raise pytest.UsageError(
            f"--hil-port {port} is the serial port of one real board, but {len(names)} --hil-board were given. "
            "Give exactly one --hil-board with --hil-port, or list several boards with their ports in --hil-inventory.")
    boards = [BoardSpec(b, port) for b in names]
    inv = config.getoption("--hil-inventory")
    if inv:
        try:
            data = tomllib.loads(Path(inv).read_text())
        except OSError as e:
            raise pytest.UsageError(f"--hil-inventory {inv}: cannot read it ({e.strerror or e}).") from None
        except tomllib.TOMLDecodeError as e:
            raise pytest.UsageError(f"--hil-inventory {inv}: not valid TOML ({e}).") from None
        for i, b in enumerate(data.get("board", [])):
            if not isinstance(b, dict) or not isinstance(b.get("name"), str):
                raise pytest.UsageError(f"--hil-inventory {inv}: [[board]] number {i + 1} has no name = \"...\".")
            boards.append(BoardSpec(b["name"], b.get("port"), b.get("platform")))
    return boards


def data_for_models(config: pytest.Config) -> dict[Path, Path]:
    """--hil-model paths (resolved) -> their --hil-data file; a usage error for what does not fit."""
    models, data = config.getoption("--hil-model"), config.getoption("--hil-data")
    for m in models:
        if not Path(m).is_file():
            raise pytest.UsageError(f"--hil-model {m}: no such file.")
    for d in data:
        if not Path(d).is_file():
            raise pytest.UsageError(f"--hil-data {d}: no such file.")
    if data and not models:
        raise pytest.UsageError("--hil-data scores the models of --hil-model, and none was given.")
    if len(data) > 1 and len(data) != len(models):
        raise pytest.UsageError(f"{len(data)} --hil-data for {len(models)} --hil-model: give one data file for "
                                "every model, or one per model in the same order.")
    metric = config.getoption("--hil-metric")
    from ..accuracy import METRICS

    if metric is not None and metric not in METRICS:
        raise pytest.UsageError(f"--hil-metric {metric}: not one of {', '.join(METRICS)}.")
    if metric and not data:
        raise pytest.UsageError("--hil-metric scores --hil-data, which is not given.")
    return {Path(m).resolve(): Path(data[0] if len(data) == 1 else data[i]).resolve()
            for i, m in enumerate(models)} if data else {}


def pytest_configure(config: pytest.Config) -> None:
    n = config.getoption("--hil-inputs")
    if n is not None and n < 1:
        raise pytest.UsageError(f"--hil-inputs must be at least 1 (got {n}).")
    out = config.getoption("--hil-report")
    if out:
        parent = Path(out).resolve().parent
        if not parent.is_dir() or not os.access(parent, os.W_OK):
            raise pytest.UsageError(f"--hil-report {out}: the directory {parent} does not exist or is not writable.")
    boards_from_options(config)
    data_for_models(config)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "hil_model" in metafunc.fixturenames:
        models = [Path(m) for m in metafunc.config.getoption("--hil-model")] or \
            [Path(m) for m in getattr(metafunc.module, "HIL_DEFAULT_MODELS", [])]
        if not models:
            metafunc.parametrize("hil_model", [pytest.param(None, marks=pytest.mark.skip(
                reason="no model: pass --hil-model PATH (or set HIL_DEFAULT_MODELS in the test module)"))],
                ids=["no-model"])
        else:
            stems = [m.stem for m in models]
            metafunc.parametrize("hil_model", models, ids=[s if stems.count(s) == 1 else f"{s}-{i}"
                                                          for i, s in enumerate(stems)])
    if "hil_board" in metafunc.fixturenames:
        boards = boards_from_options(metafunc.config)
        if not boards:
            metafunc.parametrize("hil_board", [pytest.param(None, marks=pytest.mark.skip(
                reason="no board given: pass --hil-board NAME or --hil-inventory FILE"))], ids=["no-board"])
            return
        metafunc.parametrize("hil_board", [pytest.param(b, marks=pytest.mark.xdist_group(b.name), id=b.name)
                                           for b in boards])


def _records_dir(config: pytest.Config) -> Path:
    """Results from every xdist worker meet in one directory the controller reads at the end."""
    return Path(config.rootpath) / ".hil-results"


def pytest_sessionstart(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):  # the controller (or a run without xdist)
        shutil.rmtree(_records_dir(session.config), ignore_errors=True)


@pytest.fixture()
def hil_record(request: pytest.FixtureRequest):
    """Call with a result dict to add it to the session's report (one file per board and model)."""
    d = _records_dir(request.config)
    d.mkdir(parents=True, exist_ok=True)

    def add(rec: dict) -> None:
        (d / record_filename(rec)).write_text(json.dumps(rec))

    return add


@pytest.fixture()
def hil_inputs(request: pytest.FixtureRequest) -> int:
    return request.config.getoption("--hil-inputs") or 10


@pytest.fixture()
def hil_run(hil_board: BoardSpec, hil_inputs: int, hil_record, request: pytest.FixtureRequest):
    """Call with a Compiled model (and run_on_target's keywords): runs it on the test's board and
    records the result, or the error when the run fails (the error is raised again). A model given
    with --hil-data runs that data's samples (runner.run_on_data)."""
    from .runner import error_record, run_on_data, run_on_target

    data = data_for_models(request.config)

    def run(c, **kw: Any) -> dict:
        kw.setdefault("n_inputs", hil_inputs)
        npz = data.get(Path(c.graph.path).resolve())
        try:
            if npz is not None:
                rec = run_on_data(c, hil_board.target(), npz, metric=request.config.getoption("--hil-metric"),
                                  limit=request.config.getoption("--hil-inputs"), **kw)
            else:
                rec = run_on_target(c, hil_board.target(), **kw)
        except Exception as e:
            hil_record(error_record(c.graph.path, hil_board.name, e))
            raise
        hil_record(rec)
        return rec

    return run


@pytest.fixture()
def hil_train(hil_board: BoardSpec, request: pytest.FixtureRequest):
    """Call with a Compiled model converted with an update scheme, a training.Dataset (or the path
    of a data.npz) and train_on_target's keywords (epochs, lr, seed, ...): fine-tunes it on the
    test's board, checks nothing itself, and adds the record to the report's training section."""
    from .training import load_data, train_on_target

    d = _records_dir(request.config) / "training"
    d.mkdir(parents=True, exist_ok=True)

    def run(c, data, **kw: Any) -> dict:
        if not hasattr(data, "x_train"):
            data = load_data(data, c.graph, c.train.loss, kw.pop("limit_train", None), kw.pop("limit_test", None))
        rec = train_on_target(c, hil_board.target(), data, **kw)
        (d / record_filename(dict(rec, model=f"{rec['model']}-{rec['update']}-{rec['rounding']}"))).write_text(json.dumps(rec))
        return rec

    return run


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """A HIL test that failed on a TinymlError (a board that stopped answering, a board without a
    platform, a build error) shows the error's text, not a traceback through the harness."""
    outcome = yield
    rep = outcome.get_result()
    from ..errors import TinymlError

    if rep.failed and call.excinfo is not None and call.excinfo.errisinstance(TinymlError) \
            and "hil_board" in getattr(item, "fixturenames", ()):
        rep.longrepr = f"{type(call.excinfo.value).__name__}: {call.excinfo.value}"


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return  # an xdist worker: the controller prints
    root = _records_dir(config)
    records = [json.loads(p.read_text()) for p in sorted(root.glob("*.json"))] if root.is_dir() else []
    training = [json.loads(p.read_text()) for p in sorted((root / "training").glob("*.json"))] \
        if (root / "training").is_dir() else []
    if not records and not training:
        return
    records.sort(key=lambda r: (r["model"], r["board"]))
    terminalreporter.write_sep("=", "HIL report")
    if records:
        terminalreporter.write_line(markdown(records))
    if training:
        from .training import markdown as train_markdown

        for rec in training:
            terminalreporter.write_line("\n" + train_markdown(rec))
    out = config.getoption("--hil-report")
    if out:
        Path(out).write_text(json.dumps({"results": records, "training": training}, indent=2) + "\n")
        terminalreporter.write_line(f"wrote {out}")
