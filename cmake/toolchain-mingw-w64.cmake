# Cross toolchain for 64-bit Windows hosts (Debian's mingw-w64,
# x86_64-w64-mingw32-*): builds the core and its C unit tests as .exe files
# that `make test-windows` runs under Wine. Use with
#   cmake -B build/win64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-mingw-w64.cmake
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(MG_MINGW_PREFIX "x86_64-w64-mingw32-" CACHE STRING "Prefix of the cross tools")
# The posix thread model: its runtime has winpthreads, which the C tests use
# for their second thread (the core itself uses Win32 locks only).
find_program(MG_MINGW_GCC NAMES ${MG_MINGW_PREFIX}gcc-posix ${MG_MINGW_PREFIX}gcc)
if(NOT MG_MINGW_GCC)
  message(FATAL_ERROR "${MG_MINGW_PREFIX}gcc not found: install the Debian package "
                      "gcc-mingw-w64-x86-64 (scripts/setup_windows.sh does it)")
endif()
set(CMAKE_C_COMPILER ${MG_MINGW_GCC})
set(CMAKE_RC_COMPILER ${MG_MINGW_PREFIX}windres)

set(CMAKE_FIND_ROOT_PATH /usr/x86_64-w64-mingw32)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Self-contained executables: no libgcc / winpthread DLLs to put next to them.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
