"""`tinyml-pio setup-offline`: make PlatformIO build without its package registry.

PlatformIO runs every build through SCons, which it normally downloads from its registry as the
core package `tool-scons` (on the first `pio run`). Where the registry is unreachable (air-gapped
CI, a lab network, this project's sandbox) the first build stops with a download error. The SCons
that PyPI ships (`pip install scons`) is the same engine, so this module writes a small package
folder `<packages_dir>/tool-scons/` that PlatformIO accepts as its core SCons:

- `package.json` with the name and the version PlatformIO asks for (e.g. 4.41101.0 for Core 6.2);
- `scons.py`, the entry point PlatformIO runs with its own Python, which starts pip's SCons;
- `.piopm`, PlatformIO's install record, owned by "platformio" (without that owner PlatformIO
  ignores the folder and tries the registry again).

Idempotent: a folder written by us is refreshed only when something changed, a real registry
package is never touched (unless --force). Nothing else in PlatformIO's directory is modified.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import TinymlError

PACKAGE = "tool-scons"
MARKER = "tinyml-pio setup-offline"

SCONS_PY = '''\
# Written by `tinyml-pio setup-offline`: starts the SCons installed with pip in PlatformIO's Python.
import sys

try:
    import SCons.Script.Main
except ImportError:
    sys.stderr.write(
        "Error: SCons is not installed in PlatformIO's Python (%s).\\n"
        "What to do: %s -m pip install scons   (then run `pio run` again)\\n"
        % (sys.executable, sys.executable)
    )
    sys.exit(1)

if __name__ == "__main__":
    SCons.Script.Main.main()
'''


@dataclass
class PioInfo:
    """Where PlatformIO keeps its packages and which Python runs its builds."""

    python: str
    packages_dir: Path
    core_version: str
    scons_requirement: str  # e.g. "~4.41101.0"


@dataclass
class Status:
    path: Path
    state: str  # "missing", "ours", "ours-stale", "registry", "foreign"
    detail: str = ""


def _log_default(msg: str) -> None:
    print(msg)


_PROBE = r"""
import json, os, sys
from platformio import __version__
from platformio.dependencies import get_core_dependencies
from platformio.project.config import ProjectConfig
out = {"python": sys.executable, "core_version": __version__,
       "packages_dir": ProjectConfig.get_instance().get("platformio", "packages_dir"),
       "scons_requirement": get_core_dependencies().get("tool-scons", "")}
try:
    import SCons
    out["scons"] = getattr(SCons, "__version__", "?")
except ImportError:
    out["scons"] = None
print("TINYML-PROBE" + json.dumps(out))
"""


def _pio_pythons() -> list[str]:
    """Candidate Pythons that can import platformio: this one, then the one behind `pio` on PATH."""
    found = [sys.executable]
    for exe in ("pio", "platformio"):
        path = shutil.which(exe)
        if not path:
            continue
        try:
            first = Path(path).read_bytes()[:200].split(b"\n", 1)[0]
        except OSError:
            continue
        if first.startswith(b"#!"):
            interp = first[2:].decode(errors="replace").strip().split()[0]
            if interp not in found:
                found.append(interp)
    penv = Path.home() / ".platformio" / "penv" / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    if penv.is_file() and str(penv) not in found:
        found.append(str(penv))
    return found


def probe_platformio(python: str | None = None) -> tuple[PioInfo, str | None]:
    """Ask PlatformIO (in its own Python) for its packages dir and SCons requirement.

    Returns the info and the version of SCons importable there (None when it is missing).
    """
    errors = []
    for py in [python] if python else _pio_pythons():
        try:
            r = subprocess.run([py, "-c", _PROBE], capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as e:
            errors.append(f"{py}: {e}")
            continue
        line = next((l for l in r.stdout.splitlines() if l.startswith("TINYML-PROBE")), None)
        if r.returncode != 0 or line is None:
            errors.append(f"{py}: {(r.stderr.strip().splitlines() or ['no output'])[-1]}")
            continue
        d = json.loads(line[len("TINYML-PROBE"):])
        info = PioInfo(python=d["python"], packages_dir=Path(d["packages_dir"]), core_version=d["core_version"],
                       scons_requirement=d["scons_requirement"])
        return info, d["scons"]
    raise TinymlError("PlatformIO was not found: no Python here can import `platformio`.\n  " + "\n  ".join(errors),
                      hint="install PlatformIO Core (pip install platformio), or pass --python with the "
                           "interpreter PlatformIO runs in (the one in `pio system info`).")


def wanted_version(requirement: str) -> str:
    """The version PlatformIO's requirement ("~4.41101.0", "^4.40400.0", "4.40400.0") asks for."""
    m = re.search(r"(\d+)\.(\d+)\.(\d+)", requirement or "")
    if not m:
        raise TinymlError(f"cannot read PlatformIO's tool-scons requirement '{requirement}'.",
                          hint="this PlatformIO version is not supported by setup-offline; report it.")
    return ".".join(m.groups())


def status(info: PioInfo) -> Status:
    path = info.packages_dir / PACKAGE
    manifest = path / "package.json"
    if not path.exists():
        return Status(path, "missing")
    try:
        data = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return Status(path, "foreign", "the folder has no readable package.json")
    if data.get("tinyml_pio") != MARKER:
        return Status(path, "registry", f"version {data.get('version', '?')}")
    want = wanted_version(info.scons_requirement)
    problems = []
    if data.get("version") != want:
        problems.append(f"version {data.get('version')} but PlatformIO asks for {want}")
    if not (path / "scons.py").is_file() or (path / "scons.py").read_text() != SCONS_PY:
        problems.append("scons.py differs")
    try:
        meta = json.loads((path / ".piopm").read_text())
        if (meta.get("spec") or {}).get("owner") != "platformio" or meta.get("version") != want:
            problems.append(".piopm is not owned by platformio")
    except (OSError, ValueError):
        problems.append(".piopm missing")
    return Status(path, "ours-stale" if problems else "ours", "; ".join(problems))


def _write_package(info: PioInfo, scons_version: str) -> None:
    want = wanted_version(info.scons_requirement)
    info.packages_dir.mkdir(parents=True, exist_ok=True)
    dest = info.packages_dir / PACKAGE
    tmp = Path(tempfile.mkdtemp(prefix=".tinyml-tool-scons-", dir=info.packages_dir))
    try:
        os.chmod(tmp, 0o755)  # mkdtemp creates 0700; the package is shared like any other
        (tmp / "package.json").write_text(json.dumps({
            "name": PACKAGE,
            "version": want,
            "description": f"SCons {scons_version} from PlatformIO's Python (pip), wrapped for offline builds",
            "keywords": ["build tools"],
            "homepage": "https://scons.org",
            "license": "MIT",
            "tinyml_pio": MARKER,
        }, indent=2) + "\n")
        (tmp / "scons.py").write_text(SCONS_PY)
        # PlatformIO's own install record (what `pio pkg install` writes), with the owner it expects.
        (tmp / ".piopm").write_text(json.dumps({
            "type": "tool",
            "name": PACKAGE,
            "version": want,
            "spec": {"owner": "platformio", "id": None, "name": PACKAGE, "requirements": None, "uri": None},
        }))
        if dest.is_symlink() or dest.is_file():
            dest.unlink()
        elif dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


_CHECK = r"""
from platformio.package.manager.core import get_core_package_dir
print("TINYML-CHECK" + str(get_core_package_dir("tool-scons", auto_install=False)))
"""


def _platformio_accepts(info: PioInfo) -> str | None:
    """The folder PlatformIO resolves for tool-scons without installing (None if it does not see one)."""
    r = subprocess.run([info.python, "-c", _CHECK], capture_output=True, text=True, timeout=120)
    line = next((l for l in r.stdout.splitlines() if l.startswith("TINYML-CHECK")), None)
    if r.returncode != 0 or line is None:
        return None
    value = line[len("TINYML-CHECK"):]
    return None if value == "None" else value


def setup_offline(python: str | None = None, force: bool = False, check_only: bool = False,
                  log: Callable[[str], None] = _log_default) -> int:
    """Create or refresh tool-scons; returns a process exit code (0 = PlatformIO can build offline)."""
    info, scons_version = probe_platformio(python)
    log(f"PlatformIO Core {info.core_version} (Python: {info.python})")
    log(f"packages directory: {info.packages_dir}")
    if scons_version is None:
        raise TinymlError(f"SCons is not installed in PlatformIO's Python ({info.python}).",
                          hint=f"run `{info.python} -m pip install scons` (from PyPI), then run setup-offline again.")
    log(f"SCons {scons_version} found in PlatformIO's Python")
    st = status(info)
    if st.state == "registry" and not force:
        resolved = _platformio_accepts(info)
        if resolved is not None:
            log(f"{resolved} is PlatformIO's own package ({st.detail}); nothing to do.")
            return 0
        log(f"{st.path} is PlatformIO's own package ({st.detail}) but this PlatformIO needs "
            f"{info.scons_requirement}: `pio run` would try to download it.")
        log("Run `tinyml-pio setup-offline --force` to replace it with SCons from pip.")
        return 1
    if st.state == "ours":
        log(f"{st.path} is already set up (version {wanted_version(info.scons_requirement)}); nothing to do.")
    elif check_only:
        log({"missing": f"{st.path} does not exist: `pio run` would try to download tool-scons.",
             "ours-stale": f"{st.path} needs refreshing: {st.detail}.",
             "foreign": f"{st.path} exists but is not a package ({st.detail}).",
             "registry": f"{st.path} is PlatformIO's own package."}[st.state])
        return 0 if st.state == "registry" else 1
    else:
        if st.state == "foreign" and not force:
            raise TinymlError(f"{st.path} exists but is not a PlatformIO package ({st.detail}).",
                              hint="move it away, or run `tinyml-pio setup-offline --force` to replace it.")
        action = {"missing": "created", "ours-stale": f"refreshed ({st.detail})"}.get(st.state, "replaced")
        _write_package(info, scons_version)
        log(f"{st.path}: {action}")
    resolved = _platformio_accepts(info)
    if resolved is None or Path(resolved).resolve() != st.path.resolve():
        raise TinymlError(f"PlatformIO does not accept {st.path} as its tool-scons (it resolves {resolved}).",
                          hint="check `pio pkg list -g --only-tools`; remove other tool-scons@* folders there and retry.")
    log("PlatformIO uses it: `pio run` now works without the registry "
        "(dev-platforms and libraries must come from local folders: platform = symlink://..., lib_deps = symlink://...).")
    return _report_toolchain(log, check_only)


def _report_toolchain(log: Callable[[str], None], check_only: bool) -> int:
    """The emulated boards' toolchain (C and C++ libraries, QEMU): what is missing and how to get it;
    with --check, missing parts fail the check."""
    from .toolchain import toolchain_problems

    problems = toolchain_problems()
    if not problems:
        log("toolchain: arm-none-eabi-gcc/g++ with newlib and libstdc++, qemu-system-arm: all present")
        return 0
    for what, _ in problems:
        log(f"toolchain: {what}")
    log("What to do: apt-get install " + " ".join(sorted({pkg for _, pkg in problems})) + " (or bash scripts/setup.sh)")
    return 1 if check_only else 0
