# Arm MPS2 AN385 (Cortex-M3, 25 MHz), QEMU machine "mps2-an385".
# Included by the top-level CMakeLists.txt after the mg_core target exists.
include(${CMAKE_SOURCE_DIR}/boards/common.cmake)

set(MG_BOARD_HAS_ETH ON)
set(MG_BOARD_LARGE_RAM ON) # 1 MiB or more: target_tests runs every suite
mg_board_setup(
  CPU_FLAGS -mcpu=cortex-m3 -mthumb -mfloat-abi=soft
  DEFINES MG_ENABLE_DRIVER_LAN9118=1
  SOURCES ${MG_BOARDS_COMMON_DIR}/mps2_board.c ${MG_BOARD_DIR}/startup.c
  LINKER_SCRIPT ${MG_BOARD_DIR}/mps2-an385.ld)
mg_add_board_apps()
