"""pytest plugin: with TINYML_NO_SKIPS=1 (set by .ci/run), any skipped test fails the run, so a
missing toolchain, emulator, board or ../shared can never turn CI silently green."""

from __future__ import annotations

import os

import pytest


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("TINYML_NO_SKIPS") != "1" or hasattr(session.config, "workerinput"):
        return  # off, or an xdist worker (the controller sees every result)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped:
        reporter.write_line(f"TINYML_NO_SKIPS=1: {len(skipped)} test(s) were skipped; failing the run.", red=True)
        session.exitstatus = 1
