# net_fw: the TCP/IP stack with the core's default pools; boards with Ethernet
# and the RAM for them (a board lists net_fw in its board.toml [build] skip_apps otherwise).
if(MG_BOARD_HAS_ETH AND NOT "net_fw" IN_LIST MG_BOARD_SKIP_APPS)
  mg_add_firmware(net_fw SOURCES ${CMAKE_CURRENT_LIST_DIR}/main.c)
endif()
