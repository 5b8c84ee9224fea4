# Cross toolchain for bare-metal ARM (GNU Arm Embedded, arm-none-eabi-*).
#
# Generic on purpose: CPU, FPU and ABI flags are a property of the board, so
# boards/<name>/board.cmake adds them. Use with
#   cmake -B build/fw -DMG_BOARD=<board> -DCMAKE_TOOLCHAIN_FILE=boards/toolchain-arm-none-eabi.cmake
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)

set(MG_CROSS_PREFIX "arm-none-eabi-" CACHE STRING "Prefix of the cross tools")
find_program(MG_CROSS_GCC ${MG_CROSS_PREFIX}gcc)
if(NOT MG_CROSS_GCC)
  message(FATAL_ERROR "${MG_CROSS_PREFIX}gcc not found: install the Debian packages "
                      "gcc-arm-none-eabi and libnewlib-arm-none-eabi (make setup does it)")
endif()
get_filename_component(MG_CROSS_BIN ${MG_CROSS_GCC} DIRECTORY)

set(CMAKE_C_COMPILER ${MG_CROSS_BIN}/${MG_CROSS_PREFIX}gcc)
set(CMAKE_ASM_COMPILER ${MG_CROSS_BIN}/${MG_CROSS_PREFIX}gcc)
set(CMAKE_OBJCOPY ${MG_CROSS_BIN}/${MG_CROSS_PREFIX}objcopy CACHE FILEPATH "objcopy")
set(CMAKE_SIZE ${MG_CROSS_BIN}/${MG_CROSS_PREFIX}size CACHE FILEPATH "size")

# Without CPU flags and startup code a test executable cannot link, so let
# CMake's compiler checks build a static library instead.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

# Look for libraries and headers only in the cross environment, programs on the host.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
