# tinyml_add_model(<target> MODEL <path> [PREFIX <name>] [BOARD <board> | CPU <cortex-mX>]
#                  [KERNELS auto|portable] [BUDGET <bytes>|auto]
#                  [ARENA static|extern] [ARENA_SECTION <section>])
#
# Converts the model at build time (`tinyml-pio convert`, the pipeline of `pio run`) into
# <binary dir>/tinyml/<target>/<PREFIX>.h/.c, adds them and the include directory to <target> and
# links tinyml::kernels. The conversion reruns when the model file, these options or the
# converter's own sources change, and only then. BOARD (board_defs/boards) chooses the kernel
# variants and checks the arena against the board's budget before anything is compiled, with the
# message PlatformIO prints; BUDGET sets that budget in bytes instead. CPU only chooses kernels.
# Without BOARD or CPU the kernels follow -mcpu= of CMAKE_C_FLAGS (portable when there is none).
# ARENA extern: the application defines uint8_t <prefix>_arena[<PREFIX>_ARENA_SIZE] itself;
# ARENA_SECTION puts the generated arena in that linker section (convert --arena/--arena-section).

function(_tinyml_cli_supports option out)
  get_property(help GLOBAL PROPERTY TINYML_PIO_CONVERT_HELP)
  if(NOT help)
    execute_process(COMMAND ${TINYML_PIO_CONVERTER} convert --help OUTPUT_VARIABLE help ERROR_QUIET)
    set_property(GLOBAL PROPERTY TINYML_PIO_CONVERT_HELP "${help}")
  endif()
  string(FIND "${help}" "${option}" pos)
  if(pos EQUAL -1)
    set(${out} FALSE PARENT_SCOPE)
  else()
    set(${out} TRUE PARENT_SCOPE)
  endif()
endfunction()

# <var> defaults to <default> and must match <regex>; else configuring stops with the message.
macro(_tinyml_option var default regex)
  if(NOT ${var})
    set(${var} "${default}")
  endif()
  if(NOT ${var} MATCHES "${regex}")
    string(CONCAT _tinyml_message ${ARGN})
    message(FATAL_ERROR "${where}: ${_tinyml_message}")
  endif()
endmacro()

function(tinyml_add_model target)
  set(where "tinyml_add_model(${target})")
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "MODEL;PREFIX;BOARD;CPU;KERNELS;BUDGET;ARENA;ARENA_SECTION"
                        "PATCHES;TRAIN")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "${where}: unknown arguments: ${arg_UNPARSED_ARGUMENTS}.\nWhat to do: use MODEL, PREFIX, "
      "BOARD or CPU, KERNELS, BUDGET (and PATCHES, TRAIN, ARENA, ARENA_SECTION where the tinyml-pio CLI supports them).")
  endif()
  if(NOT TARGET ${target})
    message(FATAL_ERROR "${where}: there is no target '${target}'.\nWhat to do: call it after add_executable/add_library.")
  endif()
  if(NOT arg_MODEL)
    message(FATAL_ERROR "${where}: MODEL <path to .tflite> is required.")
  endif()
  get_filename_component(model "${arg_MODEL}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  if(NOT EXISTS "${model}" OR IS_DIRECTORY "${model}")
    message(FATAL_ERROR "${where}: model file '${arg_MODEL}' not found (looked for ${model}).\n"
      "What to do: paths are relative to ${CMAKE_CURRENT_SOURCE_DIR}.")
  endif()
  _tinyml_option(arg_PREFIX model "^[A-Za-z_][A-Za-z0-9_]*$" "PREFIX '${arg_PREFIX}' is not a valid C identifier.\n"
    "What to do: use letters, digits and '_' only, not starting with a digit (e.g. PREFIX kws).")
  _tinyml_option(arg_KERNELS auto "^(auto|portable)$" "KERNELS ${arg_KERNELS} is not auto or portable.\n"
    "What to do: auto (default) uses the kernel variants the CPU can run; portable uses none.")
  if(arg_BOARD AND arg_CPU)
    message(FATAL_ERROR "${where}: give BOARD or CPU, not both (a board implies its CPU).")
  endif()
  string(TOUPPER "${arg_PREFIX}" key)
  get_property(prefixes TARGET ${target} PROPERTY TINYML_MODEL_PREFIXES)
  if(key IN_LIST prefixes)
    message(FATAL_ERROR "${where}: two models use the prefix '${arg_PREFIX}'; prefixes must differ in more than "
      "letter case.\nWhat to do: give each model its own PREFIX: the generated files and C symbols are named after it.")
  endif()
  set_property(TARGET ${target} APPEND PROPERTY TINYML_MODEL_PREFIXES "${key}")

  # the kernel target: what `convert --target` takes
  if(arg_BOARD)
    set(kernel_target "${arg_BOARD}")
  elseif(arg_CPU)
    set(kernel_target "${arg_CPU}")
  elseif(CMAKE_C_FLAGS MATCHES "-mcpu=([^ ]+)")
    set(kernel_target "${CMAKE_MATCH_1}")
  else()
    set(kernel_target portable)
  endif()
  set(args --prefix "${arg_PREFIX}" --target "${kernel_target}" --kernels "${arg_KERNELS}")
  if(arg_BUDGET)
    list(APPEND args --budget "${arg_BUDGET}")
  elseif(arg_BOARD)
    list(APPEND args --budget auto)
  endif()
  if(arg_BUDGET STREQUAL "auto" AND NOT arg_BOARD)
    message(FATAL_ERROR "${where}: BUDGET auto needs BOARD (the budget is the board's).")
  endif()
  foreach(feature PATCHES TRAIN ARENA ARENA_SECTION)
    if(arg_${feature})
      string(TOLOWER "--${feature}" option)
      string(REPLACE "_" "-" option "${option}")
      _tinyml_cli_supports("${option}" supported)
      if(NOT supported)
        message(FATAL_ERROR "${where}: ${feature} is not supported by this tinyml-pio (${TinymlPio_VERSION}): "
          "`tinyml-pio convert` has no ${option} option.\nWhat to do: remove ${feature}, or install a tinyml-pio "
          "whose convert command has ${option}.")
      endif()
      list(APPEND args "${option}" ${arg_${feature}})
    endif()
  endforeach()

  set(gen "${CMAKE_CURRENT_BINARY_DIR}/tinyml/${target}")
  set(outputs "${gen}/${arg_PREFIX}.c" "${gen}/${arg_PREFIX}.h")
  # the options as a file rewritten only when they change: a dependency of the conversion
  string(REPLACE ";" " " options_text "${args}")
  file(CONFIGURE OUTPUT "${gen}/${arg_PREFIX}.options"
       CONTENT "tinyml-pio ${TinymlPio_VERSION}\nmodel ${model}\noptions ${options_text}\n" @ONLY)
  add_custom_command(
    OUTPUT ${outputs}
    COMMAND ${TINYML_PIO_CONVERTER} convert "${model}" -o "${gen}" ${args}
    DEPENDS "${model}" "${gen}/${arg_PREFIX}.options" ${TINYML_PIO_TOOL_FILES}
    COMMENT "tinyml: converting ${arg_MODEL} -> ${arg_PREFIX}.h/.c (kernels: ${arg_KERNELS}, target ${kernel_target})"
    VERBATIM)
  target_sources(${target} PRIVATE ${outputs})
  target_include_directories(${target} PUBLIC "${gen}")

  if(arg_BOARD AND NOT arg_BUDGET)  # the board's budget is for all of the target's models together
    get_property(board TARGET ${target} PROPERTY TINYML_BUDGET_BOARD)
    if(board AND NOT board STREQUAL arg_BOARD)
      message(FATAL_ERROR "${where}: BOARD ${arg_BOARD}, but an earlier model of ${target} names BOARD ${board}.")
    endif()
    if(NOT board)
      set_property(TARGET ${target} PROPERTY TINYML_BUDGET_BOARD "${arg_BOARD}")
      cmake_language(EVAL CODE "cmake_language(DEFER CALL _tinyml_check_target_budget [[${target}]])")
    endif()
    set_property(TARGET ${target} APPEND PROPERTY TINYML_BUDGET_HEADERS "${gen}/${arg_PREFIX}.h")
  endif()

  get_property(provided GLOBAL PROPERTY TINYML_PIO_KERNELS_PROVIDED)  # e.g. by the ESP-IDF component
  get_property(linked TARGET ${target} PROPERTY LINK_LIBRARIES)
  if(NOT provided AND NOT "tinyml::kernels" IN_LIST linked AND NOT "tinyml_kernels" IN_LIST linked)
    target_link_libraries(${target} PRIVATE tinyml::kernels)
  endif()
endfunction()

# At the end of the directory: several models of one target on one board are checked together
# (each alone was checked by its conversion), before any of the target's sources compiles.
function(_tinyml_check_target_budget target)
  get_property(headers TARGET ${target} PROPERTY TINYML_BUDGET_HEADERS)
  get_property(board TARGET ${target} PROPERTY TINYML_BUDGET_BOARD)
  list(LENGTH headers n)
  if(n LESS 2)
    return()
  endif()
  set(stamp "${CMAKE_CURRENT_BINARY_DIR}/tinyml/${target}/budget.stamp")
  add_custom_command(
    OUTPUT "${stamp}"
    COMMAND ${TINYML_PIO_CONVERTER} budget --target "${board}" --budget auto ${headers}
    COMMAND "${CMAKE_COMMAND}" -E touch "${stamp}"
    DEPENDS ${headers}
    COMMENT "tinyml: the arenas of ${target}'s models against ${board}'s budget"
    VERBATIM)
  target_sources(${target} PRIVATE "${stamp}")
endfunction()
