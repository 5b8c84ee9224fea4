"""cymongoose: event-driven networking (HTTP, WebSocket, MQTT, TLS) for hosts and devices.

The compiled core lives in ``cymongoose._mongoose``; ``cymongoose.device`` (the device SDK)
is pure Python and imports even when the extension is not built.
"""

from __future__ import annotations


def _version() -> str:
    """The version of this copy of the package, written once in pyproject.toml.

    Installed: the package metadata of our distribution, provided that it describes this very
    copy (a source tree on ``sys.path`` may shadow an older installed one). Run from a source
    tree: the ``version`` line of its pyproject.toml, as CMake reads it for the firmware banner.
    """
    import re
    from importlib import metadata
    from pathlib import Path

    here = Path(__file__).resolve()
    try:
        dist = metadata.distribution("cymongoose-sdk")
        if Path(str(dist.locate_file("cymongoose/__init__.py"))).resolve() == here:
            return dist.version
    except metadata.PackageNotFoundError:
        pass
    try:
        text = (here.parents[2] / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return "0+unknown"
    m = re.search(r'^version\s*=\s*"([^"]+)"', text, re.MULTILINE)
    return m.group(1) if m else "0+unknown"


__version__ = _version()

_import_error: ImportError | None = None
try:
    from . import _mongoose as _mongoose
    from . import aio as aio
    from ._mongoose import *
    from ._mongoose import __all__ as _core_all
    from .aio import AsyncManager as AsyncManager
except ImportError as _exc:  # only without a built extension
    _import_error = _exc
    _core_all = []

__all__: list[str] = []
if _import_error is None:
    __all__ += ["AsyncManager"]
    __all__ += _core_all  # noqa: PLE0605 - the extension's own __all__ list


def __getattr__(name: str) -> object:
    if _import_error is not None:
        raise ImportError(
            f"cymongoose.{name} needs the compiled extension cymongoose._mongoose, "
            f"which failed to import: {_import_error}"
        ) from _import_error
    raise AttributeError(f"module 'cymongoose' has no attribute {name!r}")
