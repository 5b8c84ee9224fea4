# Cross toolchain for bare-metal 32-bit RISC-V: Debian's riscv64-unknown-elf
# GCC (multilib, so it also builds rv32 code) with picolibc as the C library.
#
# Generic like the Arm file: -march/-mabi are a property of the board
# (boards/<name>/board.cmake). Use with
#   cmake -B build/fw-riscv32-virt -DMG_BOARD=riscv32-virt \
#         -DCMAKE_TOOLCHAIN_FILE=boards/toolchain-riscv-none-elf.cmake
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR riscv32)

set(MG_CROSS_PREFIX "riscv64-unknown-elf-" CACHE STRING "Prefix of the cross tools")
find_program(MG_CROSS_GCC ${MG_CROSS_PREFIX}gcc)
if(NOT MG_CROSS_GCC)
  message(FATAL_ERROR "${MG_CROSS_PREFIX}gcc not found: install the Debian packages "
                      "gcc-riscv64-unknown-elf and picolibc-riscv64-unknown-elf (make setup does it)")
endif()
get_filename_component(MG_CROSS_BIN ${MG_CROSS_GCC} DIRECTORY)

set(CMAKE_C_COMPILER ${MG_CROSS_BIN}/${MG_CROSS_PREFIX}gcc)
set(CMAKE_ASM_COMPILER ${MG_CROSS_BIN}/${MG_CROSS_PREFIX}gcc)
set(CMAKE_OBJCOPY ${MG_CROSS_BIN}/${MG_CROSS_PREFIX}objcopy CACHE FILEPATH "objcopy")
set(CMAKE_SIZE ${MG_CROSS_BIN}/${MG_CROSS_PREFIX}size CACHE FILEPATH "size")

# picolibc's headers and libraries come with its specs file; the compiler
# checks need it too (without it <stdio.h> and friends are missing).
set(CMAKE_C_FLAGS_INIT "--specs=picolibc.specs")

set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
