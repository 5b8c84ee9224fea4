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

missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup_windows: installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  # Wait for another apt run (setup.sh of a parallel build) instead of failing.
  APT=(-o DPkg::Lock::Timeout=600)
  $SUDO apt-get "${APT[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get "${APT[@]}" install -y -qq --no-install-recommends \
    "${missing[@]}"
fi
