#!/usr/bin/env bash
# Runs the Python test suite against an ASan+UBSan build of the extension.
# The instrumented extension is installed into build/asan-py (not into .venv) and put
# first on PYTHONPATH; libasan/libubsan are preloaded because the interpreter itself is
# not instrumented. Leak detection is off (CPython keeps memory until exit).
# Usage: scripts/test_asan_py.sh [pytest args]   (default: tests/python -m "not qemu")
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
"$PY" -m pip install -q --no-build-isolation --no-deps --upgrade --target build/asan-py \
  -C cmake.define.MG_SANITIZE=ON -C cmake.build-type=Debug -C build-dir=build/py-asan .
ASAN_LIB=$(gcc -print-file-name=libasan.so)
UBSAN_LIB=$(gcc -print-file-name=libubsan.so)
[ $# -gt 0 ] || set -- tests/python -q -m "not qemu" --ignore=tests/python/device
export LD_PRELOAD="$ASAN_LIB:$UBSAN_LIB"
export MG_ASAN_PRELOADED=1  # tests/python/conftest.py keeps it from non-Python peers
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export PYTHONPATH="$PWD/build/asan-py${PYTHONPATH:+:$PYTHONPATH}"
exec "$PY" -m pytest -p no:cacheprovider "$@"
