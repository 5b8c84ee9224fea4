# Type stubs of the compiled extension cymongoose._mongoose (docs/api-contract.md).
# Kept true to the runtime by tests/python/test_stubs.py (mypy stubtest).
from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

from typing_extensions import Self, disjoint_base

_Handler: TypeAlias = Callable[[Connection, int, Any], object]
_ErrorHandler: TypeAlias = Callable[[Exception], object]
# "data" inputs: str is UTF-8 encoded, anything else goes through bytes(x).
_Data: TypeAlias = str | bytes | bytearray | memoryview
_Addr: TypeAlias = tuple[str, int, bool]

__all__ = [  # noqa: RUF022 - the anchor's order (docs/api-contract.md#exported-names)
    "Connection", "HttpMessage", "Manager", "MqttMessage", "Rpc", "RpcReq", "Timer", "TlsOpts",
    "WsMessage", "MG_EV_ERROR", "MG_EV_OPEN", "MG_EV_POLL", "MG_EV_RESOLVE", "MG_EV_CONNECT",
    "MG_EV_ACCEPT", "MG_EV_TLS_HS", "MG_EV_READ", "MG_EV_WRITE", "MG_EV_CLOSE",
    "MG_EV_HTTP_HDRS", "MG_EV_HTTP_MSG", "MG_EV_WS_OPEN", "MG_EV_WS_MSG", "MG_EV_WS_CTL",
    "MG_EV_MQTT_CMD", "MG_EV_MQTT_MSG", "MG_EV_MQTT_OPEN", "MG_EV_SNTP_TIME", "MG_EV_WAKEUP",
    "MG_EV_USER", "WEBSOCKET_OP_TEXT", "WEBSOCKET_OP_BINARY", "WEBSOCKET_OP_PING",
    "WEBSOCKET_OP_PONG", "MQTT_PROP_TYPE_BYTE", "MQTT_PROP_TYPE_STRING",
    "MQTT_PROP_TYPE_STRING_PAIR", "MQTT_PROP_TYPE_BINARY_DATA", "MQTT_PROP_TYPE_VARIABLE_INT",
    "MQTT_PROP_TYPE_INT", "MQTT_PROP_TYPE_SHORT", "base64_decode", "base64_encode", "crc32",
    "event_name", "hmac_sha256", "http_parse_multipart", "http_var", "json_get",
    "json_get_bool", "json_get_long", "json_get_num", "json_get_str", "log_get", "log_set",
    "match", "md5", "millis", "random_bytes", "random_str", "sha1", "sha256", "url_encode",
    "url_host", "url_is_ssl", "url_pass", "url_port", "url_uri", "url_user", "MG_LL_NONE",
    "MG_LL_ERROR", "MG_LL_INFO", "MG_LL_DEBUG", "MG_LL_VERBOSE",
]

_EVENT_NAMES: dict[int, str]

def _validate_header(name: str, value: str) -> None:
    """Raise ValueError when a header name or value contains CR, LF or NUL."""

# ---- events (docs/api-contract.md#exported-names, #events) ----
MG_EV_ERROR: int
MG_EV_OPEN: int
MG_EV_POLL: int
MG_EV_RESOLVE: int
MG_EV_CONNECT: int
MG_EV_ACCEPT: int
MG_EV_TLS_HS: int
MG_EV_READ: int
MG_EV_WRITE: int
MG_EV_CLOSE: int
MG_EV_HTTP_HDRS: int
MG_EV_HTTP_MSG: int
MG_EV_WS_OPEN: int
MG_EV_WS_MSG: int
MG_EV_WS_CTL: int
MG_EV_MQTT_CMD: int
MG_EV_MQTT_MSG: int
MG_EV_MQTT_OPEN: int
MG_EV_SNTP_TIME: int
MG_EV_WAKEUP: int
MG_EV_USER: int

# ---- WebSocket opcodes ----
WEBSOCKET_OP_TEXT: int
WEBSOCKET_OP_BINARY: int
WEBSOCKET_OP_PING: int
WEBSOCKET_OP_PONG: int

# ---- MQTT v5 property types ----
MQTT_PROP_TYPE_BYTE: int
MQTT_PROP_TYPE_STRING: int
MQTT_PROP_TYPE_STRING_PAIR: int
MQTT_PROP_TYPE_BINARY_DATA: int
MQTT_PROP_TYPE_VARIABLE_INT: int
MQTT_PROP_TYPE_INT: int
MQTT_PROP_TYPE_SHORT: int

# ---- log levels ----
MG_LL_NONE: int
MG_LL_ERROR: int
MG_LL_INFO: int
MG_LL_DEBUG: int
MG_LL_VERBOSE: int

# ---- classes ----
@disjoint_base
class Manager:
    """Event manager: owns connections and timers and runs the event loop."""

    def __init__(
        self,
        handler: _Handler | None = None,
        enable_wakeup: bool = False,
        error_handler: _ErrorHandler | None = None,
    ) -> None:
        """Create a manager; `handler` is the default event handler, `enable_wakeup` creates the cross-thread wakeup channel, `error_handler(exc)` receives handler exceptions."""
    def poll(self, timeout_ms: int = 0) -> None:
        """Run one event-loop iteration, waiting up to `timeout_ms` ms for I/O (0: do not wait, negative: wait for I/O). Not reentrant."""
    def listen(
        self, url: str, handler: _Handler | None = None, *, http: bool | None = None
    ) -> Connection:
        """Listen on `url` (tcp://, udp://, http://, ws:// ...); `http` overrides the HTTP inference from the scheme. Returns the listener."""
    def connect(
        self, url: str, handler: _Handler | None = None, *, http: bool | None = None
    ) -> Connection:
        """Start a non-blocking outbound connection; returns it at once (MG_EV_CONNECT or MG_EV_ERROR follow)."""
    def ws_connect(self, url: str, handler: _Handler | None = None) -> Connection:
        """Connect a WebSocket client to `url`; MG_EV_WS_OPEN follows the handshake, MG_EV_WS_MSG each message."""
    def mqtt_connect(
        self,
        url: str,
        handler: _Handler | None = None,
        client_id: str = "",
        username: str = "",
        password: str = "",
        clean_session: bool = True,
        keepalive: int = 60,
        *,
        version: int = 4,
        will_topic: str = "",
        will_message: _Data = b"",
        will_qos: int = 0,
        will_retain: bool = False,
        properties: list[dict[str, Any]] | None = None,
    ) -> Connection:
        """Connect an MQTT client; CONNECT is sent automatically and MG_EV_MQTT_OPEN carries the CONNACK code. With clean_session=False and a client_id, unacknowledged QoS 1/2 messages outlive the connection: the next mqtt_connect of that client_id on this manager sends them again after CONNACK."""
    def mqtt_listen(self, url: str, handler: _Handler | None = None) -> Connection:
        """Listen for MQTT clients (frames parsed into MG_EV_MQTT_CMD/MG_EV_MQTT_MSG; no broker logic)."""
    def sntp_connect(self, url: str, handler: _Handler | None = None) -> Connection:
        """UDP connection to an SNTP server; `sntp_request()` asks for the time (MG_EV_SNTP_TIME)."""
    def set_dns_server(self, url: str, timeout_ms: int = 2000, retries: int = 2) -> None:
        """Use the DNS server `url` (udp://IP:PORT) for host names, waiting `timeout_ms` per attempt and resending up to `retries` times (beyond docs/api-contract.md)."""
    def wakeup(self, connection_id: int, data: bytes = b"") -> bool:
        """Thread-safe: deliver MG_EV_WAKEUP with `data` to connection `connection_id` and interrupt a blocked poll(). False without enable_wakeup."""
    def timer_add(
        self,
        milliseconds: int,
        callback: Callable[[], object],
        *,
        repeat: bool = False,
        run_now: bool = False,
    ) -> Timer:
        """Call `callback()` after `milliseconds` (periodically with `repeat`, also on the first poll with `run_now`). Timers fire inside poll()."""
    def run(self, poll_ms: int = 100) -> None:
        """Poll every `poll_ms` until SIGINT/SIGTERM (main thread only), then restore the signal handlers and close()."""
    def close(self) -> None:
        """Close every connection (each gets MG_EV_CLOSE), cancel timers and free the manager. Idempotent."""
    def __enter__(self) -> Self:
        """Return the manager itself."""
    def __exit__(self, *exc: object) -> bool:
        """close() the manager; exceptions propagate."""
    def set_send_marks(self, high: int, low: int) -> None:
        """Our extension: backpressure marks in bytes (1 MiB / 256 KiB) of accepted connections: one whose send buffer holds `high` bytes or more stops reading until it drained to `low`; high 0 turns backpressure off."""
    @property
    def send_marks(self) -> tuple[int, int]:
        """Our extension: the manager's (high, low) backpressure marks in bytes."""
    @property
    def connections(self) -> tuple[Connection, ...]:
        """Snapshot of the live connections (listeners included, wakeup channel excluded)."""
    @property
    def wakeup_id(self) -> int:
        """Id of the internal wakeup channel (0 without enable_wakeup)."""

@disjoint_base
class Connection:
    """One connection of a Manager; detached (closed) wrappers return defaults."""

    userdata: Any
    @property
    def id(self) -> int:
        """Connection id, > 0 while attached, 0 once closed."""
    @property
    def handler(self) -> _Handler | None:
        """The connection's own handler (None: the manager default is used)."""
    @property
    def is_listening(self) -> bool:
        """True for a listener."""
    @property
    def is_closing(self) -> bool:
        """Closing has been requested (True once detached)."""
    @property
    def is_client(self) -> bool:
        """True for an outbound connection."""
    @property
    def is_tls(self) -> bool:
        """TLS is initialised on this connection."""
    @property
    def is_udp(self) -> bool:
        """UDP socket."""
    @property
    def is_websocket(self) -> bool:
        """Upgraded to WebSocket."""
    @property
    def is_readable(self) -> bool:
        """Socket was readable in the last poll."""
    @property
    def is_writable(self) -> bool:
        """Socket was writable in the last poll."""
    @property
    def is_full(self) -> bool:
        """Reading is paused: the receive buffer reached its limit, or backpressure (is_throttled)."""
    @property
    def is_throttled(self) -> bool:
        """Our extension: reading is paused because the send buffer passed the high-water mark."""
    @property
    def send_high_water(self) -> int:
        """Our extension: the backpressure high-water mark in force for this connection (bytes; 0 = off, the default of outbound connections)."""
    @property
    def send_low_water(self) -> int:
        """Our extension: the low-water mark at which paused reading resumes (bytes)."""
    def set_send_marks(self, high: int, low: int) -> None:
        """Our extension: this connection's backpressure marks in bytes; (0, 0) returns to the manager's."""
    @property
    def is_draining(self) -> bool:
        """drain() was requested."""
    @property
    def half_close(self) -> bool:
        """TCP half-close (our addition): when True, the peer's end of stream does not close the connection; is_eof turns True and writing goes on until shutdown(). Set it at MG_EV_OPEN/ACCEPT."""
    @half_close.setter
    def half_close(self, on: bool) -> None: ...
    @property
    def is_eof(self) -> bool:
        """The peer ended its stream (seen only with half_close)."""
    @property
    def recv_len(self) -> int:
        """Bytes held in the receive buffer."""
    @property
    def send_len(self) -> int:
        """Bytes waiting in the send buffer."""
    @property
    def recv_size(self) -> int:
        """Capacity of the receive buffer."""
    @property
    def send_size(self) -> int:
        """Capacity of the send buffer."""
    @property
    def local_addr(self) -> _Addr:
        """(ip, port, is_ipv6) of the local end.

        Typed for the open connection a handler or ``listen()`` hands out (so
        ``listener.local_addr[1]`` type-checks); a closed or detached connection
        returns None at runtime.
        """
    @property
    def remote_addr(self) -> _Addr:
        """(ip, port, is_ipv6) of the peer; None at runtime once closed (see local_addr)."""
    def set_handler(self, handler: _Handler | None) -> None:
        """Set this connection's handler (on a listener: also what future accepted connections inherit)."""
    def send(self, data: _Data) -> None:
        """Queue raw bytes (str is UTF-8 encoded)."""
    def reply(
        self, status_code: int, body: _Data = b"", headers: Mapping[Any, Any] | None = None
    ) -> None:
        """Queue a complete HTTP/1.1 response; headers are validated first; Content-Length is added unless a Transfer-Encoding header is given."""
    def reply_json(
        self, data: Any, status_code: int = 200, headers: Mapping[Any, Any] | None = None
    ) -> None:
        """Reply with json.dumps(data) as application/json."""
    def serve_dir(
        self,
        message: HttpMessage,
        root_dir: str,
        extra_headers: str = "",
        mime_types: str = "",
        page404: str = "",
    ) -> None:
        """Serve the file the request names under `root_dir` (404, 301 for directories, listings, ranges, ETag)."""
    def serve_file(
        self, message: HttpMessage, path: str, extra_headers: str = "", mime_types: str = ""
    ) -> None:
        """Serve exactly `path` for this request (404 when missing)."""
    def ws_upgrade(
        self, message: HttpMessage, extra_headers: Mapping[Any, Any] | None = None
    ) -> None:
        """Answer a WebSocket upgrade request with 101; MG_EV_WS_OPEN is emitted before this returns."""
    def ws_send(self, data: _Data, op: int = 1) -> None:
        """Send one WebSocket frame (FIN set) with opcode `op`."""
    def ws_set_handshake_timeout(self, milliseconds: int) -> None:
        """Our extension: a ws_connect() client fails with MG_EV_ERROR "WebSocket handshake timed out" unless the 101 arrives within `milliseconds` from now (default 10000 ms from the connect; 0 = no limit)."""
    def mqtt_pub(
        self,
        topic: str,
        message: _Data,
        qos: int = 0,
        retain: bool = False,
        *,
        properties: list[dict[str, Any]] | None = None,
    ) -> int:
        """Publish `message` on `topic`; returns the packet id (0 for QoS 0). QoS 1/2 messages beyond the in-flight limit (the broker's Receive Maximum, at most 20) wait in order; RuntimeError when 1000 already wait (never dropped silently)."""
    def mqtt_sub(self, topic: str, qos: int = 0) -> None:
        """Subscribe to `topic`."""
    def mqtt_unsub(self, topic: str) -> None:
        """Unsubscribe from `topic`."""
    def mqtt_ping(self) -> None:
        """Send PINGREQ."""
    def mqtt_pong(self) -> None:
        """Send PINGRESP."""
    def mqtt_disconnect(self) -> None:
        """Send DISCONNECT (does not close the connection)."""
    def mqtt_set_connect_timeout(self, milliseconds: int) -> None:
        """Our extension: deadline for CONNECT on an accepted MQTT connection (from accept) or for CONNACK on an MQTT client (default 10000 ms, 0 restores it); past it MG_EV_ERROR and the connection closes."""
    def error(self, message: str) -> None:
        """Emit MG_EV_ERROR(message) to this connection's handler and close it."""
    def recv_data(self, length: int = -1) -> bytes:
        """Copy of the first `length` bytes of the receive buffer (all when negative)."""
    def send_data(self, length: int = -1) -> bytes:
        """Copy of the first `length` bytes of the send buffer (all when negative)."""
    def resolve(self, url: str) -> None:
        """Resolve the host of `url` asynchronously (MG_EV_RESOLVE or MG_EV_ERROR follow)."""
    def resolve_cancel(self) -> None:
        """Cancel a pending resolve()."""
    def http_basic_auth(self, username: str, password: str) -> None:
        """Append an `Authorization: Basic ...` header line to the send buffer."""
    def sntp_request(self) -> None:
        """Send one SNTP request."""
    def http_chunk(self, data: _Data) -> None:
        """Write one chunk of a chunked HTTP body; empty data ends the body."""
    def http_sse(self, event_type: str, data: str) -> None:
        """Write one server-sent event (`event:`/`data:` lines) as a chunk."""
    def http_upload(self, message: HttpMessage, upload_dir: str, max_size: int) -> int:
        """Our extension: store the request body as one chunk of `upload_dir`/NAME at the query's `file=NAME&offset=N` and answer the request (200 with the new size; 400, 413 or 500 with a reason); returns the new size, or -1 when refused."""
    def http_set_request_timeout(self, milliseconds: int) -> None:
        """Our extension: limit for receiving one request on this accepted HTTP connection (default 30000 ms, 0 restores it); past it the client gets 408 and the connection closes."""
    def http_set_body_min_rate(self, bytes_per_second: int) -> None:
        """Our extension: minimum rate of a request body on this accepted HTTP connection (default 1024 B/s, 0 = off); a body slower than that over a whole request-timeout period gets 408 and the connection closes."""
    def http_set_keepalive_timeout(self, milliseconds: int) -> None:
        """Our extension: limit for an idle accepted HTTP connection (default 60000 ms, 0 restores it); with nothing pending or buffered it is closed after that long without traffic."""
    def close(self) -> None:
        """Close now (pending output is discarded); safe inside the connection's own handlers."""
    def drain(self) -> None:
        """Stop reading, flush the send buffer, then close."""
    def shutdown(self) -> None:
        """End our stream (TCP FIN) once the send buffer drained; reading goes on, and the connection closes when both directions ended. On TLS or UDP: drain()."""
    def tls_init(self, opts: TlsOpts) -> None:
        """Start TLS with `opts` (server: in MG_EV_ACCEPT, client: in MG_EV_CONNECT); MG_EV_TLS_HS follows. On a listener: check the server certificate and key now (ValueError naming the problem) and mark the listener is_tls."""
    def tls_free(self) -> None:
        """Release the TLS state of this connection."""

@disjoint_base
class HttpMessage:
    """HTTP request/response view, valid only during the handler call that got it."""

    def __bool__(self) -> bool:
        """True while the view is valid."""
    @property
    def method(self) -> str:
        """Request method (response: the protocol token)."""
    @property
    def uri(self) -> str:
        """Request path without the query string (response: the status code text)."""
    @property
    def query(self) -> str:
        """Raw query string without '?'."""
    @property
    def proto(self) -> str:
        """Protocol (response: the reason phrase)."""
    @property
    def body_bytes(self) -> bytes:
        """Body bytes (chunked bodies decoded)."""
    @property
    def body_text(self) -> str:
        """Body as text (UTF-8, surrogateescape)."""
    def header(self, name: str, default: str | None = None) -> str | None:
        """First header called `name` (case-insensitive), else `default`."""
    def headers(self) -> list[tuple[str, str]]:
        """All headers in wire order (more than 100 on hosts: the request is refused with 431)."""
    def query_var(self, name: str) -> str | None:
        """URL-decoded query variable; None when absent or empty."""
    def status(self) -> int | None:
        """Response status code; 0 for a request; None when the view is invalid."""
    def header_var(self, header_name: str, var_name: str) -> str | None:
        """Parameter `var_name=...` inside header `header_name` (quotes removed)."""

@disjoint_base
class WsMessage:
    """WebSocket data frame view (MG_EV_WS_MSG)."""

    @property
    def data(self) -> bytes:
        """Message payload."""
    @property
    def text(self) -> str:
        """Payload as text (UTF-8, surrogateescape)."""
    @property
    def flags(self) -> int:
        """FIN bit + opcode of the first frame (text 129, binary 130)."""

@disjoint_base
class MqttMessage:
    """MQTT packet view (MG_EV_MQTT_MSG, MG_EV_MQTT_CMD)."""

    @property
    def topic(self) -> str:
        """PUBLISH topic."""
    @property
    def data(self) -> bytes:
        """PUBLISH payload."""
    @property
    def text(self) -> str:
        """Payload as text."""
    @property
    def id(self) -> int:
        """Packet identifier (0 when the packet has none)."""
    @property
    def cmd(self) -> int:
        """MQTT control packet type (1 CONNECT ... 14 DISCONNECT)."""
    @property
    def qos(self) -> int:
        """QoS of PUBLISH/SUBSCRIBE."""
    @property
    def ack(self) -> int:
        """CONNACK return code; MQTT 5 reason code of PUBACK, PUBREC, PUBREL, PUBCOMP, DISCONNECT, AUTH (0 = success, >= 0x80 = refused; always 0 on 3.1.1)."""
    def properties(self) -> list[dict[str, Any]]:
        """MQTT v5 properties as dicts {id, iv, key, val} ([] for v3.1.1)."""

@disjoint_base
class TlsOpts:
    """TLS options for Connection.tls_init() (PEM text as bytes)."""

    ca: bytes | None
    cert: bytes | None
    key: bytes | None
    name: bytes | None
    skip_verification: bool
    def __init__(
        self,
        ca: str | bytes | None = None,
        cert: str | bytes | None = None,
        key: str | bytes | None = None,
        name: str | bytes | None = None,
        skip_verification: bool = False,
    ) -> None:
        """PEM `ca`, `cert`, `key` and the expected server `name` (str or bytes); `skip_verification` turns certificate checks off."""

@disjoint_base
class StackInterface:
    """One interface of the built-in TCP/IP stack (beyond docs/api-contract.md; exported by cymongoose.stack)."""

    @staticmethod
    def tap(
        name: str = "",
        *,
        ip: str | None = None,
        mask: str = "255.255.255.0",
        gateway: str | None = None,
        dns: str | None = None,
        mac: str | None = None,
        dhcp: bool = False,
        dhcp_server: str | None = None,
        offload: bool = True,
    ) -> StackInterface:
        """An interface on a Linux TAP device (created when missing; needs root).
        offload=True exchanges TCP segments of up to 64 KiB with the kernel. OSError on Windows."""
    @staticmethod
    def stream(
        sock: Any,
        *,
        ip: str | None = None,
        mask: str = "255.255.255.0",
        gateway: str | None = None,
        dns: str | None = None,
        mac: str | None = None,
        dhcp: bool = False,
        dhcp_server: str | None = None,
    ) -> StackInterface:
        """An interface on a stream socket with length-prefixed frames (QEMU -netdev stream).
        OSError on Windows (the core's Windows build has no stream driver)."""
    @staticmethod
    def serial(
        port: Any,
        *,
        ip: str | None = None,
        mask: str = "255.255.255.0",
        gateway: str | None = None,
        dns: str | None = None,
        mac: str | None = None,
        dhcp: bool = False,
        dhcp_server: str | None = None,
    ) -> StackInterface:
        """An interface over a raw serial line or pty: SLIP-escaped frames with a CRC-32.
        OSError on Windows (no SLIP on a file descriptor there)."""
    @staticmethod
    def link_pair(
        ip_a: str,
        ip_b: str,
        *,
        mask: str = "255.255.255.0",
        loss: float = 0.0,
        duplicate: float = 0.0,
        reorder: float = 0.0,
        delay_ms: int = 0,
        reorder_ms: int = 10,
        seed: int = 1,
    ) -> tuple[StackInterface, StackInterface]:
        """Two interfaces joined by an in-memory wire with seeded impairments."""
    def attach(self, manager: Manager) -> None:
        """Moves a fresh Manager (no connections yet) onto this interface."""
    @property
    def name(self) -> str: ...
    @property
    def offload(self) -> bool:
        """True when the TAP device runs with the kernel offloads."""
    @property
    def ip(self) -> str: ...
    @property
    def mask(self) -> str: ...
    @property
    def gateway(self) -> str: ...
    @property
    def dns(self) -> str: ...
    @property
    def mac(self) -> str: ...
    @property
    def state(self) -> str:
        """'down', 'up' (no address yet) or 'ready'."""
    @property
    def stats(self) -> dict[str, int]: ...
    @property
    def dhcp_server_pool(self) -> str:
        """The first address the DHCP server hands out; set it to move every client."""
    @dhcp_server_pool.setter
    def dhcp_server_pool(self, value: str) -> None: ...
    @property
    def dhcp_server_lease(self) -> int:
        """Seconds of the leases handed out from now on (0: the build's default)."""
    @dhcp_server_lease.setter
    def dhcp_server_lease(self, value: int) -> None: ...
    @property
    def dhcp_server_paused(self) -> bool:
        """True while the DHCP server ignores every request."""
    @dhcp_server_paused.setter
    def dhcp_server_paused(self, value: bool) -> None: ...
    def dhcp_server_nak(self, count: int = 1) -> None:
        """Answer the next ``count`` DHCP REQUESTs with a NAK."""

@disjoint_base
class Timer:
    """Timer returned by Manager.timer_add()."""

    def cancel(self) -> None:
        """Stop the timer (thread-safe, idempotent, also from its own callback)."""
    @property
    def active(self) -> bool:
        """True until a one-shot timer fired, the timer was cancelled or its manager closed."""

@disjoint_base
class RpcReq:
    """One JSON-RPC request, valid only while its handler runs."""

    @property
    def frame(self) -> str:
        """The request frame text ("" once invalid)."""
    def ok(self, result_json: _Data) -> None:
        """Respond with `result_json` (raw JSON text) as the result."""
    def err(self, code: int, message: _Data) -> None:
        """Respond with an error object {code, message}."""

@disjoint_base
class Rpc:
    """JSON-RPC dispatcher (glob method patterns, newest registration first)."""

    def __init__(self) -> None:
        """An empty dispatcher."""
    def add(self, method: str, handler: Callable[[RpcReq], object]) -> None:
        """Register `handler(req)` for a method glob pattern (newest first)."""
    def process(self, frame: _Data) -> str:
        """Dispatch one request frame; returns the response text or "" for notifications."""
    @property
    def methods(self) -> list[str]:
        """Registered patterns, most recent first."""

# ---- functions (docs/api-contract.md#functions) ----
def event_name(ev: int) -> str:
    """Name of an event number ("MG_EV_HTTP_MSG", "MG_EV_USER+2", "MG_EV_UNKNOWN(21)")."""
def log_set(level: int) -> None:
    """Set the core's log level (MG_LL_NONE ... MG_LL_VERBOSE)."""
def log_get() -> int:
    """Current log level."""
def millis() -> int:
    """Monotonic milliseconds."""
def json_get(data: _Data, path: str) -> str | None:
    """Raw JSON text of the element at `path` ("$", "$.a.b", "$.arr[0]"), or None."""
def json_get_num(data: _Data, path: str, default: Any = None) -> float | Any:
    """Number at `path` as float, else `default`."""
def json_get_bool(data: _Data, path: str, default: Any = None) -> bool | Any:
    """Boolean at `path`, else `default`."""
def json_get_long(data: _Data, path: str, default: int = 0) -> int:
    """Integer at `path` (fraction truncated), else `default`."""
def json_get_str(data: _Data, path: str) -> str | None:
    """Unescaped string at `path`, or None."""
def url_encode(data: str) -> str:
    """Percent-encode everything but A-Z a-z 0-9 - . _ ~ (lowercase hex)."""
def url_port(url: str) -> int:
    """Explicit port, else the scheme's default (http 80, https 443, mqtt 1883, ...), else 0."""
def url_host(url: str) -> str:
    """Host part of the URL."""
def url_user(url: str) -> str:
    """User name of the URL, or ""."""
def url_pass(url: str) -> str:
    """Password of the URL, or ""."""
def url_uri(url: str) -> str:
    """Path and query of the URL ("/" when none)."""
def url_is_ssl(url: str) -> bool:
    """True for https, wss, mqtts, ssl, tls and tcps URLs."""
def http_var(buf: _Data, name: str) -> str | None:
    """Raw value of `name` in an '&'-separated k=v buffer, or None."""
def http_parse_multipart(
    body: _Data, offset: int = 0
) -> tuple[int, dict[str, Any] | None]:
    """Next part of a multipart/form-data body: (next_offset, {name, filename, body}) or (0, None)."""
def match(s: _Data, pattern: _Data) -> tuple[bool, list[str]]:
    """Glob match of the whole string (? one char, * a run without '/', # any run) with one capture per wildcard."""
def md5(data: _Data) -> bytes:
    """MD5 digest (16 bytes)."""
def sha1(data: _Data) -> bytes:
    """SHA-1 digest (20 bytes)."""
def sha256(data: _Data) -> bytes:
    """SHA-256 digest (32 bytes)."""
def hmac_sha256(key: _Data, data: _Data) -> bytes:
    """HMAC-SHA256 of `data` with `key` (32 bytes)."""
def base64_encode(data: _Data) -> str:
    """Standard base64 with padding."""
def base64_decode(data: str) -> bytes:
    """Decode base64 text (b"" when invalid)."""
def crc32(data: _Data, initial: int = 0) -> int:
    """CRC-32 (as binascii.crc32), chainable through `initial`."""
def random_bytes(length: int) -> bytes:
    """`length` cryptographically random bytes."""
def random_str(length: int) -> str:
    """`length` random characters from [0-9a-zA-Z]."""
