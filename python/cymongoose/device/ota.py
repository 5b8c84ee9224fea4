"""OTA update of the reference firmware (``examples/device_app``) with firmware images.

What is sent is always a firmware image (docs/image-format.md): the device checks its
header (magic, board id, size) and its SHA-256 before it takes it. An ELF is packed
for its board first when the board is known (``board=``), and refused otherwise with
the command that packs it; any other file that is not a well-formed image is refused
before a byte is sent.

Two ways to push an image into the device's update bank (docs/device-rpc.md):

* over JSON-RPC on the console: ``ota.begin`` (size + SHA-256), ``ota.write`` chunks
  in order (base64, at most the ``chunk_max`` the device announced), ``ota.end``;
* over HTTP: ``POST /api/ota`` with the image as body and ``X-SHA256``; the device
  streams it into the bank and answers ``200 {"state":"verified",...}``. The request goes
  through a :class:`~cymongoose.device.bridge.StackBridge` (the host's built-in stack) or
  to a plain URL (a QEMU port forward, a TAP bridge, a real board on the LAN).

Either way the result is checked with ``ota.status`` when an RPC client is at hand
(state ``verified``, size); a mismatch is an :class:`OtaError`. Errors the device reports
(SHA-256 mismatch, image too large, ...) come back as OtaError with the device's code.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import DeviceError, FlashError, ImageError
from .flash import FlashBackend, FlashResult, ProgressFn
from .image import ELF_MAGIC
from .rpc import RpcError

if TYPE_CHECKING:
    from collections.abc import Callable

    from .boards import Board
    from .bridge import StackBridge
    from .image import Image
    from .rpc import RpcClient

DEFAULT_CHUNK = 768  # decoded bytes per ota.write when the device names no chunk_max


class OtaError(FlashError):
    """The device rejected the update, or its state after the update is not 'verified'."""

    def __init__(self, message: str, code: int | None = None) -> None:
        self.code = code
        super().__init__(message if code is None else f"{message} (device error {code})")


@dataclass
class OtaResult:
    transport: str          # "rpc" or "http"
    size: int
    sha256: str
    chunks: int
    seconds: float
    status: dict[str, Any] = field(default_factory=dict)  # ota.status / HTTP answer

    def summary(self) -> str:
        return (f"ota over {self.transport}: {self.size} bytes in {self.chunks} "
                f"{'chunk' if self.chunks == 1 else 'chunks'}, sha256 {self.sha256[:16]}..., "
                f"state {self.status.get('state', '?')}, {self.seconds:.2f} s")


def _read_bytes(image: bytes | bytearray | str | os.PathLike[str]) -> tuple[bytes, str]:
    if isinstance(image, (bytes, bytearray, memoryview)):
        return bytes(image), "the OTA image"
    try:
        return Path(image).read_bytes(), str(image)
    except OSError as exc:
        raise DeviceError(f"cannot read OTA image {image}: {exc.strerror}") from None


def prepare_image(image: bytes | bytearray | str | os.PathLike[str], board: Board | None = None,
                  say: Callable[[str], None] | None = None) -> bytes:
    """The bytes an OTA update sends: ``image`` when it is a well-formed firmware image
    (for ``board``, when given) whose hash matches; an ELF packed for ``board`` (unsigned,
    version 0.0.0; ``say`` is told so); anything else raises :class:`ImageError`."""
    from . import imagefmt
    from .image import parse_elf

    data, what = _read_bytes(image)
    if not data:
        raise ImageError(f"{what} is empty")
    if data[:4] == ELF_MAGIC:
        if board is None:
            raise ImageError(f"{what} is an ELF file: OTA sends firmware images; "
                             f"{imagefmt.PACK_HINT} (or give the board, and it is packed "
                             "for it)")
        data = imagefmt.pack_elf(parse_elf(data, what), board)
        if say is not None:
            say(f"packed {what} into an unsigned image for {board.name} (version 0.0.0, "
                f"{len(data)} bytes); sign and version it with `cymongoose image pack`")
        return data
    imagefmt.verify(data, board=board.name if board is not None else None, what=what)
    return data


def _rpc_call(rpc: RpcClient, method: str, params: dict[str, Any] | None,
              timeout: float | None) -> Any:
    try:
        return rpc.request(method, params, timeout=timeout)
    except RpcError as exc:
        raise OtaError(f"{method}: {exc.message}", exc.code) from None


def check_status(rpc: RpcClient, size: int, source: str | None = None,
                 timeout: float | None = None) -> dict[str, Any]:
    """``ota.status`` must say the bank holds a verified image of ``size`` bytes."""
    st = _rpc_call(rpc, "ota.status", None, timeout)
    if not isinstance(st, dict):
        raise OtaError(f"ota.status answered {st!r}, not an object")
    if st.get("state") != "verified" or st.get("size") != size:
        raise OtaError(f"device reports OTA state {st.get('state')!r} with size "
                       f"{st.get('size')!r} (expected verified, {size} bytes)"
                       + (f": {st['error']}" if st.get("error") else ""))
    if source is not None and st.get("source") not in (source, None):
        raise OtaError(f"ota.status names source {st.get('source')!r}, expected {source!r}")
    return st


def ota_rpc(rpc: RpcClient, image: bytes | str | os.PathLike[str], *,
            chunk: int | None = None, verify: bool = True,
            progress: ProgressFn | None = None, timeout: float | None = None,
            board: Board | None = None) -> OtaResult:
    """Upload ``image`` (see :func:`prepare_image`) with ota.begin/write/end over the
    console, then check ota.status."""
    data = prepare_image(image, board)
    digest = hashlib.sha256(data).hexdigest()
    t0 = time.monotonic()
    info = _rpc_call(rpc, "ota.begin", {"size": len(data), "sha256": digest}, timeout)
    limit = int(info.get("chunk_max", DEFAULT_CHUNK)) if isinstance(info, dict) else DEFAULT_CHUNK
    step = min(chunk or limit, limit)
    if step <= 0:
        raise OtaError(f"device announced chunk_max {limit}")
    chunks = 0
    for ofs in range(0, len(data), step):
        piece = data[ofs:ofs + step]
        got = _rpc_call(rpc, "ota.write",
                        {"offset": ofs, "data_b64": base64.b64encode(piece).decode("ascii")},
                        timeout)
        chunks += 1
        if isinstance(got, dict) and got.get("received") != ofs + len(piece):
            raise OtaError(f"device acknowledged {got.get('received')} bytes after writing "
                           f"{ofs + len(piece)}")
        if progress:
            progress(ofs + len(piece), len(data), "ota")
    end = _rpc_call(rpc, "ota.end", None, timeout)
    if not isinstance(end, dict) or end.get("state") != "verified":
        raise OtaError(f"ota.end answered {end!r}")
    if end.get("sha256", digest).lower() != digest:
        raise OtaError(f"device hashed {end.get('sha256')}, we sent {digest}")
    status = check_status(rpc, len(data), "rpc", timeout) if verify else end
    return OtaResult("rpc", len(data), digest, chunks, time.monotonic() - t0, status)


def _post_url(url: str, body: bytes, headers: dict[str, str],
              timeout: float) -> tuple[int, bytes]:
    u = urllib.parse.urlsplit(url)
    if u.scheme not in ("http", "https"):
        raise DeviceError(f"OTA over HTTP needs an http:// URL, not {url!r}")
    cls = http.client.HTTPSConnection if u.scheme == "https" else http.client.HTTPConnection
    conn = cls(u.hostname or "127.0.0.1", u.port, timeout=timeout)
    try:
        conn.request("POST", (u.path or "/api/ota") + (f"?{u.query}" if u.query else ""),
                     body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    except OSError as exc:
        raise DeviceError(f"POST {url}: {exc}") from None
    finally:
        conn.close()


def ota_http(image: bytes | str | os.PathLike[str], *, url: str | None = None,
             bridge: StackBridge | None = None, rpc: RpcClient | None = None,
             path: str = "/api/ota", timeout: float = 60.0,
             board: Board | None = None) -> OtaResult:
    """``POST /api/ota`` of ``image`` (see :func:`prepare_image`) with ``X-SHA256``,
    through ``bridge`` or to ``url``; then, with ``rpc``, check ``ota.status``."""
    if (url is None) == (bridge is None):
        raise ValueError("give exactly one of url= or bridge=")
    data = prepare_image(image, board)
    digest = hashlib.sha256(data).hexdigest()
    headers = {"X-SHA256": digest, "Content-Type": "application/octet-stream"}
    t0 = time.monotonic()
    if bridge is not None:
        status, _, body = bridge.http("POST", path, data, headers, timeout=timeout)
    else:
        assert url is not None
        status, body = _post_url(url, data, headers, timeout)
    try:
        answer = json.loads(body) if body.strip() else {}
    except ValueError:
        answer = {"error": body[:200].decode("utf-8", errors="replace")}
    if status != 200 or not isinstance(answer, dict) or answer.get("state") != "verified":
        why = answer.get("error") if isinstance(answer, dict) else None
        raise OtaError(f"POST {path} answered {status}: {why or answer!r}")
    result = answer
    if rpc is not None:
        result = check_status(rpc, len(data), "http")
    return OtaResult("http", len(data), digest, 1, time.monotonic() - t0, result)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class OtaFlasher(FlashBackend):
    """Flash backend over OTA: sends the image *file* into the update bank; an ELF is
    packed for ``board`` first (and ``say`` tells so: stderr by default), or refused
    without a board (:func:`prepare_image`).

    ``OtaFlasher(rpc)`` uploads over the console; ``OtaFlasher(rpc, bridge=br)`` or
    ``OtaFlasher(rpc, url=...)`` over HTTP, verified with ``ota.status``.
    """

    name = "ota"

    def __init__(self, rpc: RpcClient | None = None, *, bridge: StackBridge | None = None,
                 url: str | None = None, board: Board | None = None,
                 say: Callable[[str], None] | None = _say) -> None:
        if rpc is None and bridge is None and url is None:
            raise ValueError("OtaFlasher needs an RPC client, a bridge or a URL")
        self.rpc = rpc
        self.bridge = bridge
        self.url = url
        self.board = board
        self.say = say
        self.last: OtaResult | None = None

    def flash(self, image: Image, *, verify: bool = True,
              progress: ProgressFn | None = None) -> FlashResult:
        notes: list[str] = []

        def note(text: str) -> None:
            notes.append(text)
            if self.say is not None:
                self.say(text)

        data = prepare_image(image.path, self.board, note)
        if self.bridge is not None or self.url is not None:
            res = ota_http(data, url=self.url, bridge=self.bridge,
                           rpc=self.rpc if verify else None)
            if progress:
                progress(len(data), len(data), "ota")
        else:
            assert self.rpc is not None
            res = ota_rpc(self.rpc, data, verify=verify, progress=progress)
        self.last = res
        return FlashResult(
            backend=f"ota-{res.transport}", image=image.path, bytes_total=len(data),
            bytes_written=len(data), bytes_skipped=0,
            verified=True,  # the device hashes the bank and refuses a mismatch
            verify_method="image header + sha256 on the device"
            + (" + ota.status" if verify and self.rpc is not None else ""),
            seconds=res.seconds, log=[*notes, res.summary()])
