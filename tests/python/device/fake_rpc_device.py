"""A fake device speaking the console JSON-RPC framing of docs/device-rpc.md on stdin/stdout.

Run on a pty by the RPC client tests (HostProcessTarget). Implemented from the document,
independently of cymongoose.device.rpc: lines starting with RS (0x1E) are requests, other
lines are text commands; log lines are printed around responses like the firmware does.
Test-only extras: ``test.silent`` never answers, ``test.garbage`` answers after a broken
frame and some noise, ``test.logs`` prints N log lines before its response,
``test.overrun`` answers like a device that lost console input (error -32010, id null),
``test.maxqueue`` returns the most request lines ever waiting unread at once.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sys

RS = b"\x1e"
MAX_FRAME = 2048
BANK = 64 * 1024
CHUNK_MAX = 768

out = sys.stdout.buffer
state = {"led": False, "maxqueue": 0}
ota: dict[str, object] = {"state": "idle", "size": 0, "received": 0, "error": "", "bank": 0,
                          "source": "", "sha": "", "data": bytearray()}


def write(data: bytes) -> None:
    out.write(data)
    out.flush()


def log(text: str) -> None:
    write(text.encode() + b"\n")


def frame(obj: dict) -> None:
    write(RS + json.dumps(obj, separators=(",", ":")).encode() + b"\n")


class Err(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def handle(method: str, params: dict) -> object:
    if method == "info":
        return {"app": "fake_device", "version": "0.0.1", "board": "fake", "uptime_ms": 1,
                "free_ram": -1, "features": ["rpc", "ota"]}
    if method == "led.get":
        return {"on": state["led"]}
    if method == "led.set":
        if not isinstance(params.get("on"), bool):
            raise Err(-32602, "on: expected a boolean")
        state["led"] = params["on"]
        log(f"led: {'on' if state['led'] else 'off'}")
        return {"on": state["led"]}
    if method == "test.garbage":
        return "ok"
    if method == "test.maxqueue":
        return state["maxqueue"]
    if method == "test.logs":
        for i in range(int(params.get("n", 3))):
            log(f"log line {i}")
        return {"logged": int(params.get("n", 3))}
    if method == "ota.begin":
        size, sha = params.get("size"), params.get("sha256")
        if not isinstance(size, int) or size <= 0:
            raise Err(-32602, "size: expected a positive integer")
        if not isinstance(sha, str) or len(sha) != 64:
            raise Err(-32602, "sha256: expected 64 hex digits")
        if size > BANK:
            raise Err(-32001, f"image of {size} bytes exceeds the bank ({BANK})")
        ota.update(state="receiving", size=size, received=0, error="", source="rpc",
                   sha=sha.lower(), data=bytearray(), bank=0)
        return {"bank_size": BANK, "chunk_max": CHUNK_MAX}
    if method == "ota.write":
        if ota["state"] != "receiving":
            raise Err(-32000, "no update in progress")
        if params.get("offset") != ota["received"]:
            raise Err(-32002, f"expected offset {ota['received']}")
        chunk = base64.b64decode(params.get("data_b64", ""))
        if len(chunk) > CHUNK_MAX or ota["received"] + len(chunk) > ota["size"]:
            raise Err(-32602, "data_b64: chunk too large")
        ota["data"] += chunk  # type: ignore[operator]
        ota["received"] = len(ota["data"])  # type: ignore[arg-type]
        return {"received": ota["received"]}
    if method == "ota.end":
        if ota["state"] != "receiving":
            raise Err(-32000, "no update in progress")
        if ota["received"] != ota["size"]:
            ota.update(state="failed", error="image incomplete")
            raise Err(-32004, "image incomplete")
        digest = hashlib.sha256(bytes(ota["data"])).hexdigest()  # type: ignore[arg-type]
        if digest != ota["sha"]:
            ota.update(state="failed", error="sha256 mismatch", data=bytearray())
            raise Err(-32003, "sha256 mismatch")
        ota.update(state="verified", bank=1)
        log("ota: verified, bank 1 boots next")
        return {"state": "verified", "size": ota["size"], "sha256": digest, "bank": 1}
    if method == "ota.status":
        return {k: ota[k] for k in ("state", "size", "received", "error", "bank", "source")}
    raise Err(-32601, f"{method} not found")


def run_frame(text: bytes) -> None:
    if len(text) > MAX_FRAME:
        frame({"jsonrpc": "2.0", "id": None, "error": {"code": -32600,
                                                       "message": "frame too long"}})
        return
    try:
        req = json.loads(text)
        if not isinstance(req, dict) or not isinstance(req.get("method"), str):
            raise TypeError
    except (ValueError, TypeError):
        frame({"jsonrpc": "2.0", "id": None,
               "error": {"code": -32700, "message": text.decode(errors="replace")[:100]}})
        return
    method, rid = req["method"], req.get("id")
    if method == "test.silent":
        return
    if method == "test.overrun":
        frame({"jsonrpc": "2.0", "id": None,
               "error": {"code": -32010, "message": "console input overrun: 9 bytes lost"}})
        return
    if method == "test.garbage":
        write(b"noise without newline " + RS + b"{\"jsonrpc\":\"2.0\",\"id\":")  # cut short
        write(RS + b"not json at all\n")
        write(RS + b"[1,2,3]\n")
        frame({"jsonrpc": "2.0", "id": 987654, "result": "stale"})  # someone else's id
    try:
        result = handle(method, req.get("params") or {})
        if rid is not None:
            frame({"jsonrpc": "2.0", "id": rid, "result": result})
    except Err as e:
        if rid is not None:
            frame({"jsonrpc": "2.0", "id": rid, "error": {"code": e.code, "message": e.message}})


def main() -> None:
    log("fake device booting")
    frame({"jsonrpc": "2.0", "method": "ready", "params": {"app": "fake_device",
                                                           "version": "0.0.1"}})
    buf = b""
    fd = sys.stdin.fileno()
    while True:
        data = os.read(fd, 4096)
        if not data:
            return
        buf += data
        state["maxqueue"] = max(state["maxqueue"], buf.count(b"\n"))
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            line = line.rstrip(b"\r")
            if RS in line:
                run_frame(line[line.rfind(RS) + 1:])
            elif line.strip() == b"help":
                log("commands: help, info")
            elif line.strip():
                log(f"unknown command: {line.decode(errors='replace')}")
        if len(buf) > 4 * MAX_FRAME:  # an endless line: drop it and answer like the firmware
            buf = b""
            frame({"jsonrpc": "2.0", "id": None,
                   "error": {"code": -32600, "message": "frame too long"}})


if __name__ == "__main__":
    main()
