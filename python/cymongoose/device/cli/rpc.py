"""``cymongoose rpc``."""

from __future__ import annotations

import argparse
import json
import sys

from ..boards import BoardMap
from ..cliutil import UsageError, seconds
from .common import EXIT_FAIL, EXIT_OK, SubParsers, formatter, open_target, target_args


def add_parser(sub: SubParsers) -> None:
    s = sub.add_parser(
        "rpc", help="call a JSON-RPC method on the reference firmware over its console",
        description="Send one JSON-RPC 2.0 request over the device console (framing: "
                    "docs/device-rpc.md) and print the result as JSON. Parameters are "
                    "KEY=VALUE pairs (VALUE is parsed as JSON when it can be, else taken as "
                    "a string) or one --params JSON object. With --firmware the board is booted "
                    "in QEMU first and the call waits for the firmware's 'ready' notification.\n\n"
                    "Exit status: 0 result printed; 1 the device answered an error (code and "
                    "message on stderr) or did not answer in time.",
        formatter_class=formatter,
        epilog="examples:\n"
               "  cymongoose rpc --firmware build/fw/device_app.elf info\n"
               "  cymongoose rpc --firmware build/fw/device_app.elf led.set on=true\n"
               "  cymongoose rpc --port /dev/ttyACM0 ota.status\n"
               "  cymongoose rpc --port socket://127.0.0.1:7000 reboot --params "
               "'{\"delay_ms\": 500}'")
    target_args(s)
    s.add_argument("method", help="method name, e.g. info, led.set, ota.status")
    s.add_argument("params", nargs="*", metavar="KEY=VALUE", help="parameters")
    s.add_argument("--params", dest="params_json", metavar="JSON",
                   help="parameters as one JSON object (or array)")
    s.add_argument("--timeout", type=seconds, default=5.0,
                   help="seconds to wait for the response (default 5)")
    s.add_argument("--ready-timeout", type=seconds, default=20.0,
                   help="with --firmware: seconds to wait for the 'ready' notification")
    s.add_argument("--json", action="store_true",
                   help='print {"ok", "method", "result" or "error"} instead of the bare result')
    s.add_argument("--log", help="write the console session log to this file")
    s.set_defaults(handler=run)


def _parse_params(args: argparse.Namespace) -> dict[str, object] | list[object] | None:
    if args.params_json is not None:
        if args.params:
            raise UsageError("give KEY=VALUE parameters or --params JSON, not both")
        try:
            value = json.loads(args.params_json)
        except ValueError as exc:
            raise UsageError(f"--params is not JSON: {exc}") from None
        if not isinstance(value, (dict, list)):
            raise UsageError("--params must be a JSON object or array")
        return value
    params: dict[str, object] = {}
    for item in args.params:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise UsageError(f"parameter {item!r}: want KEY=VALUE")
        try:
            params[key] = json.loads(text)
        except ValueError:
            params[key] = text
    return params or None


def run(args: argparse.Namespace, bmap: BoardMap) -> int:
    from ..rpc import RpcClient, RpcError, RpcTimeoutError

    params = _parse_params(args)
    target = open_target(args, bmap, args.log)
    with target:
        rpc = RpcClient(target.console, timeout=args.timeout)
        if args.firmware and not args.port:
            rpc.wait_notification("ready", timeout=args.ready_timeout)
        try:
            result = rpc.request(args.method, params)
        except RpcError as exc:
            print(f"cymongoose rpc: {args.method}: error {exc.code}: {exc.message}",
                  file=sys.stderr)
            if args.json:
                error = {"code": exc.code, "message": exc.message, "data": exc.data}
                print(json.dumps({"ok": False, "method": args.method, "error": error}))
            return EXIT_FAIL
        except RpcTimeoutError as exc:
            print(f"cymongoose rpc: {exc}", file=sys.stderr)
            if args.json:
                error = {"code": None, "message": f"no response within {args.timeout:g} s"}
                print(json.dumps({"ok": False, "method": args.method, "error": error}))
            return EXIT_FAIL
    if args.json:
        print(json.dumps({"ok": True, "method": args.method, "result": result}, indent=2))
    else:
        print(json.dumps(result, indent=2))
    return EXIT_OK
