# CMake toolchain file: GNU Arm Embedded (arm-none-eabi-gcc, newlib-nano) for Cortex-M, bare metal.
# Copy it into your project if you like; nothing in it is specific to tinyml-pio.
#   cmake -B build -DCMAKE_TOOLCHAIN_FILE=<this file> -DARM_CPU=cortex-m4
# ARM_CPU: cortex-m0plus, cortex-m3, cortex-m4, cortex-m7, cortex-m33, cortex-m55, ... (GCC's -mcpu)
# ARM_FPU / ARM_FLOAT_ABI: default to the usual single-precision FPU of that core (none on M0/M0+/M3/M23);
# set ARM_FPU=none for parts without one. The emulated boards: an385 cortex-m3, an386 cortex-m4,
# an500 cortex-m7, an505 cortex-m33, an547 cortex-m55.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)

set(ARM_CPU "cortex-m4" CACHE STRING "GCC -mcpu")
if(ARM_CPU MATCHES "^cortex-m(0|0plus|1|3|23)$")
  set(_arm_fpu none)
elseif(ARM_CPU STREQUAL "cortex-m4")
  set(_arm_fpu fpv4-sp-d16)
elseif(ARM_CPU MATCHES "^cortex-m(55|85|52)")
  set(_arm_fpu auto)
else()
  set(_arm_fpu fpv5-sp-d16)
endif()
set(ARM_FPU "${_arm_fpu}" CACHE STRING "GCC -mfpu (none: soft float)")
if(ARM_FPU STREQUAL "none")
  set(ARM_FLOAT_ABI soft CACHE STRING "GCC -mfloat-abi")
else()
  set(ARM_FLOAT_ABI hard CACHE STRING "GCC -mfloat-abi")
endif()
# try_compile projects read this file again: hand them the same CPU
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES ARM_CPU ARM_FPU ARM_FLOAT_ABI)

find_program(CMAKE_C_COMPILER arm-none-eabi-gcc REQUIRED)
find_program(CMAKE_CXX_COMPILER arm-none-eabi-g++)
set(CMAKE_ASM_COMPILER "${CMAKE_C_COMPILER}")
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)  # no startup code for the compiler checks

set(_arm_flags "-mthumb -mcpu=${ARM_CPU} -mfloat-abi=${ARM_FLOAT_ABI}")
if(NOT ARM_FPU STREQUAL "none")
  string(APPEND _arm_flags " -mfpu=${ARM_FPU}")
endif()
set(CMAKE_C_FLAGS_INIT "${_arm_flags} -ffunction-sections -fdata-sections")
set(CMAKE_CXX_FLAGS_INIT "${_arm_flags} -ffunction-sections -fdata-sections -fno-exceptions -fno-rtti")
set(CMAKE_ASM_FLAGS_INIT "${_arm_flags}")
set(CMAKE_EXE_LINKER_FLAGS_INIT "${_arm_flags} --specs=nano.specs --specs=nosys.specs -Wl,--gc-sections")

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
