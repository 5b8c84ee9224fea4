#!/usr/bin/env bash
# Every feature flag of src/include/mg_config.h must build alone: for each flag,
# build the core (plus the core unit test, which links it) with that one flag
# switched to 0 and to 1, -Werror on; JOBS builds at a time (a build is mostly one
# configure step and a few compiles, so running them side by side fills the cores).
# The poll(2) fallback (MG_ENABLE_EPOLL=0) also runs the core unit test.
set -euo pipefail
cd "$(dirname "$0")/.."
flags=$(grep -o 'ifndef MG_ENABLE_[A-Z_0-9]*' src/include/mg_config.h | awk '{print $2}' | sort -u)

build_one() {
  local flag=$1 v=$2 dir=build/flags/$1-$2
  if cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug "-DMG_FEATURE_DEFINES=$flag=$v" \
       >"$dir.log" 2>&1 && cmake --build "$dir" --target test_core -j 1 >>"$dir.log" 2>&1; then
    echo "flags: $flag=$v builds"
  else
    echo "flags: $flag=$v FAILED to build (log: $dir.log)"
    tail -20 "$dir.log"
    return 1
  fi
}
export -f build_one
mkdir -p build/flags

fail=0
for flag in $flags; do printf '%s 0\n%s 1\n' "$flag" "$flag"; done |
  xargs -P "${JOBS:-2}" -n 2 bash -c 'build_one "$0" "$1"' || fail=1
echo "flags: running the core tests on the poll(2) fallback"
build/flags/MG_ENABLE_EPOLL-0/test_core || fail=1
exit $fail
