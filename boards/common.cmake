# Shared CMake for firmware boards. The top-level CMakeLists includes this for
# MG_BOARD_DIR (boards/<name>/), whose board.toml holds the board's facts:
# mg_board_load() (run below) turns it into MG_BOARD_* variables and the linker
# script's MEMORY regions. Then the board's board.cmake, if it has one, calls
#   mg_board_setup([SOURCES ...] [LINKER_SCRIPT ...] [DEFINES ...] ...)
# and mg_add_board_apps(); without a board.cmake the build does that with the
# board folder's *.c. Apps are linked with
#   mg_add_firmware(<name> SOURCES <files...> [DEFINES <defs...>])
# which produces <name>.elf and <name>.bin and prints a size report.
include_guard(GLOBAL)

set(MG_BOARDS_DIR ${CMAKE_SOURCE_DIR}/boards)
set(MG_BOARDS_COMMON_DIR ${MG_BOARDS_DIR}/common)
set(MG_FW_OPT_FLAGS "-Os" CACHE STRING "Optimisation flags of firmware builds")

# The firmware version printed in banners comes from pyproject.toml, the one
# place the project's version is written.
file(STRINGS ${CMAKE_SOURCE_DIR}/pyproject.toml MG_PYPROJECT_VERSION_LINE
     REGEX "^version *= *\"[^\"]+\"" LIMIT_COUNT 1)
string(REGEX REPLACE "^version *= *\"([^\"]+)\".*" "\\1" MG_FW_VERSION
       "${MG_PYPROJECT_VERSION_LINE}")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/pyproject.toml)
if(NOT MG_FW_VERSION)
  set(MG_FW_VERSION "0.0.0")
endif()

# The board's facts: scripts/board_facts.py reads ${MG_BOARD_DIR}/board.toml
# (Python's tomllib) and writes ${CMAKE_BINARY_DIR}/board/board_facts.cmake
# (included here: MG_BOARD_CPU_FLAGS, MG_BOARD_DRIVER_DEFINES, MG_BOARD_HAS_ETH,
# MG_BOARD_SIZE_TARGETS, MG_BOARD_SKIP_APPS, MG_BOARD_LINK_FLAGS, MG_BOARD_ARCH,
# MG_BOARD_TOOLCHAIN) and board_memory.ld (the MEMORY regions and MG_* sizes the
# linker script INCLUDEs). Editing board.toml re-runs the configure step.
find_program(MG_PYTHON NAMES python3 python
             DOC "Python 3 (3.11+, or 3.10 with tomli) that reads board.toml")
if(NOT MG_PYTHON)
  message(FATAL_ERROR "python3 not found: the firmware build reads board.toml with it")
endif()
set(MG_BOARD_GEN_DIR ${CMAKE_BINARY_DIR}/board)
execute_process(
  COMMAND ${MG_PYTHON} ${CMAKE_SOURCE_DIR}/scripts/board_facts.py ${MG_BOARD_DIR} ${MG_BOARD_GEN_DIR}
  RESULT_VARIABLE _mg_rc ERROR_VARIABLE _mg_err)
if(NOT _mg_rc EQUAL 0)
  message(FATAL_ERROR "board ${MG_BOARD}: ${_mg_err}")
endif()
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
             ${MG_BOARD_DIR}/board.toml ${CMAKE_SOURCE_DIR}/scripts/board_facts.py)
include(${MG_BOARD_GEN_DIR}/board_facts.cmake)
if(MG_BOARD_TOOLCHAIN AND NOT CMAKE_TOOLCHAIN_FILE MATCHES "toolchain-${MG_BOARD_TOOLCHAIN}\\.cmake$")
  message(WARNING "board ${MG_BOARD} names toolchain ${MG_BOARD_TOOLCHAIN} in board.toml, "
                  "but CMAKE_TOOLCHAIN_FILE is ${CMAKE_TOOLCHAIN_FILE}")
endif()

# Applies the board's CPU flags (board.toml cpu_flags) to the core, enables its
# network driver, and creates the `mg_board` object library (startup, console,
# clock, syscalls) that every image links. SOURCES defaults to the board
# folder's *.c; LINKER_SCRIPT to the folder's board.ld when it has one, else
# common/cortex-m.ld (common/riscv/riscv.ld for a riscv arch); DEFINES adds to
# the driver's. COMMON_SOURCES replaces the Cortex-M files of common/ (another
# architecture brings its own startup, clock and C-library glue); LIBC_SPECS
# replaces the newlib-nano specs at link time; LIBC_SPECS without a value links
# no extra specs (the toolchain file already names the C library).
function(mg_board_setup)
  cmake_parse_arguments(B "" "LINKER_SCRIPT;LIBC_SPECS" "SOURCES;DEFINES;COMMON_SOURCES" ${ARGN})
  set(B_CPU_FLAGS ${MG_BOARD_CPU_FLAGS})
  if(NOT B_CPU_FLAGS)
    message(FATAL_ERROR "board ${MG_BOARD}: board.toml has no cpu_flags")
  endif()
  list(PREPEND B_DEFINES ${MG_BOARD_DRIVER_DEFINES})
  if(NOT B_SOURCES)
    file(GLOB B_SOURCES CONFIGURE_DEPENDS ${MG_BOARD_DIR}/*.c)
  endif()
  if(NOT B_LINKER_SCRIPT)
    if(EXISTS ${MG_BOARD_DIR}/board.ld)
      set(B_LINKER_SCRIPT ${MG_BOARD_DIR}/board.ld)
    elseif(MG_BOARD_ARCH MATCHES "^riscv")
      set(B_LINKER_SCRIPT ${MG_BOARDS_COMMON_DIR}/riscv/riscv.ld)
    else()
      set(B_LINKER_SCRIPT ${MG_BOARDS_COMMON_DIR}/cortex-m.ld)
    endif()
  endif()
  # Code for a board is never position independent: no loader, no GOT.
  set_target_properties(mg_core PROPERTIES POSITION_INDEPENDENT_CODE OFF)
  target_compile_options(mg_core PUBLIC ${B_CPU_FLAGS} ${MG_FW_OPT_FLAGS} -g
                         -ffunction-sections -fdata-sections)
  target_link_options(mg_core PUBLIC ${B_CPU_FLAGS} ${MG_BOARD_LINK_FLAGS})
  if(B_DEFINES)
    target_compile_definitions(mg_core PUBLIC ${B_DEFINES})
  endif()

  if(NOT B_COMMON_SOURCES)
    set(B_COMMON_SOURCES
        ${MG_BOARDS_COMMON_DIR}/newlib_syscalls.c
        ${MG_BOARDS_COMMON_DIR}/semihosting.c
        ${MG_BOARDS_COMMON_DIR}/board_console.c
        ${MG_BOARDS_COMMON_DIR}/board_clock.c
        ${MG_BOARDS_COMMON_DIR}/cmsdk_wdog.c
        ${MG_BOARDS_COMMON_DIR}/board_watchdog_none.c
        ${MG_BOARDS_COMMON_DIR}/cortex_m_startup.c)
  endif()
  if(NOT B_LIBC_SPECS AND NOT "LIBC_SPECS" IN_LIST B_KEYWORDS_MISSING_VALUES)
    set(B_LIBC_SPECS --specs=nano.specs)
  endif()
  add_library(mg_board OBJECT ${B_SOURCES} ${B_COMMON_SOURCES})
  set_target_properties(mg_board PROPERTIES POSITION_INDEPENDENT_CODE OFF)
  target_include_directories(mg_board PUBLIC ${MG_BOARD_DIR} ${MG_BOARDS_COMMON_DIR})
  target_link_libraries(mg_board PUBLIC mg_core)
  target_compile_options(mg_board PRIVATE ${MG_WARNINGS})

  set_property(GLOBAL PROPERTY MG_BOARD_LINKER_SCRIPT ${B_LINKER_SCRIPT})
  set_property(GLOBAL PROPERTY MG_BOARD_LIBC_SPECS "${B_LIBC_SPECS}")
endfunction()

# Links one firmware image: app sources + the board + the core.
function(mg_add_firmware NAME)
  cmake_parse_arguments(FW "" "" "SOURCES;DEFINES" ${ARGN})
  add_executable(${NAME} ${FW_SOURCES})
  target_link_libraries(${NAME} PRIVATE mg_board mg_core)
  mg_firmware_image(${NAME} ${FW_DEFINES})
endfunction()

# What every firmware executable NAME gets: warnings, the version and the
# extra definitions in ARGN, the board's linker script, a map file, a .bin
# beside the .elf, and the size report.
function(mg_firmware_image NAME)
  get_property(ld GLOBAL PROPERTY MG_BOARD_LINKER_SCRIPT)
  get_property(libc_specs GLOBAL PROPERTY MG_BOARD_LIBC_SPECS)
  set_target_properties(${NAME} PROPERTIES SUFFIX ".elf" POSITION_INDEPENDENT_CODE OFF
                        LINK_DEPENDS "${ld};${MG_BOARD_GEN_DIR}/board_memory.ld")
  target_compile_options(${NAME} PRIVATE ${MG_WARNINGS})
  target_compile_definitions(${NAME} PRIVATE MG_FW_VERSION="${MG_FW_VERSION}" ${ARGN})
  target_link_options(${NAME} PRIVATE
    -T${ld} -L${MG_BOARD_GEN_DIR} -L${MG_BOARDS_COMMON_DIR}
    ${libc_specs} -nostartfiles
    -Wl,--gc-sections -Wl,-Map=$<TARGET_FILE_DIR:${NAME}>/${NAME}.map)
  add_custom_command(TARGET ${NAME} POST_BUILD
    COMMAND ${CMAKE_OBJCOPY} -O binary $<TARGET_FILE:${NAME}>
            $<TARGET_FILE_DIR:${NAME}>/${NAME}.bin
    COMMAND ${CMAKE_COMMAND} -DSIZE=${CMAKE_SIZE} -DELF=$<TARGET_FILE:${NAME}>
            -DBOARD=${MG_BOARD} -P ${MG_BOARDS_DIR}/size_report.cmake
    VERBATIM)
endfunction()

# The firmware apps of a board: every examples/<app>/firmware.cmake, the
# on-target C unit tests (tests/target/firmware.cmake), then the
# firmware.cmake of each folder in MG_APP_DIRS (apps of your own, outside this
# tree: `cmake ... -DMG_APP_DIRS=/path/to/my_app`, `cymongoose build --app`).
# A firmware.cmake calls mg_add_firmware() for its images, guarded by what it
# needs (MG_BOARD_HAS_ETH ...); a board lists apps its memory cannot hold in
# board.toml's [build] skip_apps (MG_BOARD_SKIP_APPS; say why there).
set(MG_APP_DIRS "" CACHE STRING "Folders of firmware apps outside examples/, each with a firmware.cmake")

function(mg_add_board_apps)
  file(GLOB apps CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/examples/*/firmware.cmake)
  list(SORT apps)
  if(EXISTS ${CMAKE_SOURCE_DIR}/tests/target/firmware.cmake) # the C unit tests
    list(APPEND apps ${CMAKE_SOURCE_DIR}/tests/target/firmware.cmake)
  endif()
  foreach(dir ${MG_APP_DIRS})
    get_filename_component(dir "${dir}" ABSOLUTE)
    if(NOT EXISTS ${dir}/firmware.cmake)
      message(FATAL_ERROR "MG_APP_DIRS: ${dir} has no firmware.cmake")
    endif()
    list(APPEND apps ${dir}/firmware.cmake)
  endforeach()
  foreach(app ${apps})
    include(${app})
  endforeach()
endfunction()
