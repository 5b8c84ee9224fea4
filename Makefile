# The two commands of the README:
#   make demo   build everything, boot the reference firmware in QEMU, run the host harness
#   make test   every test (C unit tests plain, under ASan/UBSan, under Wine and in the portable
#               POSIX profile with clang, firmware builds, pytest)
# Both set the machine up first (Debian packages + .venv), see scripts/setup.sh.

SHELL := /bin/bash
export PATH := $(CURDIR)/.venv/bin:$(PATH)
PY := $(CURDIR)/.venv/bin/python
JOBS ?= 2
GEN := -G Ninja
FW_BOARDS ?=
PYTEST_ARGS ?=

.PHONY: all setup ext host asan fw flags test test-c test-py test-asan test-windows test-posix demo lint clean

all: ext host fw

setup:
	@bash scripts/setup.sh

# The Python extension, installed into .venv (incremental build in build/py-*).
ext: setup
	@echo "== building the cymongoose extension"
	@$(PY) -m pip install -q --no-build-isolation --no-deps . 2>&1 | grep -v "^ *$$" || true
	@$(PY) -c "import cymongoose._mongoose" 

# Host C library, unit tests and host examples.
host: setup
	@cmake -S . -B build/host $(GEN) -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build build/host -j $(JOBS)

asan: setup
	@cmake -S . -B build/asan $(GEN) -DCMAKE_BUILD_TYPE=Debug -DMG_SANITIZE=ON >/dev/null
	@cmake --build build/asan -j $(JOBS)

# Firmware for every emulated board of the SDK's board map (boot = "qemu" and not
# build_only, listed by scripts/fw_boards.py with its toolchain file), each into its
# own build/fw-<board>; the reference board mps2-an385 into build/fw as before, with
# build/fw-mps2-an385 a link to it. FW_BOARDS="a b" builds only those boards.
fw: setup
	@set -e; boards=$$($(PY) scripts/fw_boards.py --only "$(FW_BOARDS)"); \
	while read -r board toolchain; do \
	  dir=build/fw-$$board; [ "$$board" = mps2-an385 ] && dir=build/fw; \
	  echo "== firmware $$board -> $$dir"; \
	  cmake -S . -B $$dir $(GEN) -DMG_BOARD=$$board -DCMAKE_TOOLCHAIN_FILE=$$toolchain \
	    -DCMAKE_BUILD_TYPE=MinSizeRel >/dev/null; \
	  cmake --build $$dir -j $(JOBS); \
	done <<< "$$boards"; \
	if [ -d build/fw ] && [ ! -e build/fw-mps2-an385 ]; then ln -s fw build/fw-mps2-an385; fi

# Each feature flag of mg_config.h builds alone (0 and 1), -Werror.
flags: setup
	@JOBS=$(JOBS) bash scripts/check_flags.sh

test-c: host asan
	@echo "== C unit tests"
	@ctest --test-dir build/host --output-on-failure -j $(JOBS)
	@echo "== C unit tests under ASan+UBSan"
	@ASAN_OPTIONS=detect_leaks=1 ctest --test-dir build/asan --output-on-failure -j $(JOBS)

# JOBS pytest-xdist workers, a test file per worker at a time (module fixtures stay shared);
# most tests wait on peers and emulators, so two workers take about half the time of one.
test-py: ext fw host
	@echo "== Python tests"
	@MG_FW_DIR=$(CURDIR)/build/fw $(PY) -m pytest -q -n $(JOBS) --dist loadfile --durations=25 \
	  --device-report $(CURDIR)/build/device-report.html $(PYTEST_ARGS)

test: lint test-c flags fuzz test-py test-windows test-posix

# The core and its C unit tests cross-built for Windows (mingw-w64) and run under
# Wine (scripts/test_windows.sh; installs its own packages, scripts/setup_windows.sh),
# then the Python extension cross-built and linked for Windows (Cython from the venv).
test-windows: setup
	@bash scripts/test_windows.sh

# The portable POSIX profile (MG_PORTABLE_POSIX: the code paths of macOS and
# the BSDs) built with clang -Werror into build/posix-clang, its C unit tests
# run by ctest (scripts/test_posix.sh; installs clang, scripts/setup_posix.sh).
test-posix:
	@bash scripts/test_posix.sh

# The Python suite (QEMU and root-only tests excluded) on an ASan+UBSan build of the
# extension; separate from `make test` because it takes several minutes more.
test-asan: setup
	@bash scripts/test_asan_py.sh tests/python -q -m "not qemu" --ignore=tests/python/device -n $(JOBS)

demo: ext fw
	@$(PY) examples/demo.py --firmware build/fw

# ruff, mypy --strict on the pure-Python parts, and stubtest: the .pyi against the
# built extension (names the stub describes that the runtime lacks: the allowlist).
lint: setup ext
	@ruff check python tests examples bench
	@mypy python/cymongoose/device python/cymongoose/aio.py python/cymongoose/wsgi.py \
	  python/cymongoose/asgi.py python/cymongoose/stack.py
	@printf '[mypy]\n' > build/stubtest.ini
	@cd build && MYPYPATH=$(CURDIR)/python $(PY) -m mypy.stubtest cymongoose._mongoose \
	  --allowlist $(CURDIR)/tests/python/stubtest_allowlist.txt --ignore-unused-allowlist \
	  --mypy-config-file stubtest.ini

clean:
	rm -rf build

# Fuzz targets tests/fuzz/fuzz_<name>.c: linked with the ASan+UBSan core and run by the
# standalone driver over tests/fuzz/corpus/<name>/ (+ dict/<name>.dict) for FUZZ_SECONDS
# of wall-clock time each, JOBS at a time (scripts/fuzz.sh; FUZZ_RUNS only caps the number
# of mutated inputs; its default is never reached), see tests/fuzz/README.md.
.PHONY: fuzz
FUZZ_RUNS ?= 1000000000
FUZZ_SECONDS ?= 20
FUZZ_SEED ?= 1
FUZZ_LIBS ?= -lssl -lcrypto -lpthread -lm
FUZZ_CFLAGS := -std=c11 -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all \
  -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Isrc/include
fuzz: setup
	@cmake -S . -B build/asan $(GEN) -DCMAKE_BUILD_TYPE=Debug -DMG_SANITIZE=ON >/dev/null
	@cmake --build build/asan -j $(JOBS) --target mg_core
	@JOBS=$(JOBS) FUZZ_RUNS=$(FUZZ_RUNS) FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_SEED=$(FUZZ_SEED) \
	  FUZZ_CFLAGS="$(FUZZ_CFLAGS)" FUZZ_LIBS="$(FUZZ_LIBS)" bash scripts/fuzz.sh

# Release artifacts in dist/: the sdist and a manylinux wheel for .venv's Python, repaired by
# auditwheel with OpenSSL bundled (scripts/build_wheel.sh; incremental: it reuses the build
# directory of `make ext`). tests/python/test_wheel.py installs it into a fresh venv.
.PHONY: wheel
wheel: setup
	@bash scripts/build_wheel.sh
