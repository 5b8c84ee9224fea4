# WIZnet W5500-EVB-Pico (RP2040 Cortex-M0+, 2 MiB flash, 264 KiB SRAM, W5500
# on SPI0). Build-only: no emulator in this project runs it. Included by the
# top-level CMakeLists.txt after the mg_core target exists.
include(${CMAKE_SOURCE_DIR}/boards/common.cmake)

set(MG_BOARD_HAS_ETH ON)
mg_board_setup(
  CPU_FLAGS -mcpu=cortex-m0plus -mthumb -mfloat-abi=soft
  DEFINES MG_ENABLE_DRIVER_W5500=1
  SOURCES ${MG_BOARD_DIR}/board.c ${MG_BOARD_DIR}/startup.c
  LINKER_SCRIPT ${MG_BOARD_DIR}/rp2040.ld)
mg_add_board_apps()
