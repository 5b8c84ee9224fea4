#!/usr/bin/env bash
# `make test-posix`: the portable POSIX profile (MG_PORTABLE_POSIX, the code
# paths of macOS and the BSDs) proven on Linux: the core and its C unit tests
# built with clang, -Wall -Wextra -Werror as everywhere, into build/posix-clang
# (Linux-only headers poisoned, see CMakeLists.txt) and run by ctest. The tests
# left out of the profile are listed, with their reasons, in CMakeLists.txt
# (MG_POSIX_EXCLUDED). Installs clang when missing (scripts/setup_posix.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup_posix.sh

echo "== portable POSIX profile, clang -> build/posix-clang"
CC=clang cmake -S . -B build/posix-clang -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DMG_PORTABLE_POSIX=ON >/dev/null
cmake --build build/posix-clang -j "${JOBS:-2}"

echo "== C unit tests of the portable POSIX profile"
ctest --test-dir build/posix-clang --output-on-failure -j "${JOBS:-2}"
