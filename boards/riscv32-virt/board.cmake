# QEMU RISC-V "virt" with a 32-bit hart (RV32IMAC), machine
# "virt" of qemu-system-riscv32. Included by the top-level CMakeLists.txt.
include(${CMAKE_SOURCE_DIR}/boards/common.cmake)

set(RV_COMMON ${MG_BOARDS_COMMON_DIR}/riscv)
set(MG_BOARD_HAS_ETH ON)
set(MG_BOARD_LARGE_RAM ON) # 1 MiB or more: target_tests runs every suite
mg_board_setup(
  # ISA spec 2.2: there "i" still includes the CSR instructions (Zicsr),
  # and GCC 12 picks its rv32imac multilib only from the plain -march.
  CPU_FLAGS -march=rv32imac -misa-spec=2.2 -mabi=ilp32 -mcmodel=medany
  DEFINES MG_ENABLE_DRIVER_VIRTIO_NET=1
  SOURCES ${MG_BOARD_DIR}/board.c
  COMMON_SOURCES ${RV_COMMON}/riscv_startup.c ${RV_COMMON}/riscv_clock.c
                 ${RV_COMMON}/picolibc_glue.c ${MG_BOARDS_COMMON_DIR}/board_console.c
  LIBC_SPECS # none: the toolchain file brings picolibc
  LINKER_SCRIPT ${MG_BOARD_DIR}/riscv32-virt.ld)
# One RWX segment is what an image running from RAM is.
target_link_options(mg_core PUBLIC -Wl,--no-warn-rwx-segments)
mg_add_board_apps()
