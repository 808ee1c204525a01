# tinyml-pio for CMake: find_package(TinymlPio CONFIG REQUIRED) with TinymlPio_DIR (or CMAKE_PREFIX_PATH)
# set to the output of `tinyml-pio cmake-dir`. Provides
#   tinyml::kernels       the C99 kernels, compiled inside each target that links them, with its flags
#                         (so -mcpu picks the DSP/MVE code paths the generated code was planned for)
#   tinyml::board_host    tinyml_board.h on the host (stdout, nanosecond clock)
#   tinyml_add_model()    build-time conversion of a .tflite model (tinyml_model.cmake)
#   tinyml_board_support(), tinyml_add_board_test()   emulated QEMU boards and ctest (tinyml_board.cmake)
# The conversion is the Python package's own CLI, found beside this directory (see TINYML_PIO_COMMAND).
cmake_minimum_required(VERSION 3.20)
include_guard(GLOBAL)
if(POLICY CMP0174)
  cmake_policy(SET CMP0174 NEW)  # BOARD "" is an empty value, not a missing one
endif()

# Every variable the functions read is global (CACHE INTERNAL): Zephyr and ESP-IDF find this package
# in a module's/component's directory and call tinyml_add_model from the application's.
get_filename_component(_tinyml_pkg "${CMAKE_CURRENT_LIST_DIR}/.." REALPATH)
get_filename_component(_tinyml_cmake "${CMAKE_CURRENT_LIST_DIR}" REALPATH)
set(TINYML_PIO_PACKAGE_DIR "${_tinyml_pkg}" CACHE INTERNAL "the tinyml_pio Python package")
set(TINYML_PIO_CMAKE_DIR "${_tinyml_cmake}" CACHE INTERNAL "this CMake package")
set(TINYML_PIO_LIBRARY_DIR "${_tinyml_pkg}/library" CACHE INTERNAL "the C library")
set(TINYML_PIO_BOARD_DEFS_DIR "${_tinyml_pkg}/board_defs" CACHE INTERNAL "board definitions")
include("${CMAKE_CURRENT_LIST_DIR}/TinymlPioConfigVersion.cmake")
set(TinymlPio_VERSION "${PACKAGE_VERSION}" CACHE INTERNAL "tinyml-pio version")

# ---- the converter: this package's CLI --------------------------------------------------------
# TINYML_PIO_COMMAND may name it (a list: "/path/tinyml-pio" or "python3;-m;tinyml_pio.cli");
# else tinyml-pio is looked for in the environment this package is installed in, then on PATH.
# Whichever is used must be this installation: its `cmake-dir` must be this directory.
set(TINYML_PIO_COMMAND "" CACHE STRING "the tinyml-pio command (a list), default: found beside this package")
if(NOT TINYML_PIO_COMMAND)
  find_program(TINYML_PIO_EXECUTABLE tinyml-pio
    HINTS "${TINYML_PIO_PACKAGE_DIR}/../../../../bin" "${TINYML_PIO_PACKAGE_DIR}/../.venv/bin"
          "${TINYML_PIO_PACKAGE_DIR}/../../../../Scripts"
    DOC "tinyml-pio, the converter of this package")
  if(NOT TINYML_PIO_EXECUTABLE)
    message(FATAL_ERROR "TinymlPio: the tinyml-pio command was not found (looked beside ${TINYML_PIO_PACKAGE_DIR} "
      "and on PATH).\nWhat to do: pip install tinyml-pio into the Python environment this package comes from, "
      "or configure with -DTINYML_PIO_COMMAND=\"python3;-m;tinyml_pio.cli\".")
  endif()
  set(_tinyml_command "${TINYML_PIO_EXECUTABLE}")
else()
  set(_tinyml_command ${TINYML_PIO_COMMAND})
endif()
execute_process(COMMAND ${_tinyml_command} cmake-dir OUTPUT_VARIABLE _tinyml_dir OUTPUT_STRIP_TRAILING_WHITESPACE
                RESULT_VARIABLE _tinyml_rc ERROR_VARIABLE _tinyml_err)
if(_tinyml_dir)
  get_filename_component(_tinyml_dir "${_tinyml_dir}" REALPATH)
endif()
if(NOT _tinyml_rc EQUAL 0 OR NOT _tinyml_dir STREQUAL TINYML_PIO_CMAKE_DIR)
  message(FATAL_ERROR "TinymlPio: '${_tinyml_command}' is not the tinyml-pio of this package "
    "(its cmake-dir is '${_tinyml_dir}', this package is ${TINYML_PIO_CMAKE_DIR}; ${_tinyml_err}).\n"
    "What to do: set TinymlPio_DIR to the output of that command's `tinyml-pio cmake-dir`, or point "
    "-DTINYML_PIO_COMMAND at the tinyml-pio installed with this package.")
endif()
set(TINYML_PIO_CONVERTER ${_tinyml_command} CACHE INTERNAL "the command tinyml_add_model runs")

# What the generated files depend on besides the model: the converter's own sources (a new release
# or a changed generator regenerates every model), as PlatformIO's stamp does.
file(GLOB_RECURSE _tinyml_tool LIST_DIRECTORIES false "${TINYML_PIO_PACKAGE_DIR}/*.py" "${TINYML_PIO_PACKAGE_DIR}/*.j2")
list(FILTER _tinyml_tool EXCLUDE REGEX "/(platformio|hil|__pycache__)/")
set(TINYML_PIO_TOOL_FILES "${_tinyml_tool}" CACHE INTERNAL "what a conversion depends on besides the model")
file(GLOB _tinyml_kernels "${TINYML_PIO_LIBRARY_DIR}/src/kernels/*.c" "${TINYML_PIO_LIBRARY_DIR}/src/kernels/*/*.c")
list(SORT _tinyml_kernels)
set(TINYML_PIO_KERNEL_SOURCES "${_tinyml_kernels}" CACHE INTERNAL "the kernel sources (tinyml::kernels)")

# ---- the kernels ----------------------------------------------------------------------------
# An INTERFACE library carrying the sources: each target linking it compiles them with its own
# flags. Link it (PRIVATE) into one target of an executable only; tinyml_add_model does that.
if(NOT TARGET tinyml_kernels)
  add_library(tinyml_kernels INTERFACE)
  target_sources(tinyml_kernels INTERFACE ${TINYML_PIO_KERNEL_SOURCES})
  target_include_directories(tinyml_kernels INTERFACE "${TINYML_PIO_LIBRARY_DIR}/include")
  target_compile_features(tinyml_kernels INTERFACE c_std_99)
  if(NOT CMAKE_C_COMPILER_ID STREQUAL "MSVC")
    # no fused multiply-adds: the training kernels' float results must match the host build's
    target_compile_options(tinyml_kernels INTERFACE -ffp-contract=off)
    target_link_libraries(tinyml_kernels INTERFACE m)
  endif()
  add_library(tinyml::kernels ALIAS tinyml_kernels)

  add_library(tinyml_board_host INTERFACE)
  target_sources(tinyml_board_host INTERFACE "${TINYML_PIO_PACKAGE_DIR}/hil/host_board.c"
                                             "${TINYML_PIO_LIBRARY_DIR}/src/boards/board_print.c")
  target_include_directories(tinyml_board_host INTERFACE "${TINYML_PIO_LIBRARY_DIR}/include")
  add_library(tinyml::board_host ALIAS tinyml_board_host)
endif()

include("${CMAKE_CURRENT_LIST_DIR}/tinyml_model.cmake")
include("${CMAKE_CURRENT_LIST_DIR}/tinyml_board.cmake")
