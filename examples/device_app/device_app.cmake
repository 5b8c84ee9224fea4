# device_app, the reference firmware: sources, and the board images.
#   host:   boards/host/board.cmake builds build/host/device_app
#   boards: device_app_add_board_images() (called by firmware.cmake beside it for
#           boards with Ethernet) builds two images:
#             device_app.elf       everything (HTTP, WS, MQTT, SNTP, RPC, OTA)
#             device_app_http.elf  HTTP server + REST API only
# Each image links its own copy of the core, compiled with the pool sizes and
# feature flags of that image (the stack's structures depend on them), so the
# other apps of the board keep the defaults.
include_guard(GLOBAL)

set(DEVICE_APP_DIR ${CMAKE_CURRENT_LIST_DIR})
include(${DEVICE_APP_DIR}/ota_pubkey.cmake) # MG_OTA_PUBKEY -> DEVICE_APP_OTA_DEFINES
set(DEVICE_APP_SOURCES
  ${DEVICE_APP_DIR}/main.c ${DEVICE_APP_DIR}/platform.c ${DEVICE_APP_DIR}/http_api.c
  ${DEVICE_APP_DIR}/ws.c ${DEVICE_APP_DIR}/mqtt.c ${DEVICE_APP_DIR}/sntp.c
  ${DEVICE_APP_DIR}/rpc.c ${DEVICE_APP_DIR}/ota.c ${DEVICE_APP_DIR}/boot.c)

# Full image: HTTP + one WebSocket + MQTT fit in 5 TCP connections of
# 3 KiB + 3 KiB; two UDP endpoints (DHCP, SNTP).
set(DEVICE_APP_FULL_CORE_DEFINES
  MG_TCPIP_MAX_TCP=5 MG_TCPIP_TCP_RXBUF=3072 MG_TCPIP_TCP_TXBUF=3072
  MG_TCPIP_MAX_UDP=2 MG_TCPIP_UDP_RXBUF=1536 MG_TCPIP_MAX_LISTEN=2)
# HTTP-only image: three 2 KiB + 2 KiB connections, one UDP endpoint (DHCP),
# the other protocols compiled out.
set(DEVICE_APP_HTTP_CORE_DEFINES
  MG_ENABLE_WS=0 MG_ENABLE_MQTT=0 MG_ENABLE_SNTP=0 MG_ENABLE_DNS=0
  MG_TCPIP_MAX_TCP=3 MG_TCPIP_TCP_RXBUF=2048 MG_TCPIP_TCP_TXBUF=2048
  MG_TCPIP_MAX_UDP=1 MG_TCPIP_UDP_RXBUF=1024 MG_TCPIP_MAX_LISTEN=1 MG_TCPIP_ARP_SIZE=4)
set(DEVICE_APP_HTTP_APP_DEFINES
  DEVICE_WS=0 DEVICE_MQTT=0 DEVICE_SNTP=0 DEVICE_RPC=0 DEVICE_OTA=0)

# A copy of mg_core with extra definitions, same flags as the board's core.
function(device_app_core NAME)
  add_library(${NAME} STATIC ${MG_CORE_SOURCES})
  set_target_properties(${NAME} PROPERTIES POSITION_INDEPENDENT_CODE OFF)
  target_include_directories(${NAME} PUBLIC ${CMAKE_SOURCE_DIR}/src/include)
  get_target_property(opts mg_core INTERFACE_COMPILE_OPTIONS)
  get_target_property(defs mg_core INTERFACE_COMPILE_DEFINITIONS)
  get_target_property(lopts mg_core INTERFACE_LINK_OPTIONS)
  target_compile_options(${NAME} PRIVATE ${MG_WARNINGS})
  if(opts)
    target_compile_options(${NAME} PUBLIC ${opts})
  endif()
  if(defs)
    target_compile_definitions(${NAME} PUBLIC ${defs})
  endif()
  if(lopts)
    target_link_options(${NAME} PUBLIC ${lopts})
  endif()
  target_compile_definitions(${NAME} PUBLIC ${ARGN})
endfunction()

# One board image: like mg_add_firmware, but on a private core (CORE: reuse the
# core of another image built with the same core definitions). SLOT a|b: the
# image is linked for that update slot (board.toml [slots], docs/updates.md)
# and runs under the bootloader.
function(device_app_image NAME)
  cmake_parse_arguments(D "" "FLASH_MAX;RAM_MAX;CORE;SLOT" "CORE_DEFINES;APP_DEFINES" ${ARGN})
  if(D_CORE)
    set(core ${D_CORE})
  else()
    set(core ${NAME}_core)
    device_app_core(${core} ${D_CORE_DEFINES})
  endif()
  set(sources ${DEVICE_APP_SOURCES})
  if(D_SLOT)
    list(APPEND sources ${CMAKE_SOURCE_DIR}/examples/bootloader/slots.c)
    list(APPEND D_APP_DEFINES DEVICE_SLOTS=1 ${MG_BOARD_SLOT_DEFINES})
  endif()
  add_executable(${NAME} ${sources} $<TARGET_OBJECTS:mg_board>)
  target_include_directories(${NAME} PRIVATE ${MG_BOARD_DIR} ${MG_BOARDS_COMMON_DIR})
  target_link_libraries(${NAME} PRIVATE ${core})
  mg_firmware_image(${NAME} ${D_APP_DEFINES} ${DEVICE_APP_OTA_DEFINES})
  if(D_SLOT)
    target_include_directories(${NAME} PRIVATE ${CMAKE_SOURCE_DIR}/examples/bootloader)
    # -n: no page alignment, else the first segment starts a page early
    # (ELF headers in it) instead of at the slot's payload address.
    target_link_options(${NAME} BEFORE PRIVATE -L${MG_BOARD_GEN_DIR}/slot_${D_SLOT} -Wl,-n)
  endif()
  # The targets are for Cortex-M3 class cores; a board opts in with
  # [build] size_targets in its board.toml.
  if(MG_BOARD_SIZE_TARGETS)
    add_custom_command(TARGET ${NAME} POST_BUILD
      COMMAND ${CMAKE_COMMAND} -DSIZE=${CMAKE_SIZE} -DELF=$<TARGET_FILE:${NAME}>
              -DFLASH_MAX=${D_FLASH_MAX} -DRAM_MAX=${D_RAM_MAX}
              -P ${DEVICE_APP_DIR}/size_targets.cmake
      VERBATIM)
  endif()
endfunction()

function(device_app_add_board_images)
  # Targets (issue 8, Cortex-M3 -Os): full 112 KiB flash / 48 KiB RAM,
  # HTTP-only 48 KiB / 24 KiB (RAM = data + bss).
  device_app_image(device_app CORE_DEFINES ${DEVICE_APP_FULL_CORE_DEFINES}
                   FLASH_MAX 114688 RAM_MAX 49152)
  device_app_image(device_app_http CORE_DEFINES ${DEVICE_APP_HTTP_CORE_DEFINES}
                   APP_DEFINES ${DEVICE_APP_HTTP_APP_DEFINES}
                   FLASH_MAX 49152 RAM_MAX 24576)
  # Boards with update slots: the full image linked for slot A (what the
  # factory writes) and for slot B (an update of it), and a slot B build whose
  # health check fails (it never confirms and resets itself after 8 s: the
  # rollback test) and one that hangs (the watchdog test). They share
  # device_app's core.
  if(MG_BOARD_HAS_SLOTS)
    device_app_image(device_app_slot_a CORE device_app_core SLOT a
                     FLASH_MAX 114688 RAM_MAX 49152)
    device_app_image(device_app_slot_b CORE device_app_core SLOT b
                     FLASH_MAX 114688 RAM_MAX 49152)
    device_app_image(device_app_slot_b_unhealthy CORE device_app_core SLOT b
                     APP_DEFINES DEVICE_HEALTH_FAIL=1 DEVICE_CONFIRM_TIMEOUT_MS=8000
                     FLASH_MAX 114688 RAM_MAX 49152)
    device_app_image(device_app_slot_b_hang CORE device_app_core SLOT b
                     APP_DEFINES DEVICE_HANG=1 FLASH_MAX 114688 RAM_MAX 49152)
  endif()
endfunction()
