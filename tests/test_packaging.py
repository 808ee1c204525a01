"""A plain (non-editable) install carries the C library and the board definitions: build the wheel,
install it into a scratch directory, and compile + verify a model from there."""

from __future__ import annotations

import subprocess
import sys
import zipfile

from conftest import ROOT, ZOO


def test_wheel_carries_library_and_boards_and_works_installed(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "dist"), str(ROOT)],
                   check=True, capture_output=True)
    (wheel,) = (tmp_path / "dist").glob("tinyml_pio-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for needed in ("tinyml_pio/library/include/tinyml/common.h", "tinyml_pio/library/library.json",
                   "tinyml_pio/library/src/kernels/conv.c", "tinyml_pio/board_defs/boards/qemu_mps2_an386.json",
                   "tinyml_pio/board_defs/platform/platform.json", "tinyml_pio/codegen/templates/model.c.j2",
                   "tinyml_pio/cmake/TinymlPioConfig.cmake", "tinyml_pio/cmake/toolchains/arm-none-eabi.cmake"):
        assert needed in names, needed
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    r = subprocess.run([sys.executable, "-c", "import tinyml_pio.hostbuild as h; print(h.library_dir())"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    assert r.stdout.strip().startswith(str(target))  # not the checkout's library
    r = subprocess.run([sys.executable, "-m", "tinyml_pio.cli", "verify", str(ZOO / "conv_mobilenet_block.tflite"),
                        "--inputs", "3"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip().endswith("bit-exact: 3/3 inputs"), r.stdout + r.stderr

    # the CMake package of the installed wheel: find_package + a build that converts with that install
    from test_cmake import ZOO as _zoo, _tool, build, configure, ok, small_project

    r = subprocess.run([sys.executable, "-m", "tinyml_pio.cli", "cmake-dir"], cwd=tmp_path, env=env, capture_output=True,
                       text=True, check=True)
    cmake_dir = r.stdout.strip()
    assert cmake_dir.startswith(str(target)), cmake_dir
    cmake_env = dict(env, PATH=f"{sys.executable.rsplit('/', 1)[0]}:/usr/bin:/bin")
    src = small_project(tmp_path, _zoo / "fc_relu.tflite")
    ok(configure(src, tmp_path / "cmake-build", f"-DTinymlPio_DIR={cmake_dir}",
                 f"-DTINYML_PIO_COMMAND={sys.executable};-P;-m;tinyml_pio.cli", env=cmake_env))
    r = ok(build(tmp_path / "cmake-build", env=cmake_env))
    assert f"{target}/tinyml_pio/library/src/kernels" in r.stdout  # the wheel's kernels, not the checkout's
