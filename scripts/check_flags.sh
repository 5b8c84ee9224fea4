#!/usr/bin/env bash
# Every feature flag of src/include/mg_config.h must build alone: for each flag,
# build the core (plus the core unit test, which links it) with that one flag
# switched to 0 and to 1, -Werror on. The poll(2) fallback (MG_ENABLE_EPOLL=0)
# also runs the core unit test.
set -euo pipefail
cd "$(dirname "$0")/.."
flags=$(grep -o 'ifndef MG_ENABLE_[A-Z_0-9]*' src/include/mg_config.h | awk '{print $2}' | sort -u)
fail=0
for flag in $flags; do
  for v in 0 1; do
    dir=build/flags/$flag-$v
    if ! { cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
             "-DMG_FEATURE_DEFINES=$flag=$v" >/dev/null &&
           cmake --build "$dir" --target test_core -j "${JOBS:-2}" >"$dir.log" 2>&1; }; then
      echo "flags: $flag=$v FAILED to build (log: $dir.log)"
      tail -20 "$dir.log"
      fail=1
      continue
    fi
    echo "flags: $flag=$v builds"
  done
done
echo "flags: running the core tests on the poll(2) fallback"
build/flags/MG_ENABLE_EPOLL-0/test_core || fail=1
exit $fail
