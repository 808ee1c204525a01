"""What the emulated boards need besides PlatformIO: the Arm toolchain with its C and C++
libraries, and QEMU. `setup-offline` reports what is missing with the Debian package to install
(scripts/setup.sh installs them all)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

_PROBES = (  # (what, Debian package, compiler, file suffix, source)
    ("the C library (newlib: <stdio.h>)", "libnewlib-arm-none-eabi", "arm-none-eabi-gcc", ".c",
     "#include <stdio.h>\nint main(void) { return printf(\"x\"); }\n"),
    ("the C++ library (libstdc++: <cstdio>)", "libstdc++-arm-none-eabi-newlib", "arm-none-eabi-g++", ".cpp",
     "#include <cstdio>\nint main() { return std::printf(\"x\"); }\n"),
)


def toolchain_problems() -> list[tuple[str, str]]:
    """(what is missing, the Debian package that provides it); empty when C and C++ firmware can
    be built and run in QEMU."""
    problems = []
    for tool, pkg in (("arm-none-eabi-gcc", "gcc-arm-none-eabi"), ("arm-none-eabi-g++", "gcc-arm-none-eabi"),
                      ("qemu-system-arm", "qemu-system-arm")):
        if shutil.which(tool) is None:
            problems.append((f"{tool} is not on PATH", pkg))
    with tempfile.TemporaryDirectory(prefix="tinyml-toolchain-") as tmp:
        for what, pkg, cc, suffix, text in _PROBES:
            if shutil.which(cc) is None:
                continue
            src = Path(tmp) / f"probe{suffix}"
            src.write_text(text)
            r = subprocess.run([cc, "-mcpu=cortex-m4", "-mthumb", "-fsyntax-only", str(src)], capture_output=True,
                               text=True, timeout=60)
            if r.returncode != 0:
                problems.append((f"{cc} cannot find {what}", pkg))
    return problems
