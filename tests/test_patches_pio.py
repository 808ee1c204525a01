"""`custom_tinyml_patches = fit` through a real, offline `pio run`: the zoo's MobileNetV2-like net
(144 px, residual blocks) needs about 500 kB layer by layer, more than qemu_mps2_an386's 256 KB of
RAM; the build picks the patch stage with the least MAC overhead that fits the board's arena budget,
and the firmware, run to completion in QEMU, prints outputs identical to TFLite's."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, ZOO, missing_toolchain, offline_pio_env
from tinyml_pio.boards import load_board
from tinyml_pio.pipeline import compile_model
from tinyml_pio.reference import Reference

MODEL = ZOO / "patch_mobilenet_v2_144.tflite"
BOARD = "qemu_mps2_an386"
SAMPLES = 2
_MISSING = missing_toolchain("tflite_runtime")

INI = f"""[env:{BOARD}]
platform = symlink://{ROOT.as_posix()}/board_defs/platform
board = {BOARD}
upload_protocol = qemu
lib_deps = symlink://{ROOT.as_posix()}/library
custom_tinyml_models = net:models/net.tflite
custom_tinyml_patches = fit
"""

MAIN = r"""#include <stdint.h>
#include "net.h"
#include "tinyml_board.h"

int main(void) {
    int s, i;
    tinyml_board_printf("arena %d B\n", NET_ARENA_SIZE);
    for (s = 0; s < NUM_SAMPLES; ++s) {
        int8_t *in = (int8_t *)net_input(0);
        const int8_t *out;
        for (i = 0; i < NET_INPUT0_SIZE; ++i) in[i] = (int8_t)(((i * 37 + s * 101 + 11) & 0xFF) - 128);
        if (net_invoke() != 0) return 1;
        out = (const int8_t *)net_output(0);
        tinyml_board_printf("sample %d:", s);
        for (i = 0; i < NET_OUTPUT0_SIZE; ++i) tinyml_board_printf(" %d", (int)out[i]);
        tinyml_board_printf("\n");
    }
    return 0;
}
""".replace("NUM_SAMPLES", str(SAMPLES))


@pytest.mark.skipif(_MISSING is not None, reason=str(_MISSING))
def test_fit_builds_a_model_too_big_for_the_board_and_runs_it_bit_exact(tmp_path):
    budget = load_board(BOARD).arena_budget
    assert compile_model(MODEL, "net").plan.arena_size > load_board(BOARD).sram_bytes > budget
    proj = tmp_path / "proj"
    (proj / "models").mkdir(parents=True)
    (proj / "src").mkdir()
    (proj / "models" / "net.tflite").write_bytes(MODEL.read_bytes())
    (proj / "platformio.ini").write_text(INI)
    (proj / "src" / "main.c").write_text(MAIN)
    env = offline_pio_env(tmp_path / "core")
    r = subprocess.run([sys.executable, "-m", "platformio", "run", "-d", str(proj), "-e", BOARD, "-t", "exec"],
                       env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    m = re.search(r"tinyml: net: patches (\d+x\d+@op\d+(?:\+cache)?), arena (\d+) B layer by layer", r.stdout)
    assert m, r.stdout[-4000:]
    arena = int(re.search(r"^arena (\d+) B", r.stdout, re.M).group(1))
    assert arena <= budget < int(m.group(2))
    got = [[int(v) for v in row.split()] for row in re.findall(r"^sample \d+:([-\d ]+)$", r.stdout, re.M)]
    shape = tuple(compile_model(MODEL, "net", patches=m.group(1)).graph.t(0).shape)
    ref = Reference(MODEL.read_bytes())
    n = int(np.prod(shape))
    i = np.arange(n)
    want = [ref.run([(((i * 37 + s * 101 + 11) & 0xFF) - 128).astype(np.int8).reshape(shape)])[0].reshape(-1).tolist()
            for s in range(SAMPLES)]
    assert got == want, r.stdout[-3000:]
