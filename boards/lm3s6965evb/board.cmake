# TI Stellaris LM3S6965 evaluation board (Cortex-M3, 256 KiB flash, 64 KiB
# SRAM, on-chip Ethernet MAC + PHY), QEMU machine "lm3s6965evb".
# Included by the top-level CMakeLists.txt after the mg_core target exists.
include(${CMAKE_SOURCE_DIR}/boards/common.cmake)

set(MG_BOARD_HAS_ETH ON)
# net_fw runs on the core's default pools (6 TCP connections of 4 KiB +
# 4 KiB: 64.6 KiB of .bss), more than the whole SRAM; device_app and
# device_app_http bring their own, smaller pools.
set(MG_BOARD_SKIP_APPS net_fw)
set(MG_BOARD_SIZE_TARGETS ON) # a Cortex-M3: the issue-8 size targets apply
mg_board_setup(
  CPU_FLAGS -mcpu=cortex-m3 -mthumb -mfloat-abi=soft
  DEFINES MG_ENABLE_DRIVER_STELLARIS_ENET=1
  SOURCES ${MG_BOARD_DIR}/board.c ${MG_BOARD_DIR}/startup.c
  LINKER_SCRIPT ${MG_BOARD_DIR}/lm3s6965.ld)
mg_add_board_apps()
