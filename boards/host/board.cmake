# The host "board" (MG_BOARD=host, included by the top-level CMakeLists after
# the C tests): firmware apps as Linux processes on kernel sockets, console on
# stdin/stdout. Builds build/host/device_app.
include(${CMAKE_SOURCE_DIR}/examples/device_app/device_app.cmake)
file(STRINGS ${CMAKE_SOURCE_DIR}/pyproject.toml _mg_ver REGEX "^version *= *\"[^\"]+\"" LIMIT_COUNT 1)
string(REGEX REPLACE "^version *= *\"([^\"]+)\".*" "\\1" MG_FW_VERSION "${_mg_ver}")

add_library(mg_board_host OBJECT ${CMAKE_SOURCE_DIR}/boards/host/board.c)
target_include_directories(mg_board_host PUBLIC ${CMAKE_SOURCE_DIR}/boards/host
                           ${CMAKE_SOURCE_DIR}/boards/common)
target_link_libraries(mg_board_host PUBLIC mg_core)
target_compile_options(mg_board_host PRIVATE ${MG_WARNINGS})

add_executable(device_app ${DEVICE_APP_SOURCES})
target_link_libraries(device_app PRIVATE mg_board_host mg_core)
target_compile_options(device_app PRIVATE ${MG_WARNINGS})
target_compile_definitions(device_app PRIVATE MG_FW_VERSION="${MG_FW_VERSION}"
                           ${DEVICE_APP_OTA_DEFINES})
