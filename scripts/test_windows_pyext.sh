#!/usr/bin/env bash
# Part of `make test-windows`: cross-compiles the Python extension
# cymongoose._mongoose for 64-bit Windows with mingw-w64 and links it against
# CPython's Windows DLL, into build/win64-pyext. It is not imported: no Windows
# CPython can be had here (docs/hosts.md says what this does and does not show).
#
# CPython's Windows headers and import library are on neither PyPI nor Debian as
# such, so they are made from what Debian has: the platform-neutral Include/ and
# PC/pyconfig.h (the Windows configuration) from the source package of the venv's
# Python version (apt-get source), and an import library for python3XY.dll made
# by dlltool from every PyAPI_FUNC/PyAPI_DATA of those headers
# (scripts/win_python_def.py).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
PY=${PY:-$root/.venv/bin/python}
ver=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
nodot=${ver/./}
dir=$root/build/winpy/$ver

if [ ! -f "$dir/include/Python.h" ] || [ ! -f "$dir/include/pyconfig.h" ]; then
  echo "== CPython $ver headers for Windows from Debian's source package python$ver"
  rm -rf "$dir" && mkdir -p "$dir/src"
  python3 scripts/apt_deb_src.py  # apt-get source needs deb-src entries
  # Only the upstream tarball is needed (the mirror may lack the .dsc of an update).
  (cd "$dir/src" && apt-get source --download-only "python$ver" >"$dir/src/apt.log" 2>&1) || true
  if ! ls "$dir"/src/python"$ver"_*.orig.tar.* >/dev/null 2>&1; then
    tail -n 5 "$dir/src/apt.log"
    echo "test-windows: cannot download Debian's source package python$ver (apt needs deb-src" \
         "entries); the extension's Windows link check needs CPython's PC/pyconfig.h" >&2
    exit 1
  fi
  tar -xf "$dir"/src/python"$ver"_*.orig.tar.* -C "$dir/src" --strip-components=1 \
    --wildcards '*/Include/*' '*/PC/pyconfig.h'
  cp -a "$dir/src/Include" "$dir/include"
  cp "$dir/src/PC/pyconfig.h" "$dir/include/pyconfig.h"
  rm -rf "$dir/src"
fi
if [ ! -f "$dir/libpython$nodot.dll.a" ]; then
  "$PY" scripts/win_python_def.py "$dir/include" "python$nodot.dll" "$dir/python$nodot.def"
  x86_64-w64-mingw32-dlltool -d "$dir/python$nodot.def" -l "$dir/libpython$nodot.dll.a" \
    -D "python$nodot.dll"
fi

echo "== the Python extension cross-built for Windows (mingw-w64) -> build/win64-pyext"
suffix=".cp$nodot-win_amd64.pyd"
cmake -S . -B build/win64-pyext -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-mingw-w64.cmake -DMG_PYTHON_EXT=ON \
  -DPython_INCLUDE_DIR="$dir/include" -DPython_LIBRARY="$dir/libpython$nodot.dll.a" \
  -DMG_PYTHON_EXT_SUFFIX="$suffix" -DCYTHON_EXECUTABLE="$(dirname "$PY")/cython" >/dev/null
cmake --build build/win64-pyext -j "${JOBS:-2}" >build/win64-pyext/build.log 2>&1 || {
  tail -n 40 build/win64-pyext/build.log
  echo "test-windows: FAILED: the extension does not build for Windows" >&2
  exit 1
}

# What the module needs and offers: CPython's DLL and Winsock, and its init function.
pyd=build/win64-pyext/_mongoose$suffix
dump=$(x86_64-w64-mingw32-objdump -p "$pyd")
fail=0
for dll in "python$nodot.dll" WS2_32.dll; do
  grep -qi "DLL Name: $dll" <<<"$dump" || { echo "$pyd does not import $dll" >&2; fail=1; }
done
grep -q "PyInit__mongoose" <<<"$dump" || { echo "$pyd does not export PyInit__mongoose" >&2; fail=1; }
nimp=$(awk -v d="python$nodot.dll" 'tolower($0) ~ "dll name: " tolower(d) {f=1; next}
  /DLL Name/ {f=0} f && $NF ~ /^_?Py/ {n++} END {print n+0}' <<<"$dump")
if [ "$fail" -ne 0 ]; then
  echo "test-windows: FAILED: $pyd"
  exit 1
fi
echo "test-windows: extension $(basename "$pyd") built and linked ($(stat -c %s "$pyd") bytes," \
     "$nimp functions from python$nodot.dll, Winsock); not imported: no Windows CPython here"
