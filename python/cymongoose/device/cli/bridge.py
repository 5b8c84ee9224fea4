"""``cymongoose bridge``."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..boards import DEFAULT_BOARD, BoardMap
from ..cliutil import UsageError, seconds
from ..defaults import DEFAULT_BAUDRATE
from ..errors import DeviceError
from ..factory import TargetPlan, TargetSpec, plan_target
from .common import EXIT_OK, SubParsers, copy_console, formatter, target_args

if TYPE_CHECKING:
    from ..targets import QemuTarget


def add_parser(sub: SubParsers) -> None:
    s = sub.add_parser(
        "bridge", help="reach an emulated board's network: host ports (no root) or a TAP",
        description="Boot the board in QEMU with its NIC on a frame socket.\n\n"
                    "Without --tap (no root): the frames end in this process's built-in "
                    "TCP/IP stack, whose DHCP server leases the board its address; --forward "
                    "HOSTPORT:BOARDPORT then makes 127.0.0.1:HOSTPORT a tunnel to the board, so "
                    "curl, browsers and scripts reach the firmware.\n\n"
                    "With --tap IFACE (root): every Ethernet frame is copied to a TAP interface "
                    "and back, so ping, curl and wireshark on the host see the board directly.",
        formatter_class=formatter,
        epilog="examples:\n"
               "  cymongoose bridge --firmware build/fw/net_fw.elf --forward 8080:80 "
               "--forward 7007:7\n"
               "      then: curl http://127.0.0.1:8080/api/info\n"
               "  cymongoose bridge --firmware build/fw/net_fw.elf --pcap br.pcap --duration 30\n"
               "  cymongoose bridge --serial /dev/ttyUSB1 --baudrate 921600 --forward 8080:80\n"
               "  (as root; the TAP is created if missing)\n"
               "  ip tuntap add dev tap0 mode tap && ip addr add 10.0.2.2/24 dev tap0 && "
               "ip link set tap0 up\n"
               "  cymongoose bridge --tap tap0 --firmware build/fw/net_fw.elf --pcap br.pcap")
    target_args(s)
    s.add_argument("--tap", help="TAP interface to bridge to (root)")
    s.add_argument("--serial", metavar="PORT",
                   help="no QEMU: the board's frames come SLIP-framed over this serial port "
                        "(firmware with the SLIP driver on a UART); --baudrate sets its speed")
    s.add_argument("--forward", action="append", default=[], metavar="HOSTPORT:BOARDPORT",
                   help="without --tap: listen on 127.0.0.1:HOSTPORT and tunnel each "
                        "connection to the board's BOARDPORT (may be repeated)")
    s.add_argument("--host-ip", default="10.0.2.2",
                   help="without --tap: the host's address on the bridge (default 10.0.2.2)")
    s.add_argument("--device-ip", default="10.0.2.15",
                   help="without --tap: the address our DHCP server leases the board "
                        "(default 10.0.2.15)")
    s.add_argument("--pcap", help="also write every bridged frame to this pcap file")
    s.add_argument("--impair", metavar="SPEC", type=_impair_arg,
                   help="without --tap: impair the link, e.g. 'loss=5%%,delay=50ms±10ms,"
                        "seed=1' (docs/device.md: spec syntax); decisions go to "
                        "PCAP.impair.log with --pcap")
    s.add_argument("--duration", type=seconds,
                   help="stop after this many seconds (default: Ctrl-C)")
    s.add_argument("--lease-timeout", type=seconds, default=5.0, metavar="SECONDS",
                   help="without --tap: warn when the board has no DHCP lease after this "
                        "long (default 5)")
    s.add_argument("--log", help="write the console session log to this file")
    s.set_defaults(handler=run)


def _impair_arg(text: str) -> str:
    """An impairment spec, checked at once (a bad field is a usage error naming it)."""
    from ..impair import parse_spec

    try:
        parse_spec(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def run(args: argparse.Namespace, bmap: BoardMap) -> int:
    if args.impair is not None and (args.serial or args.tap):
        raise UsageError("--impair works on the root-free QEMU bridge (no --serial, --tap)")
    if args.serial:
        if args.tap or args.pcap or args.firmware:
            raise UsageError("--serial bridges a board on a serial line: no --tap, --pcap "
                              "or --firmware")
        return _bridge_stack(args, None)
    board = bmap.get(args.board or DEFAULT_BOARD)
    if board.boot != "qemu":
        raise UsageError(f"bridge works with emulated boards; {board.name} boots by {board.boot}")
    if not args.firmware:
        raise UsageError("give --firmware FILE")
    plan = plan_target(TargetSpec(board=board.name, firmware=args.firmware,
                                  qemu={"nic": "stream"}, log_path=args.log), bmap)
    if args.tap:
        if args.forward:
            raise UsageError("--forward is for the root-free bridge; with --tap use the "
                              "board's address directly")
        return _bridge_tap(args, plan)
    return _bridge_stack(args, plan)


def _qemu(plan: TargetPlan) -> QemuTarget:
    from ..targets import QemuTarget

    target = plan.build()
    assert isinstance(target, QemuTarget)
    return target


def _bridge_tap(args: argparse.Namespace, plan: TargetPlan) -> int:
    from ..bridge import TapBridge, TapDevice
    from ..frames import PcapWriter

    assert plan.board is not None
    board = plan.board
    tap = TapDevice(args.tap)
    try:
        with _qemu(plan) as target:
            link = target.frame_link()
            bridge = TapBridge(link, tap, PcapWriter(args.pcap) if args.pcap else None).start()
            print(f"[bridging {board.name} <-> {tap.name}; Ctrl-C to stop]", file=sys.stderr,
                  flush=True)
            deadline = time.monotonic() + args.duration if args.duration else None
            try:
                while deadline is None or time.monotonic() < deadline:
                    copy_console(target)
                    target.check()
                    if bridge.error:
                        raise DeviceError(f"bridge stopped: {bridge.error}")
                    time.sleep(0.05)
            except KeyboardInterrupt:
                pass
            finally:
                bridge.stop()
                link.close()
            print(f"[bridged {bridge.to_tap} frames to {tap.name}, {bridge.to_device} to the "
                  "device]", file=sys.stderr)
    finally:
        tap.close()
    return EXIT_OK


def _parse_forwards(specs: Sequence[str]) -> list[tuple[int, int]]:
    out = []
    for spec in specs:
        host, sep, dev = spec.partition(":")
        if not sep or not host.isdigit() or not dev.isdigit() or not (
                0 <= int(host) < 65536 and 0 < int(dev) < 65536):
            raise UsageError(f"--forward {spec!r}: want HOSTPORT:BOARDPORT, e.g. 8080:80")
        out.append((int(host), int(dev)))
    return out


def _bridge_stack(args: argparse.Namespace, plan: TargetPlan | None) -> int:
    import contextlib

    from ..bridge import PortForwarder, StackBridge

    forwards = _parse_forwards(args.forward)
    with contextlib.ExitStack() as stack:
        target: QemuTarget | None = None
        if plan is None:
            br = stack.enter_context(StackBridge(
                serial=args.serial, baudrate=args.baudrate or DEFAULT_BAUDRATE, host_ip=args.host_ip,
                device_ip=args.device_ip))
            what = f"the board on {args.serial}"
        else:
            assert plan.board is not None
            qemu = target = stack.enter_context(_qemu(plan))
            br = stack.enter_context(StackBridge(
                qemu.netdev_socket(), host_ip=args.host_ip, device_ip=args.device_ip,
                pcap=args.pcap, health=qemu.check, impair=args.impair))
            if args.impair is not None:
                br.network.carrier = qemu.set_link
            what = plan.board.name
        fwd = PortForwarder(br)
        stack.callback(fwd.close)
        for host_port, dev_port in forwards:
            bound = fwd.add(host_port, dev_port)
            print(f"[127.0.0.1:{bound} -> board {br.device_ip}:{dev_port}]",
                  file=sys.stderr, flush=True)
        print(f"[bridging {what} into this process's TCP/IP stack: host {br.host_ip}, "
              f"board {br.device_ip} (leased by our DHCP server); Ctrl-C to stop]",
              file=sys.stderr, flush=True)
        started = time.monotonic()
        deadline = started + args.duration if args.duration else None
        leased = warned = False
        try:
            while deadline is None or time.monotonic() < deadline:
                fwd.poll(20)
                if target is not None:
                    copy_console(target)
                br.check()
                if not leased and br.stats.get("dhcps_acks", 0) > 0:
                    leased = True
                    print(f"[board {br.device_ip} has its lease]", file=sys.stderr,
                          flush=True)
                elif not leased and not warned and \
                        time.monotonic() - started >= args.lease_timeout:
                    warned = True
                    print(_no_lease_warning(br.stats, args.lease_timeout), file=sys.stderr,
                          flush=True)
        except KeyboardInterrupt:
            pass
        st = br.stats
        print(f"[bridged {st['rx_frames']} frames from the board, {st['tx_frames']} to "
              f"it; {fwd.tunnels} tunnelled connections]", file=sys.stderr)
        if args.impair is not None:
            ist = br.network.stats
            print("[impaired (seed " + str(br.network.seed) + "): "
                  + ", ".join(f"{k} {ist[k]}" for k in ("frames", "dropped", "delayed",
                              "duplicated", "reordered", "corrupted")) + "]", file=sys.stderr)
    return EXIT_OK


def _no_lease_warning(stats: dict[str, int], after: float) -> str:
    """Why a bridged board may have no address yet, from what the bridge saw of it."""
    if stats.get("rx_frames", 0) == 0:
        why = ("no frame came from the board at all: does this firmware bring up a network "
               "interface? (net_fw and device_app do, hello_fw does not)")
    else:
        why = (f"{stats['rx_frames']} frames came from the board, but no DHCP request we could "
               "answer: does its firmware use DHCP, or a static address outside the bridge's "
               "network?")
    return f"[warning: the board has no DHCP lease after {after:g} s; {why}]"
