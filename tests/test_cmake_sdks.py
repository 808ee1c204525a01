"""Zephyr and ESP-IDF, whose SDKs cannot be installed here: their manifests are checked for what
their tools require, and the module/component CMake is configured, built and run on the host
with stand-ins for the SDK functions it calls (tests/cmake_stubs/)."""

from __future__ import annotations

import shutil
import subprocess

import yaml

from conftest import ROOT, ZOO
from test_cmake import _tool, build, cmake_dir, configure, ok
from tinyml_pio import __version__

STUBS = ROOT / "tests" / "cmake_stubs"


def test_zephyr_module_manifest():
    m = yaml.safe_load((ROOT / "zephyr" / "module.yml").read_text())
    assert set(m) <= {"name", "build", "samples", "tests", "boards", "blobs"} and m["name"] == "tinyml-pio"
    assert set(m["build"]) <= {"cmake", "kconfig", "cmake-ext", "kconfig-ext", "depends", "settings"}
    assert (ROOT / m["build"]["cmake"] / "CMakeLists.txt").is_file() and (ROOT / m["build"]["kconfig"]).is_file()
    for sample in m["samples"]:
        assert (ROOT / sample / "CMakeLists.txt").is_file() and (ROOT / sample / "prj.conf").is_file()
        yaml.safe_load((ROOT / sample / "sample.yaml").read_text())["tests"]
    kconfig = (ROOT / "zephyr" / "Kconfig").read_text()
    for line in (ROOT / "zephyr" / "samples" / "digits" / "prj.conf").read_text().split():
        if line.startswith("CONFIG_TINYML"):  # ours are defined in the module's Kconfig
            assert f"config {line.split('=')[0].removeprefix('CONFIG_')}\n" in kconfig, line


def test_zephyr_sample_builds_and_runs_with_a_stub_zephyr(tmp_path):
    sample = ROOT / "zephyr" / "samples" / "digits"
    out = tmp_path / "build"
    ok(configure(sample, out, f"-DZephyr_DIR={STUBS / 'zephyr'}", f"-DTINYML_PIO_MODULE={ROOT}",
                 "-DCMAKE_BUILD_TYPE=RelWithDebInfo"))
    r = ok(build(out))
    assert "tinyml: converting" in r.stdout
    run = subprocess.run([str(out / "app")], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "digits_cnn on zephyr_stub" in run.stdout and "counter: k_cycle_get_32" in run.stdout
    assert "summary: 12/12 outputs equal the TFLite reference" in run.stdout, run.stdout


def test_esp_idf_component_manifest():
    m = yaml.safe_load((ROOT / "esp-idf" / "components" / "tinyml_pio" / "idf_component.yml").read_text())
    assert m["version"] == __version__  # the component is this release
    assert set(m) <= {"version", "description", "url", "license", "dependencies", "files", "tags", "targets",
                      "maintainers", "repository", "documentation", "issues", "discussion"}
    assert isinstance(m["dependencies"], dict) and "idf" in m["dependencies"]


def test_esp_idf_component_builds_with_a_stub_idf(tmp_path):
    component = ROOT / "esp-idf" / "components" / "tinyml_pio"
    early = subprocess.run([_tool("cmake"), f"-DTINYML_PIO_COMPONENT={component}", "-P",
                            str(STUBS / "esp-idf" / "early_expansion.cmake")], capture_output=True, text=True)
    assert early.returncode == 0 and "idf_component_register(" in early.stdout, early.stdout + early.stderr
    project = tmp_path / "project"
    shutil.copytree(STUBS / "esp-idf", project)
    main = project / "main"
    main.mkdir()
    shutil.copyfile(ZOO / "fc_relu.tflite", main / "model.tflite")
    (main / "main.c").write_text('#include <stdio.h>\n#include "net.h"\n'
                                 'void app_main(void) { printf("invoke %d, arena %d\\n", net_invoke(), NET_ARENA_SIZE); }\n')
    (main / "CMakeLists.txt").write_text("idf_component_register(SRCS main.c INCLUDE_DIRS . REQUIRES tinyml_pio)\n"
                                         "tinyml_add_model(${COMPONENT_LIB} MODEL model.tflite PREFIX net)\n")
    out = tmp_path / "build"
    ok(configure(project, out, f"-DTINYML_PIO_COMPONENT={component}"))
    ok(build(out))  # the kernels once (in the component), the model in main
    run = subprocess.run([str(out / "app")], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stdout.startswith("invoke 0, arena "), run.stdout + run.stderr
