# Source lists only: RISC-V brings its own startup, clock and C-library glue
# (picolibc, which the toolchain file names: no newlib specs), plus the shared
# PRNG behind mg_random(), and the CFI flash driver of the update slots (flash.c);
# the board's facts are in board.toml.
set(RV_COMMON ${MG_BOARDS_COMMON_DIR}/riscv)
mg_board_setup(
  SOURCES ${MG_BOARD_DIR}/board.c ${MG_BOARD_DIR}/flash.c ${MG_BOARDS_COMMON_DIR}/board_prng.c
  COMMON_SOURCES ${RV_COMMON}/riscv_startup.c ${RV_COMMON}/riscv_clock.c
                 ${RV_COMMON}/picolibc_glue.c ${MG_BOARDS_COMMON_DIR}/board_console.c
                 ${MG_BOARDS_COMMON_DIR}/board_watchdog_none.c
  LIBC_SPECS)
mg_add_board_apps()
