"""`pio test` on the emulated boards without PlatformIO's registry: a custom test runner
(test_framework = custom) that builds the test program, boots it in QEMU (qemu.run: semihosting,
UART0 read until the firmware exits) and turns the lines of library/include/tinyml/test.h into
PlatformIO test cases.

A project's test/test_custom_runner.py only names it:

    from tinyml_pio.platformio.test_runner import QemuTestRunner

    class CustomTestRunner(QemuTestRunner):
        pass
"""

from __future__ import annotations

import re
from pathlib import Path

import click
from platformio.public import TestCase, TestCaseSource, TestRunnerBase, TestStatus

from . import qemu

_CASE = re.compile(r"^TINYML-TEST:(?P<file>.*?):(?P<line>\d+):(?P<name>[A-Za-z_][A-Za-z0-9_]*):"
                   r"(?P<status>PASS|FAIL)(?::(?P<message>.*))?$")
_END = re.compile(r"^TINYML-TEST-END:(\d+):(\d+)$")
DEFAULT_TIMEOUT = 120.0  # seconds of emulation per test program (custom_qemu_timeout overrides)


class QemuTestRunner(TestRunnerBase):
    """Build -> boot in QEMU -> parse; the firmware's exit code must be the number of failures."""

    NAME = "tinyml-qemu"

    def _option(self, name: str, default: str = "") -> str:
        try:
            return str(self.project_config.get(f"env:{self.test_suite.env_name}", name))
        except Exception:  # pylint: disable=broad-except  (an option PlatformIO does not know: unset)
            return default

    def stage_building(self):
        if self.options.without_building:
            return None
        click.secho("Building...", bold=True)
        return self.run_project_targets(["__test"])

    def stage_uploading(self):  # nothing to flash: the ELF boots straight into QEMU
        return None

    def stage_testing(self):
        if self.options.without_testing:
            return None
        click.secho("Testing in QEMU...", bold=True)
        env = self.test_suite.env_name
        board = self._option("board")
        build_dir = Path(self.project_config.get("platformio", "build_dir")) / env
        elf = build_dir / "firmware.elf"
        timeout = float(self._option("custom_qemu_timeout", "") or DEFAULT_TIMEOUT)
        where = f"{env}:{self.test_suite.test_name}"
        try:
            result = qemu.run(elf, qemu.load_board(board), timeout=timeout)
        except qemu.QemuError as e:
            self._error(where, f"cannot run {elf} in QEMU: {e}")
            return None
        for line in result.text.splitlines():
            self.on_testing_line_output(line + "\n")
        self._check_end(where, result)
        return None

    def on_testing_line_output(self, line: str) -> None:
        text = line.rstrip("\r\n")
        if self.options.verbose or not text.startswith("TINYML-TEST"):
            click.echo(text)
        m = _CASE.match(text)
        if m:
            ok = m.group("status") == "PASS"
            self.test_suite.add_case(TestCase(
                name=m.group("name"), status=TestStatus.PASSED if ok else TestStatus.FAILED,
                message=None if ok else (m.group("message") or "failed"),
                source=TestCaseSource(m.group("file"), int(m.group("line"))), stdout=text))
            if not ok:
                click.secho(f"{m.group('file')}:{m.group('line')}: {m.group('name')}: FAIL: {m.group('message')}",
                            fg="red")

    def _check_end(self, where: str, result: qemu.RunResult) -> None:
        """The summary line and the exit code must agree with the cases seen: a crash, a hang or a
        missing TINYML_TEST_END() is an error, not a pass."""
        ends = [m for m in (_END.match(l.strip()) for l in result.text.splitlines()) if m]
        failed = sum(1 for c in self.test_suite.cases if c.status == TestStatus.FAILED)
        if result.timed_out:
            self._error(where, "the test program did not exit in time (custom_qemu_timeout)")
        elif not ends:
            self._error(where, f"the test program exited with {result.exit_code} without printing "
                        "TINYML-TEST-END (return TINYML_TEST_END() from main)")
        elif int(ends[-1].group(2)) != failed or result.exit_code != failed:
            self._error(where, f"the test program reported {ends[-1].group(2)} failure(s) and exited with "
                        f"{result.exit_code}, but {failed} test(s) printed FAIL")
        elif not self.test_suite.cases:
            self._error(where, "the test program ran no test (TINYML_RUN_TEST)")

    def _error(self, where: str, message: str) -> None:
        click.secho(message, fg="red", err=True)
        self.test_suite.add_case(TestCase(name=where, status=TestStatus.ERRORED, exception=RuntimeError(message)))
