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
    from .aio import AsyncManager as AsyncManager
except ImportError as _exc:  # only without a built extension
    _import_error = _exc

# Written out (not computed) so editors, type checkers and `from cymongoose import *`
# see the names without importing the extension; tests/python/test_api_parity.py
# checks that it equals AsyncManager + the extension's own __all__.
__all__ = [  # noqa: RUF022 - the contract's order (docs/api-contract.md#exported-names)
    "AsyncManager", "Connection", "HttpMessage", "Manager", "MqttMessage", "Rpc", "RpcReq",
    "Timer", "TlsOpts", "WsMessage", "MG_EV_ERROR", "MG_EV_OPEN", "MG_EV_POLL",
    "MG_EV_RESOLVE", "MG_EV_CONNECT", "MG_EV_ACCEPT", "MG_EV_TLS_HS", "MG_EV_READ",
    "MG_EV_WRITE", "MG_EV_CLOSE", "MG_EV_HTTP_HDRS", "MG_EV_HTTP_MSG", "MG_EV_WS_OPEN",
    "MG_EV_WS_MSG", "MG_EV_WS_CTL", "MG_EV_MQTT_CMD", "MG_EV_MQTT_MSG", "MG_EV_MQTT_OPEN",
    "MG_EV_SNTP_TIME", "MG_EV_WAKEUP", "MG_EV_USER", "WEBSOCKET_OP_TEXT",
    "WEBSOCKET_OP_BINARY", "WEBSOCKET_OP_PING", "WEBSOCKET_OP_PONG", "MQTT_PROP_TYPE_BYTE",
    "MQTT_PROP_TYPE_STRING", "MQTT_PROP_TYPE_STRING_PAIR", "MQTT_PROP_TYPE_BINARY_DATA",
    "MQTT_PROP_TYPE_VARIABLE_INT", "MQTT_PROP_TYPE_INT", "MQTT_PROP_TYPE_SHORT",
    "base64_decode", "base64_encode", "crc32", "event_name", "hmac_sha256",
    "http_parse_multipart", "http_var", "json_get", "json_get_bool", "json_get_long",
    "json_get_num", "json_get_str", "log_get", "log_set", "match", "md5", "millis",
    "random_bytes", "random_str", "sha1", "sha256", "url_encode", "url_host", "url_is_ssl",
    "url_pass", "url_port", "url_uri", "url_user", "MG_LL_NONE", "MG_LL_ERROR", "MG_LL_INFO",
    "MG_LL_DEBUG", "MG_LL_VERBOSE",
]


def __getattr__(name: str) -> object:
    if _import_error is not None:
        raise ImportError(
            f"cymongoose.{name} needs the compiled extension cymongoose._mongoose, "
            f"which failed to import: {_import_error}"
        ) from _import_error
    raise AttributeError(f"module 'cymongoose' has no attribute {name!r}")
