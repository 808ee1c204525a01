#!/usr/bin/env bash
# Set up (if needed) and run the tests: the unit/end-to-end suite, then the HIL suite on two
# emulated boards in parallel (one pytest-xdist worker per board). Extra arguments go to the first run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -m pytest -q -n "${TINYML_TEST_WORKERS:-2}" tests "$@"
.venv/bin/python -m pytest -q hil_tests --hil-board qemu_mps2_an386 --hil-board qemu_mps2_an500 \
    -n 2 --dist loadgroup --hil-inputs 10 --hil-report hil-report.json
