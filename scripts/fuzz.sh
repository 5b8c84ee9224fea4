#!/usr/bin/env bash
# Builds and runs every fuzz target tests/fuzz/fuzz_<name>.c against the ASan+UBSan core (build/asan),
# JOBS at a time, each for FUZZ_SECONDS of wall-clock time over its corpus
# and dictionary (tests/fuzz/README.md). One log per target in build/fuzz/<target>.log;
# each target's last line is printed, and the whole log of any target that failed.
# Environment (set by `make fuzz`): JOBS FUZZ_RUNS FUZZ_SECONDS FUZZ_SEED FUZZ_CFLAGS FUZZ_LIBS.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p build/fuzz

targets=()
for src in tests/fuzz/fuzz_*.c; do targets+=("$(basename "$src" .c)"); done

run_one() {
  local name=$1 short=${1#fuzz_} args=()
  # shellcheck disable=SC2086  # the flag lists are meant to split
  cc $FUZZ_CFLAGS "tests/fuzz/$name.c" tests/fuzz/standalone_main.c build/asan/libmg_core.a \
    $FUZZ_LIBS -o "build/fuzz/$name" || { echo "== $name does not build"; return 1; }
  [ -f "tests/fuzz/dict/$short.dict" ] && args+=(-d "tests/fuzz/dict/$short.dict")
  [ -d "tests/fuzz/corpus/$short" ] && args+=("tests/fuzz/corpus/$short")
  if "build/fuzz/$name" -n "$FUZZ_RUNS" -s "$FUZZ_SEED" -t "$FUZZ_SECONDS" "${args[@]}" \
      > "build/fuzz/$name.log" 2>&1; then
    tail -n 1 "build/fuzz/$name.log"
  else
    echo "== $name FAILED (build/fuzz/$name.log):"
    cat "build/fuzz/$name.log"
    echo "== to keep the input that failed: build/fuzz/$name -n $FUZZ_RUNS -s $FUZZ_SEED" \
         "-t $FUZZ_SECONDS -o crash.bin ${args[*]}"
    return 1
  fi
}
export -f run_one
export FUZZ_RUNS FUZZ_SEED FUZZ_SECONDS FUZZ_CFLAGS FUZZ_LIBS

echo "== fuzzing ${#targets[@]} targets, ${FUZZ_SECONDS} s each, ${JOBS} at a time"
printf '%s\n' "${targets[@]}" | xargs -P "$JOBS" -I{} bash -c 'run_one {}'
