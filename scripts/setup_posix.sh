#!/usr/bin/env bash
# Package of `make test-posix` only (kept out of setup.sh so that the rest of
# `make test` does not pay for it): clang, the compiler of macOS and the BSDs,
# builds the portable POSIX profile. Safe to run again: it only installs what
# is missing.
set -euo pipefail

DEB_PACKAGES=(
  clang # the C compiler of the portable POSIX build (scripts/test_posix.sh)
)

missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup_posix: installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  # Wait for another apt run (setup.sh of a parallel build) instead of failing.
  APT=(-o DPkg::Lock::Timeout=600)
  $SUDO apt-get "${APT[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get "${APT[@]}" install -y -qq --no-install-recommends \
    "${missing[@]}"
fi
