#!/usr/bin/env bash
# Package of `make test-posix` only (kept out of setup.sh so that the rest of
# `make test` does not pay for it): clang, the compiler of macOS and the BSDs,
# builds the portable POSIX profile. Safe to run again: it only installs what
# is missing.
set -euo pipefail

DEB_PACKAGES=(
  clang # the C compiler of the portable POSIX build (scripts/test_posix.sh)
)

bash "$(dirname "$0")/apt_install.sh" setup_posix "${DEB_PACKAGES[@]}"
