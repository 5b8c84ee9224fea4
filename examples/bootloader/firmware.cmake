# The bootloader of boards with update slots (board.toml [slots], docs/updates.md):
# linked into the board's boot region (build/.../board/boot/board_memory.ld), with the
# device_app's signing key when one is configured (MG_OTA_PUBKEY).
if(MG_BOARD_HAS_SLOTS)
  include(${CMAKE_SOURCE_DIR}/examples/device_app/ota_pubkey.cmake)
  mg_add_firmware(bootloader SOURCES ${CMAKE_CURRENT_LIST_DIR}/main.c
                  ${CMAKE_CURRENT_LIST_DIR}/slots.c
                  DEFINES ${MG_BOARD_SLOT_DEFINES} ${DEVICE_APP_OTA_DEFINES})
  target_include_directories(bootloader PRIVATE ${CMAKE_CURRENT_LIST_DIR})
  target_link_options(bootloader BEFORE PRIVATE -L${MG_BOARD_GEN_DIR}/boot)
endif()
