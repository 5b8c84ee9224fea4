# The OTA signing key built into device_app (docs/image-format.md, "Signed updates").
#   -DMG_OTA_PUBKEY=path/to/release.key.pub   the PEM public key `cymongoose image keygen`
#                                             writes: updates must be signed by it
#   unset / empty                             development build: unsigned images accepted
# The PEM (an Ed25519 SubjectPublicKeyInfo) is decoded here, in CMake, into the 32 key
# bytes, passed to the C code as DEVICE_OTA_PUBKEY=0x..,0x..,...: no tool beyond CMake.
include_guard(GLOBAL)

# The 32 raw key bytes of the PEM public key in FILE, as a C initialiser list, in OUT.
function(device_app_pubkey_bytes FILE OUT)
  if(NOT EXISTS "${FILE}")
    message(FATAL_ERROR "MG_OTA_PUBKEY: ${FILE} does not exist")
  endif()
  file(READ "${FILE}" pem)
  if(pem MATCHES "PRIVATE KEY")
    message(FATAL_ERROR "MG_OTA_PUBKEY: ${FILE} is a private key; give the public key "
                        "(the .pub file beside it): a private key never goes into firmware")
  endif()
  if(NOT pem MATCHES "-----BEGIN PUBLIC KEY-----([A-Za-z0-9+/= \t\r\n]+)-----END PUBLIC KEY-----")
    message(FATAL_ERROR "MG_OTA_PUBKEY: ${FILE} is not a PEM public key "
                        "(-----BEGIN PUBLIC KEY-----; make one with `cymongoose image keygen`)")
  endif()
  string(REGEX REPLACE "[= \t\r\n]" "" b64 "${CMAKE_MATCH_1}")
  set(alphabet "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
  set(acc 0)
  set(nbits 0)
  set(bytes "")
  string(LENGTH "${b64}" n)
  math(EXPR last "${n} - 1")
  foreach(i RANGE ${last})
    string(SUBSTRING "${b64}" ${i} 1 ch)
    string(FIND "${alphabet}" "${ch}" v)
    math(EXPR acc "((${acc} << 6) | ${v}) & 0xffff")
    math(EXPR nbits "${nbits} + 6")
    if(nbits GREATER_EQUAL 8)
      math(EXPR nbits "${nbits} - 8")
      math(EXPR byte "(${acc} >> ${nbits}) & 255")
      list(APPEND bytes ${byte})
    endif()
  endforeach()
  # DER of an Ed25519 SubjectPublicKeyInfo: 12 fixed bytes (SEQUENCE, the algorithm
  # id 1.3.101.112, BIT STRING of 33 bytes, 0 unused bits), then the 32 key bytes.
  set(prefix 48 42 48 5 6 3 43 101 112 3 33 0)
  list(LENGTH bytes len)
  if(len EQUAL 44)
    list(SUBLIST bytes 0 12 head)
  else()
    set(head "")
  endif()
  if(NOT head STREQUAL prefix)
    message(FATAL_ERROR "MG_OTA_PUBKEY: ${FILE} is not an Ed25519 public key")
  endif()
  list(SUBLIST bytes 12 32 key)
  set(c "")
  foreach(b IN LISTS key)
    math(EXPR h "${b}" OUTPUT_FORMAT HEXADECIMAL)
    list(APPEND c ${h})
  endforeach()
  list(JOIN c "," c)
  set(${OUT} "${c}" PARENT_SCOPE)
endfunction()

# Script mode, for tests: cmake -DKEY=file.pub -P ota_pubkey.cmake prints the bytes.
if(CMAKE_SCRIPT_MODE_FILE)
  device_app_pubkey_bytes("${KEY}" bytes)
  message("${bytes}")
  return()
endif()

# DEVICE_APP_OTA_DEFINES: what every device_app target of this build compiles with.
set(MG_OTA_PUBKEY "" CACHE FILEPATH
    "Ed25519 public key (PEM, cymongoose image keygen) that device_app updates must be signed with; empty: unsigned updates accepted (development build)")

set(DEVICE_APP_OTA_DEFINES "")
if(MG_OTA_PUBKEY)
  get_filename_component(_key "${MG_OTA_PUBKEY}" ABSOLUTE)
  set_property(DIRECTORY ${CMAKE_SOURCE_DIR} APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${_key}")
  device_app_pubkey_bytes("${_key}" _bytes)
  set(DEVICE_APP_OTA_DEFINES "DEVICE_OTA_PUBKEY=${_bytes}")
  message(STATUS "device_app: OTA updates must be signed by ${_key}")
else()
  message(NOTICE "device_app: no MG_OTA_PUBKEY: a development build, OTA takes unsigned "
                 "(hash-checked) images; -DMG_OTA_PUBKEY=key.pub to require signed updates")
endif()
