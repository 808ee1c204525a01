#!/usr/bin/env bash
# Set up (if needed) and run the main job: the digits CNN example is converted during `pio run`,
# built with arm-none-eabi-gcc for an emulated Cortex-M4 board, booted in QEMU, and prints each
# prediction, its inference ticks, and whether the outputs equal TFLite's bit for bit.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
pio run -d example_projects/digits_cnn -e "${BOARD:-qemu_mps2_an386}" -t exec
