#!/usr/bin/env bash
# `make test-windows`: cross-builds the core and its C unit tests for 64-bit
# Windows with mingw-w64 (cmake/toolchain-mingw-w64.cmake, -Wall -Wextra
# -Werror as on Linux) into build/win64 and runs every test .exe under Wine,
# headless, in a Wine prefix of its own (build/wine). The tests left out of the
# Windows build are listed, with their reasons, in CMakeLists.txt
# (MG_WIN_EXCLUDED). Prints one line per test and the totals. Then cross-builds
# and links the Python extension for Windows (scripts/test_windows_pyext.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

bash scripts/setup_windows.sh

echo "== Windows cross-build (mingw-w64) -> build/win64"
cmake -S . -B build/win64 -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-mingw-w64.cmake >/dev/null
cmake --build build/win64 -j "${JOBS:-2}"

# Debian's wine64 package keeps its binaries in /usr/lib/wine (the "wine"
# package would add /usr/bin/wine64 wrappers).
WINE=$(command -v wine64 || echo /usr/lib/wine/wine64)
WINESERVER=$(command -v wineserver || echo /usr/lib/wine/wineserver)
export WINEPREFIX=$root/build/wine WINEDEBUG=-all WINEARCH=win64
export WINEDLLOVERRIDES="mscoree,mshtml=" # no Mono / Gecko install prompts
unset DISPLAY                              # headless: console programs only

if [ ! -f "$WINEPREFIX/system.reg" ]; then
  echo "== creating the Wine prefix build/wine"
  "$WINE" wineboot --init >"$root/build/wineboot.log" 2>&1 </dev/null || true
  "$WINESERVER" -w # let its server exit, so that ours below can start
fi
# One wineserver for the whole run (each test would otherwise start its own),
# stopped however the run ends.
"$WINESERVER" -p 60 >/dev/null 2>&1 </dev/null || true # fails if one runs already
trap '"$WINESERVER" -k >/dev/null 2>&1 || true' EXIT

echo "== C unit tests under Wine"
cd build/win64
total_pass=0 total_fail=0 failed=()
for exe in test_*.exe; do
  name=${exe%.exe}
  start=$(date +%s.%N)
  # Into a file, not a pipe: Wine's helper processes (services.exe ...)
  # inherit the descriptors and would hold a pipe open after the test ends.
  set +e
  timeout 120 "$WINE" "./$exe" >"$name.log" 2>&1 </dev/null
  rc=$?
  set -e
  out=$(tr -d '\r' <"$name.log") # the CRT writes CRLF
  secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  last=$(printf '%s\n' "$out" | tail -n 1)
  pass=0 fail=0
  if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    pass=${BASH_REMATCH[1]} fail=${BASH_REMATCH[2]}
  fi
  total_pass=$((total_pass + pass)) total_fail=$((total_fail + fail))
  if [ "$rc" -ne 0 ] || [ "$fail" -ne 0 ] || [ "$pass" -eq 0 ]; then
    failed+=("$name")
    printf '%s\n' "$out" | tail -n 30
    printf 'FAIL  %-28s rc=%d %6ss  %s\n' "$name" "$rc" "$secs" "$last"
  else
    printf 'ok    %-28s %6ss  %s\n' "$name" "$secs" "$last"
  fi
done
ntests=$(ls test_*.exe | wc -l)
echo "test-windows: $ntests test programs, $total_pass checks passed, $total_fail failed under Wine"
if [ ${#failed[@]} -gt 0 ]; then
  echo "test-windows: FAILED: ${failed[*]}"
  exit 1
fi

# The Python extension: cross-compiled and linked for Windows (not run: no
# Windows CPython here).
cd "$root"
bash scripts/test_windows_pyext.sh
