# Compares a device_app image with the size targets of issue 8 (Cortex-M3,
# -Os) and prints the verdict after the size line; never fails the build.
#   cmake -DSIZE=<size tool> -DELF=<image> -DFLASH_MAX=<bytes> -DRAM_MAX=<bytes> -P size_targets.cmake
execute_process(COMMAND ${SIZE} -B -d ${ELF} OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "size targets: ${SIZE} failed on ${ELF}")
endif()
string(REGEX MATCH "\n *([0-9]+)[ \t]+([0-9]+)[ \t]+([0-9]+)" row "${out}")
math(EXPR flash "${CMAKE_MATCH_1} + ${CMAKE_MATCH_2}")
math(EXPR ram "${CMAKE_MATCH_2} + ${CMAKE_MATCH_3}")
get_filename_component(name ${ELF} NAME_WE)
set(verdict "met")
if(flash GREATER FLASH_MAX OR ram GREATER RAM_MAX)
  set(verdict "MISSED")
endif()
message("size target ${name}: flash ${flash} <= ${FLASH_MAX}, RAM ${ram} <= ${RAM_MAX}: ${verdict}")
