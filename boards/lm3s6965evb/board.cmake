# Source list only: the board's C and the shared PRNG behind mg_random(); the
# board's facts are in board.toml.
mg_board_setup(SOURCES ${MG_BOARD_DIR}/board.c ${MG_BOARD_DIR}/startup.c
                       ${MG_BOARDS_COMMON_DIR}/board_prng.c)
mg_add_board_apps()
