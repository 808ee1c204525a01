"""Generated C: compiles warning-free for Cortex-M4 with arm-none-eabi-gcc, is plain and readable,
and the kernel library never allocates or prints."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from conftest import ROOT, shared_models, zoo_models
from tinyml_pio.hostbuild import kernel_sources, library_dir
from tinyml_pio.pipeline import compile_model

ARM = shutil.which("arm-none-eabi-gcc")
ARM_FLAGS = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-std=c99", "-Wall", "-Wextra",
             "-Werror", "-O2", "-c"]


@pytest.mark.skipif(ARM is None, reason="arm-none-eabi-gcc not installed (apt-get install gcc-arm-none-eabi)")
@pytest.mark.parametrize("path", zoo_models() + shared_models(), ids=lambda p: p.stem)
def test_generated_code_compiles_for_cortex_m4(path, tmp_path):
    c = compile_model(path, "net")
    for name, text in c.files.items():
        (tmp_path / name).write_text(text)
    r = subprocess.run([ARM, *ARM_FLAGS, "-I", str(library_dir() / "include"), "-I", str(tmp_path),
                        str(tmp_path / "net.c"), "-o", str(tmp_path / "net.o")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.skipif(ARM is None, reason="arm-none-eabi-gcc not installed")
@pytest.mark.parametrize("cpu", ["cortex-m0plus", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55"])
def test_kernels_compile_for_every_cortex_m(cpu, tmp_path):
    for src in kernel_sources():
        r = subprocess.run([ARM, f"-mcpu={cpu}", "-mthumb", "-std=c99", "-Wall", "-Wextra", "-Werror", "-O2", "-c",
                            "-I", str(library_dir() / "include"), str(src), "-o", str(tmp_path / (src.stem + ".o"))],
                           capture_output=True, text=True)
        assert r.returncode == 0, f"{src.name} for {cpu}:\n{r.stderr}"


def test_kernels_never_allocate_or_print():
    banned = re.compile(r"\b(malloc|calloc|realloc|free|printf|fprintf|puts|putchar)\s*\(|#include\s*<stdio\.h>")
    for src in kernel_sources() + sorted((library_dir() / "include" / "tinyml").glob("*.h")):
        code = re.sub(r"/\*.*?\*/", "", src.read_text(), flags=re.S)
        assert not banned.search(code), f"{src.name} allocates or prints"


def test_two_models_link_into_one_program(tmp_path):
    """Prefixes keep two models apart: both sets of symbols link together."""
    zoo = ROOT / "tests" / "models" / "zoo"
    a = compile_model(zoo / "fc_relu.tflite", "kws")
    b = compile_model(zoo / "conv_mobilenet_block.tflite", "vww")
    for files in (a.files, b.files):
        for name, text in files.items():
            (tmp_path / name).write_text(text)
    (tmp_path / "main.c").write_text('#include "kws.h"\n#include "vww.h"\n'
                                     "int main(void) { return kws_invoke() + vww_invoke(); }\n")
    srcs = [str(tmp_path / f) for f in ("kws.c", "vww.c", "main.c")] + [str(s) for s in kernel_sources()]
    r = subprocess.run(["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-I", str(library_dir() / "include"),
                        "-I", str(tmp_path), *srcs, "-lm", "-o", str(tmp_path / "both")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert subprocess.run([str(tmp_path / "both")]).returncode == 0


def test_generated_source_records_version_and_sha256():
    c = compile_model(ROOT / "tests" / "models" / "zoo" / "fc_relu.tflite", "m")
    for text in c.files.values():
        assert c.graph.sha256 in text and "tinyml-pio" in text
    # one kernel call per layer, each preceded by a comment naming the TFLite operator
    assert c.files["m.c"].count("/* op ") == len(c.graph.ops)
