"""``cymongoose doctor``: what this machine has for the device features, and how to get the rest.

Each check is one line: ``ok``, ``missing`` (a thing the reference board needs: the compiled
extension, QEMU) or ``-`` (optional: only some boards or commands need it), with what was found
or how to get it (Debian package names; pip for Python packages).
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import hostos
from .boards import DEFAULT_BOARD

if TYPE_CHECKING:
    from .boards import BoardMap

OK, MISSING, OPTIONAL = "ok", "missing", "-"


@dataclass
class Check:
    name: str
    status: str  # OK, MISSING or OPTIONAL (absent but optional)
    detail: str  # what was found, or what it is needed for
    hint: str = ""  # how to get it when it is not ok
    required: bool = False

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def line(self, width: int) -> str:
        text = f"{self.status:8s}{self.name:{width}s}  {self.detail}"
        return text + (f"  -> {self.hint}" if self.hint and self.status != OK else "")


def _first_line(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=15, check=False,
                             stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"does not run: {exc}"
    for line in (out.stdout + out.stderr).splitlines():
        if line.strip():
            return line.strip()
    return f"exit code {out.returncode}, no output"


def tool(name: str, what: str, hint: str, *, required: bool = False,
         version_arg: str = "--version", path: str | None = None) -> Check:
    """A program on PATH (or at ``path``, found by the caller), with the first line of its
    ``--version``."""
    path = path or shutil.which(name)
    if path is None:
        return Check(name, MISSING if required else OPTIONAL, f"not on PATH ({what})", hint,
                     required)
    version = _first_line([path, version_arg])
    m = re.search(r"version (\S+)", version, re.IGNORECASE)
    shown = m.group(1) if m else version
    return Check(name, OK, f"{shown} ({path})", hint, required)


def python_module(label: str, module: str, what: str, hint: str, *,
                  required: bool = False) -> Check:
    """An importable Python module, with its version and location."""
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        return Check(label, MISSING if required else OPTIONAL, f"{exc} ({what})", hint, required)
    version = getattr(mod, "__version__", None) or getattr(mod, "VERSION", None) or ""
    where = getattr(mod, "__file__", None) or ""
    return Check(label, OK, " ".join(str(x) for x in (version, f"({where})") if x), hint,
                 required)


def _cap_net_admin() -> bool:
    if hostos.system_of() != "linux":
        return False  # no TAP devices to create
    if os.geteuid() == 0:
        return True
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) & (1 << 12))  # CAP_NET_ADMIN
    except (OSError, ValueError, IndexError):
        pass
    return False


def tun_check(dev: str = "/dev/net/tun") -> Check:
    what = "bridge --tap; the root-free bridge (--forward) does not need it"
    if not os.path.exists(dev):
        return Check("tun", OPTIONAL, f"{dev} does not exist ({what})",
                     "modprobe tun (or run the container with --device /dev/net/tun)")
    if not os.access(dev, os.R_OK | os.W_OK):
        return Check("tun", OPTIONAL, f"{dev} is not readable and writable ({what})",
                     "run as root")
    if not _cap_net_admin():
        return Check("tun", OPTIONAL, f"{dev} usable, but creating a TAP needs CAP_NET_ADMIN "
                     f"({what})", "run as root or grant CAP_NET_ADMIN")
    return Check("tun", OK, f"{dev} usable, CAP_NET_ADMIN held")


def serial_check(devices: Iterable[str]) -> Check:
    devices = list(devices)
    hint = "sudo usermod -aG dialout $USER (then log in again)"
    if not devices:
        return Check("serial ports", OPTIONAL, "none found (boards on USB serial need one)", "")
    denied = [d for d in devices if not os.access(d, os.R_OK | os.W_OK)]
    if denied:
        return Check("serial ports", OPTIONAL,
                     f"{len(devices)} found, not readable and writable: {', '.join(denied)}",
                     hint)
    return Check("serial ports", OK, f"{len(devices)} found, all readable and writable: "
                 f"{', '.join(devices)}")


def run_checks(bmap: BoardMap) -> list[Check]:
    checks = [python_module("extension", "cymongoose._mongoose",
                            "the networking core: bridge, host boards",
                            "pip install cymongoose-sdk (a wheel), or make ext in the source "
                            "tree", required=True)]
    # One line per QEMU binary, naming its boards; the reference board's is required.
    boards_of: dict[str, list[str]] = {}
    for b in bmap:
        if b.boot == "qemu" and not b.build_only:
            boards_of.setdefault(str(b.qemu.get("binary", "qemu-system-arm")), []).append(b.name)
    for q, names in sorted(boards_of.items()):
        checks.append(tool(q, "emulated boards: " + ", ".join(names),
                           hostos.qemu_install_hint(q), required=DEFAULT_BOARD in names,
                           path=hostos.find_qemu(q)))
    checks += [
        tool("arm-none-eabi-gcc", "cymongoose build for arm boards",
             "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi"),
        tool("cmake", "cymongoose build", "pip install cmake (or apt-get install cmake)"),
        tool("ninja", "faster cymongoose build", "pip install ninja (or apt-get install "
             "ninja-build)"),
        tool("openocd", "flash --backend openocd", "apt-get install openocd"),
        tool("pyocd", "flash --backend pyocd", "pip install pyocd"),
        python_module("pyserial", "serial", "serial ports: console --port, ports, bridge --serial",
                      "pip install 'cymongoose-sdk[device]'"),
        python_module("labgrid", "labgrid", "--lg-place: boards on other hosts", "pip install labgrid"),
    ]
    from .cliutil import list_ports
    from .errors import DeviceError

    try:
        checks.append(serial_check(p.device for p in list_ports(bmap)))
    except (DeviceError, OSError) as exc:  # no pyserial: reported above
        checks.append(Check("serial ports", OPTIONAL, f"cannot list: {exc}",
                            "pip install 'cymongoose-sdk[device]'"))
    checks.append(tun_check())
    return checks
