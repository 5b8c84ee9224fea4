"""cymongoose: event-driven networking (HTTP, WebSocket, MQTT, TLS) for hosts and devices.

The compiled core lives in ``cymongoose._mongoose``; ``cymongoose.device`` (the device SDK)
is pure Python and imports even when the extension is not built.
"""

__version__ = "0.2.5"

try:
    from . import _mongoose
    from ._mongoose import *  # noqa: F403
    from ._mongoose import __all__ as _core_all
except ImportError as _exc:  # pragma: no cover - only without a built extension
    _import_error: ImportError | None = _exc
    _core_all = []
else:
    _import_error = None

try:
    from .aio import AsyncManager
except ImportError:  # pragma: no cover - aio needs the extension
    pass

__all__ = ["AsyncManager", *_core_all] if "AsyncManager" in globals() else list(_core_all)


def __getattr__(name: str):
    if _import_error is not None:
        raise ImportError(
            f"cymongoose.{name} needs the compiled extension cymongoose._mongoose, "
            f"which failed to import: {_import_error}"
        ) from _import_error
    raise AttributeError(f"module 'cymongoose' has no attribute {name!r}")
