#!/usr/bin/env bash
# Installs the Debian packages named on the command line that are not installed
# yet (root, or sudo). Used by setup.sh, setup_windows.sh and setup_posix.sh.
# Usage: scripts/apt_install.sh WHO PACKAGE...   (WHO prefixes the one message)
set -euo pipefail
who=$1
shift
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -gt 0 ] || exit 0
echo "$who: installing Debian packages: ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
# Wait for another apt run (the setup of a parallel build) instead of failing.
APT=(-o DPkg::Lock::Timeout=600)
$SUDO apt-get "${APT[@]}" update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get "${APT[@]}" install -y -qq --no-install-recommends \
  "${missing[@]}"
