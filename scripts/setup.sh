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

missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

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
