"""pytest plugin for HIL suites (`pytest_plugins = ["tinyml_pio.hil.pytest_plugin"]`).

Options:
  --hil-board NAME       a board to test (repeatable): host, qemu_mps2_an386, ... or a PlatformIO id
  --hil-port URL         serial port for a single real board
  --hil-inventory FILE   a lab's boards (TOML):  [[board]] name = "..."  port = "/dev/ttyACM0"  platform = "ststm32"
  --hil-inputs N         inputs per model (default 10)
  --hil-report FILE      write every result as JSON (a markdown table is printed at the end)

Every test that takes the `hil_board` fixture runs once per board. Each board's tests carry an
xdist group named after the board, so `pytest -n <boards> --dist loadgroup` gives one worker per
board: a rack of boards is tested in parallel, and no board is ever shared by two workers.
"""

from __future__ import annotations

import json
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from .report import markdown


@dataclass(frozen=True)
class BoardSpec:
    name: str
    port: str | None = None
    platform: str | None = None

    def __str__(self) -> str:
        return self.name


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("tinyml-pio HIL")
    g.addoption("--hil-board", action="append", default=[], help="board to test (repeatable)")
    g.addoption("--hil-port", default=None, help="serial port / pyserial URL for a single real board")
    g.addoption("--hil-inventory", default=None, help="TOML file listing a lab's boards")
    g.addoption("--hil-inputs", type=int, default=10, help="inputs per model")
    g.addoption("--hil-report", default=None, help="write all results to this JSON file")


def boards_from_options(config: pytest.Config) -> list[BoardSpec]:
    boards = [BoardSpec(b, config.getoption("--hil-port")) for b in config.getoption("--hil-board")]
    inv = config.getoption("--hil-inventory")
    if inv:
        data = tomllib.loads(Path(inv).read_text())
        for b in data.get("board", []):
            boards.append(BoardSpec(b["name"], b.get("port"), b.get("platform")))
    return boards


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
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
    """Call with a result dict to add it to the session's report."""
    d = _records_dir(request.config)
    d.mkdir(parents=True, exist_ok=True)

    def add(rec: dict) -> None:
        name = f"{rec['board']}__{rec['model']}.json"
        (d / name).write_text(json.dumps(rec))

    return add


@pytest.fixture()
def hil_inputs(request: pytest.FixtureRequest) -> int:
    return request.config.getoption("--hil-inputs")


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return  # an xdist worker: the controller prints
    root = _records_dir(config)
    records = [json.loads(p.read_text()) for p in sorted(root.glob("*.json"))] if root.is_dir() else []
    if not records:
        return
    records.sort(key=lambda r: (r["model"], r["board"]))
    terminalreporter.write_sep("=", "HIL report")
    terminalreporter.write_line(markdown(records))
    out = config.getoption("--hil-report")
    if out:
        Path(out).write_text(json.dumps({"results": records}, indent=2) + "\n")
        terminalreporter.write_line(f"wrote {out}")
