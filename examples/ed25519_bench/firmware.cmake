# ed25519_bench: Ed25519 verification and SHA-512 timed on the board itself
# (bench/ed25519_bench.py runs it under QEMU). Every board builds it unless
# the core is built without Ed25519.
if(NOT MG_FEATURE_DEFINES MATCHES "MG_ENABLE_ED25519=0" AND
   NOT "ed25519_bench" IN_LIST MG_BOARD_SKIP_APPS)
  mg_add_firmware(ed25519_bench SOURCES ${CMAKE_CURRENT_LIST_DIR}/main.c)
endif()
