# ST NUCLEO-F746ZG (STM32F746ZG, Cortex-M7 + FPv5-SP, 1 MiB flash, 320 KiB RAM).
# Build-only: no emulator in this project runs it. Included by the top-level
# CMakeLists.txt after the mg_core target exists.
include(${CMAKE_SOURCE_DIR}/boards/common.cmake)

set(MG_BOARD_HAS_ETH ON)
mg_board_setup(
  CPU_FLAGS -mcpu=cortex-m7 -mthumb -mfpu=fpv5-sp-d16 -mfloat-abi=hard
  DEFINES MG_ENABLE_DRIVER_STM32_ETH=1
  SOURCES ${MG_BOARD_DIR}/board.c ${MG_BOARD_DIR}/startup.c
  LINKER_SCRIPT ${MG_BOARD_DIR}/stm32f746zg.ld)
mg_add_board_apps()
