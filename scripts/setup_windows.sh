#!/usr/bin/env bash
# Packages of `make test-windows` only (kept out of setup.sh so that the rest of
# `make test` does not pay for them): the mingw-w64 cross compiler for 64-bit
# Windows and Wine to run what it builds. Safe to run again: it only installs
# what is missing.
set -euo pipefail

DEB_PACKAGES=(
  gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64  # x86_64-w64-mingw32-gcc (of Debian's mingw-w64)
  wine64                                          # runs the test .exe files
)

bash "$(dirname "$0")/apt_install.sh" setup_windows "${DEB_PACKAGES[@]}"
