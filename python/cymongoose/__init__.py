"""cymongoose: event-driven networking (HTTP, WebSocket, MQTT, TLS) for hosts and devices.

The compiled core lives in ``cymongoose._mongoose``; ``cymongoose.device`` (the device SDK)
is pure Python and imports even when the extension is not built.
"""

from __future__ import annotations

__version__ = "0.2.5"

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
