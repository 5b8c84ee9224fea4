"""Writes a module-definition (.def) file for CPython's Windows DLL (python3XY.dll) from CPython's
public headers: every ``PyAPI_FUNC`` as a function export, every ``PyAPI_DATA`` as a data export.
With mingw-w64's ``dlltool`` it becomes the import library that `make test-windows` links the
cross-built extension against (python.org's own ``python3XY.lib`` is not on PyPI or Debian).

usage: win_python_def.py INCLUDE_DIR DLL_NAME OUT.def
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

FUNC = re.compile(r"PyAPI_FUNC\s*\((?:[^()]|\([^()]*\))*\)\s*\(?\s*(\w+)\s*\)?\s*\(")
DATA = re.compile(r"PyAPI_DATA\s*\((?:[^()]|\([^()]*\))*\)\s*(\w+)")


def exports(include: Path) -> tuple[set[str], set[str]]:
    funcs: set[str] = set()
    data: set[str] = set()
    for header in include.rglob("*.h"):
        if "internal" in header.relative_to(include).parts:
            continue  # Py_BUILD_CORE only
        text = re.sub(r"\\\n", " ", header.read_text(encoding="utf-8", errors="replace"))
        text = re.sub(r"/\*.*?\*/", " ", text, flags=re.DOTALL)
        text = re.sub(r"#\s*define[^\n]*", " ", text)  # PyAPI_FUNC's own definition
        funcs.update(m.group(1) for m in FUNC.finditer(text))
        data.update(m.group(1) for m in DATA.finditer(text))
    return funcs, data - funcs


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    funcs, data = exports(Path(argv[1]))
    if len(funcs) < 500:
        print(f"win_python_def: only {len(funcs)} functions in {argv[1]}: not CPython's headers?",
              file=sys.stderr)
        return 1
    lines = [f"LIBRARY {argv[2]}", "EXPORTS"]
    lines += [f"  {name}" for name in sorted(funcs)]
    lines += [f"  {name} DATA" for name in sorted(data)]
    Path(argv[3]).write_text("\n".join(lines) + "\n")
    print(f"win_python_def: {len(funcs)} functions, {len(data)} data exports -> {argv[3]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
