# Prints the size of a firmware image after it is linked:
#   cmake -DSIZE=<arm-none-eabi-size> -DELF=<image.elf> -DBOARD=<name> -P size_report.cmake
# flash = text + data (initial values live in flash), RAM = data + bss (the
# heap and stack come on top, see the board's linker script).
execute_process(COMMAND ${SIZE} -B -d ${ELF} OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "size report: ${SIZE} failed on ${ELF}")
endif()
string(REGEX MATCH "\n *([0-9]+)[ \t]+([0-9]+)[ \t]+([0-9]+)" row "${out}")
set(text ${CMAKE_MATCH_1})
set(data ${CMAKE_MATCH_2})
set(bss ${CMAKE_MATCH_3})
math(EXPR flash "${text} + ${data}")
math(EXPR ram "${data} + ${bss}")
get_filename_component(name ${ELF} NAME_WE)
message("size ${name} (${BOARD}): text=${text} data=${data} bss=${bss} "
        "flash=${flash} ram=${ram}")
