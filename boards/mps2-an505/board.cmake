# Source list only: the board code both MPS2 images share (facts in this
# folder's board.h) and the shared PRNG; the board's facts are in board.toml.
mg_board_setup(SOURCES ${MG_BOARDS_COMMON_DIR}/mps2_board.c ${MG_BOARD_DIR}/startup.c
                       ${MG_BOARDS_COMMON_DIR}/board_prng.c)
mg_add_board_apps()
