#!/usr/bin/env bash
# Set up a fresh Debian machine (Python 3.11) for tinyml-pio: toolchains, QEMU, a venv in .venv
# with the package and its verification/test extras, and offline PlatformIO support.
# Idempotent: re-running only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
need=()
command -v gcc >/dev/null || need+=(gcc)
command -v arm-none-eabi-gcc >/dev/null || need+=(gcc-arm-none-eabi)
[ -e /usr/lib/arm-none-eabi/newlib ] || [ -e /usr/lib/arm-none-eabi/lib ] || need+=(libnewlib-arm-none-eabi)
# the toolchain's C++ library (<cstdio>, libstdc++.a), for .cpp sources and C++ projects
compgen -G "/usr/include/newlib/c++/*/cstdio" >/dev/null || need+=(libstdc++-arm-none-eabi-newlib)
command -v qemu-system-arm >/dev/null || need+=(qemu-system-arm)
command -v "$PY" >/dev/null || need+=(python3)
"$PY" -c "import ensurepip, venv" 2>/dev/null || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "setup: need root or sudo to install: ${need[*]}" >&2; exit 1; }
    SUDO="sudo"
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" libnewlib-arm-none-eabi
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.tinyml-setup-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -e "$stamp" ]; then
  echo "setup: installing tinyml-pio and its extras into .venv"
  .venv/bin/pip install -q --disable-pip-version-check -e '.[dev]'
  touch "$stamp"
fi
.venv/bin/tinyml-pio setup-offline
echo "setup: done (activate with: source .venv/bin/activate)"
