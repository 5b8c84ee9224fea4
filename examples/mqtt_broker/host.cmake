# Host build of the C example broker (included by the top-level CMakeLists
# for MG_BOARD=host): build/host/mqtt_broker. Skipped when MQTT is off.
if(NOT MG_FEATURE_DEFINES MATCHES "MG_ENABLE_MQTT=0")
  add_executable(mqtt_broker
    ${CMAKE_CURRENT_LIST_DIR}/main.c
    ${CMAKE_CURRENT_LIST_DIR}/wire.c
    ${CMAKE_CURRENT_LIST_DIR}/subs.c
    ${CMAKE_CURRENT_LIST_DIR}/session.c
    ${CMAKE_CURRENT_LIST_DIR}/route.c
    ${CMAKE_CURRENT_LIST_DIR}/will.c)
  target_link_libraries(mqtt_broker PRIVATE mg_core)
  target_compile_options(mqtt_broker PRIVATE ${MG_WARNINGS})
endif()
