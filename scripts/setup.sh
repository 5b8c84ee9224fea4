#!/usr/bin/env bash
# Prepares a fresh Debian machine for `make demo` / `make test`:
# installs the Debian packages we need when they are missing, then creates
# .venv from PyPI. Safe to run again: it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

DEB_PACKAGES=(
  gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm  # firmware + emulator
  gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf       # RISC-V firmware (riscv32-virt)
  qemu-system-misc                                           # its emulator (qemu-system-riscv32)
  curl netcat-openbsd                                        # real peers in tests
  libssl-dev                                                 # TLS backend (host)
  iputils-ping iproute2                                      # built-in stack TAP tests
  mosquitto mosquitto-clients                                # MQTT peers in tests
  wrk nginx-light                                            # HTTP benchmarks and their nginx peer (bench/)
  ser2net                                                    # labgrid exporter's serial server (device tests)
  chromium                                                   # renders the device test report (headless)
)

bash "$(dirname "$0")/apt_install.sh" setup "${DEB_PACKAGES[@]}"

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.requirements.stamp
if [ ! -f "$stamp" ] || [ requirements-dev.txt -nt "$stamp" ]; then
  echo "setup: installing Python packages into .venv"
  # "python -m pip", not .venv/bin/pip: a copied venv's pip script would still
  # install into the venv it was copied from.
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r requirements-dev.txt
  touch "$stamp"
fi
