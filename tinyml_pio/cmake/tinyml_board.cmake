# tinyml_board_support(<target> [BOARD <board>])
#   What implements tinyml_board.h (console, cycle counter, exit) for <target>: without BOARD (or
#   BOARD host) the host's (stdout, nanosecond clock); with an emulated board of
#   board_defs/platform/boards (qemu_mps2_an386, ...) the startup code, UART/SysTick support and
#   linker script the PlatformIO dev-platform uses for it. The compiler must build for that
#   board's CPU (toolchains/arm-none-eabi.cmake with -DARM_CPU=...); configuring says so if not.
#   Boards of your own: leave this out and link your BSP.
# tinyml_add_board_test(<target> [NAME <test>] [TIMEOUT <seconds>])
#   A ctest test running <target>: on the host directly, on an emulated board in qemu-system-arm
#   (`tinyml-pio qemu run`: UART0 to the test's output, the firmware's exit code is the result).

function(tinyml_board_support target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "BOARD" "")
  if(NOT arg_BOARD OR arg_BOARD STREQUAL "host")
    target_link_libraries(${target} PRIVATE tinyml::board_host)
    set_property(TARGET ${target} PROPERTY TINYML_BOARD host)
    return()
  endif()
  set(platform "${TINYML_PIO_BOARD_DEFS_DIR}/platform")
  set(manifest "${platform}/boards/${arg_BOARD}.json")
  if(NOT EXISTS "${manifest}")
    file(GLOB known RELATIVE "${platform}/boards" "${platform}/boards/*.json")
    string(REPLACE ".json" "" known "${known}")
    string(REPLACE ";" ", " known "${known}")
    message(FATAL_ERROR "tinyml_board_support(${target}): '${arg_BOARD}' is not an emulated board (known: host, "
      "${known}).\nWhat to do: for a board of your own leave tinyml_board_support out and link its BSP.")
  endif()
  file(READ "${manifest}" json)
  string(JSON cpu GET "${json}" build cpu)
  string(JSON f_cpu GET "${json}" build f_cpu)
  string(JSON ldscript GET "${json}" build ldscript)
  string(JSON extra_flags GET "${json}" build extra_flags)
  string(JSON fpu GET "${json}" build fpu)
  string(JSON float_abi GET "${json}" build float_abi)
  string(TOUPPER "${CMAKE_BUILD_TYPE}" config)
  set(flags "${CMAKE_C_FLAGS} ${CMAKE_C_FLAGS_${config}}")
  if(NOT flags MATCHES "-mcpu=([^ ]+)" OR NOT CMAKE_MATCH_1 STREQUAL cpu)
    message(FATAL_ERROR "tinyml_board_support(${target}): board ${arg_BOARD} has a ${cpu} (-mfpu=${fpu} "
      "-mfloat-abi=${float_abi}), but this build compiles for '${CMAKE_MATCH_1}' (CMAKE_C_FLAGS: ${CMAKE_C_FLAGS}).\n"
      "What to do: configure a fresh build directory with -DCMAKE_TOOLCHAIN_FILE=${TINYML_PIO_CMAKE_DIR}/toolchains/"
      "arm-none-eabi.cmake -DARM_CPU=${cpu}.")
  endif()
  separate_arguments(extra UNIX_COMMAND "${extra_flags}")
  string(REGEX REPLACE "[Ll]$" "" f_cpu "${f_cpu}")
  target_compile_options(${target} PRIVATE ${extra})
  target_compile_definitions(${target} PRIVATE "TINYML_BSP_BOARD=\"${arg_BOARD}\"" "F_CPU=${f_cpu}")
  target_sources(${target} PRIVATE "${platform}/bsp/src/board.c" "${platform}/bsp/src/startup.c"
                 "${platform}/bsp/src/syscalls.c" "${TINYML_PIO_LIBRARY_DIR}/src/boards/board_print.c")
  target_include_directories(${target} PRIVATE "${TINYML_PIO_LIBRARY_DIR}/include")
  target_link_options(${target} PRIVATE "-T${platform}/bsp/ldscripts/${ldscript}" "-L${platform}/bsp/ldscripts"
                      "-Wl,-Map,$<TARGET_FILE:${target}>.map")
  set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS "${platform}/bsp/ldscripts/${ldscript}"
               "${platform}/bsp/ldscripts/tinyml_cortexm.ld")
  set_target_properties(${target} PROPERTIES SUFFIX ".elf" TINYML_BOARD "${arg_BOARD}")
endfunction()

function(tinyml_add_board_test target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "NAME;TIMEOUT" "")
  if(NOT arg_NAME)
    set(arg_NAME "${target}")
  endif()
  if(NOT arg_TIMEOUT)
    set(arg_TIMEOUT 60)
  endif()
  get_property(board TARGET ${target} PROPERTY TINYML_BOARD)
  if(NOT board OR board STREQUAL "host")
    add_test(NAME "${arg_NAME}" COMMAND ${target})
  else()
    add_test(NAME "${arg_NAME}" COMMAND ${TINYML_PIO_CONVERTER} qemu run "$<TARGET_FILE:${target}>" --board "${board}"
             --timeout "${arg_TIMEOUT}")
  endif()
  math(EXPR limit "${arg_TIMEOUT} + 30")
  set_tests_properties("${arg_NAME}" PROPERTIES TIMEOUT "${limit}")
endfunction()
