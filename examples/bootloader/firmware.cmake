# The bootloader of boards with update slots (board.toml [slots], docs/updates.md):
# linked into the board's boot region (build/.../board/boot/board_memory.ld), with the
# device_app's signing key when one is configured (MG_OTA_PUBKEY).
if(MG_BOARD_HAS_SLOTS)
  include(${CMAKE_SOURCE_DIR}/examples/device_app/ota_pubkey.cmake)
  if(MG_BOARD_ARCH MATCHES "^riscv")
    set(_boot_jump ${CMAKE_CURRENT_LIST_DIR}/jump_riscv.c)
  else()
    set(_boot_jump ${CMAKE_CURRENT_LIST_DIR}/jump_cortex_m.c)
  endif()
  mg_add_firmware(bootloader SOURCES ${CMAKE_CURRENT_LIST_DIR}/main.c
                  ${CMAKE_CURRENT_LIST_DIR}/slots.c ${_boot_jump}
                  DEFINES ${MG_BOARD_SLOT_DEFINES} ${DEVICE_APP_OTA_DEFINES})
  target_include_directories(bootloader PRIVATE ${CMAKE_CURRENT_LIST_DIR})
  target_link_options(bootloader BEFORE PRIVATE -L${MG_BOARD_GEN_DIR}/boot)
endif()
