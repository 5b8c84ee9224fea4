#!/usr/bin/env python3
"""Lets `apt-get source` work: adds a deb-src twin of each Debian apt source.

The machine's sources name binary packages only (`Types: deb`); the source packages
some checks read (mosquitto's broker tests, CPython's Windows headers) need `deb-src`.
The twin goes into a file of its own, /etc/apt/sources.list.d/cymongoose-deb-src.sources
(or .list for one-line sources), then `apt-get update` runs. Nothing is done when that
file exists. Needs root; exits non-zero with the reason otherwise.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

APT_DIR = Path("/etc/apt/sources.list.d")
SRC_LIST = APT_DIR / "cymongoose-deb-src.sources"
TYPES_DEB = re.compile(r"^Types:\s*deb\s*$", re.MULTILINE)


def twins(apt_dir: Path = APT_DIR, legacy: Path = Path("/etc/apt/sources.list")
          ) -> tuple[list[str], list[str]]:
    """(deb822 stanzas, one-line entries): the deb-src twins of the Debian sources."""
    deb822: list[str] = []
    for f in sorted(apt_dir.glob("*.sources")):
        if f.name == SRC_LIST.name:
            continue
        for stanza in f.read_text().split("\n\n"):
            if TYPES_DEB.search(stanza) and "debian" in stanza:
                deb822.append(TYPES_DEB.sub("Types: deb-src", stanza.strip()))
    lines: list[str] = []
    if legacy.exists():
        lines = [line.replace("deb ", "deb-src ", 1) for line in legacy.read_text().splitlines()
                 if line.startswith("deb ") and "debian" in line]
    return deb822, lines


def main() -> int:
    if SRC_LIST.exists() or SRC_LIST.with_suffix(".list").exists():
        return 0
    deb822, lines = twins()
    if not deb822 and not lines:
        print("apt_deb_src: no Debian apt source found to twin", file=sys.stderr)
        return 1
    if os.geteuid() != 0:
        print(f"apt_deb_src: writing {SRC_LIST} needs root (apt-get source needs deb-src)",
              file=sys.stderr)
        return 1
    if deb822:
        SRC_LIST.write_text("\n\n".join(deb822) + "\n")
    if lines:
        SRC_LIST.with_suffix(".list").write_text("\n".join(lines) + "\n")
    return subprocess.run(["apt-get", "update", "-qq"], check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
