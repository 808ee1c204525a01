# Monitor defaults of the tinyml-qemu dev-platform. PlatformIO loads a platform's monitor/filter_*.py
# before it looks for a serial port, passing the monitor's options; for an environment of this
# platform without monitor_port, this sets the port to the socket QEMU serves UART0 on (the same one
# `-t upload` uses: a socket:// upload_port, else the board's qemu.port), so `pio run -t upload -t
# monitor` and `pio device monitor` talk to the emulator instead of the first serial device
# (/dev/ttyS0 at 9600 baud). The class is also a (pass-through) filter named "qemu".

import json
import os
import re

from platformio.device.monitor.filters.base import DeviceMonitorFilterBase  # pylint: disable=import-error

PLATFORM_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def default_port(config, environment, platform_dir=PLATFORM_DIR):
    """socket://127.0.0.1:PORT for an environment of this platform (None for any other)."""
    section = "env:%s" % environment
    if not environment or not config.has_section(section):
        return None
    if config.get(section, "upload_protocol", None) not in (None, "qemu"):
        return None
    board = config.get(section, "board", None)
    manifest = os.path.join(platform_dir, "boards", "%s.json" % board)
    if not board or not os.path.isfile(manifest):
        return None
    upload = str(config.get(section, "upload_port", None) or "")
    m = re.match(r"^(?:socket://|tcp:)?([\w.-]*):(\d+)$", upload.strip())
    if m:
        return "socket://%s:%s" % (m.group(1) or "127.0.0.1", m.group(2))
    with open(manifest) as f:
        port = config.get(section, "board_qemu.port", None) or json.load(f).get("qemu", {}).get("port", 4321)
    return "socket://127.0.0.1:%d" % int(port)


class QemuMonitor(DeviceMonitorFilterBase):
    NAME = "qemu"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if isinstance(self.options, dict) and not self.options.get("port"):
            port = default_port(self.config, self.environment)
            if port:
                self.options["port"] = port

    def rx(self, text):
        return text

    def tx(self, text):
        return text
