"""`pio test` on the emulated boards, offline: tinyml-pio's QEMU test runner (test_framework = custom)."""

from tinyml_pio.platformio.test_runner import QemuTestRunner


class CustomTestRunner(QemuTestRunner):
    pass
