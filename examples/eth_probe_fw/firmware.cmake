# eth_probe_fw: the Ethernet driver alone; boards with Ethernet only.
if(MG_BOARD_HAS_ETH)
  mg_add_firmware(eth_probe_fw SOURCES ${CMAKE_CURRENT_LIST_DIR}/main.c)
endif()
