#!/usr/bin/env bash
# Set up (if needed) and run the main job: compile an example model and prove it bit-exact.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
MODEL=tests/models/zoo/fc_relu.tflite
.venv/bin/tinyml-pio inspect "$MODEL"
.venv/bin/tinyml-pio verify "$MODEL" --inputs 20
