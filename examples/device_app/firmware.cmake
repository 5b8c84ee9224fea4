# The reference firmware (device_app, device_app_http); boards with Ethernet.
if(MG_BOARD_HAS_ETH)
  include(${CMAKE_CURRENT_LIST_DIR}/device_app.cmake)
  device_app_add_board_images()
endif()
