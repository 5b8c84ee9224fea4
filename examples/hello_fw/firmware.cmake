# hello_fw: every board builds it (console + clock only).
mg_add_firmware(hello_fw SOURCES ${CMAKE_CURRENT_LIST_DIR}/main.c)
