"""``cymongoose bridge``."""

from __future__ import annotations

import argparse
import os
import re
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

MAX_BOARDS = 4  # boards on one segment: the DHCP pool the duts fixture also allows


def add_parser(sub: SubParsers) -> None:
    s = sub.add_parser(
        "bridge", help="reach an emulated board's network: host ports (no root) or a TAP",
        description="Boot the board in QEMU with its NIC on a frame socket.\n\n"
                    "Without --tap (no root): the frames end in this process's built-in "
                    "TCP/IP stack, whose DHCP server leases the board its address; --forward "
                    "HOSTPORT:BOARDPORT then makes 127.0.0.1:HOSTPORT a tunnel to the board, so "
                    "curl, browsers and scripts reach the firmware.\n\n"
                    "Several boards (--firmware repeated, or --count N): each its own QEMU, "
                    "all on one emulated Ethernet segment with this process's stack (a "
                    "switch); dev0, dev1 ... get MAC 52:54:00:12:35:10, :11 ... and their own "
                    "DHCP address, their console lines are prefixed [devI], and --forward "
                    "HOSTPORT:devI:BOARDPORT picks the board.\n\n"
                    "With --tap IFACE (root): every Ethernet frame is copied to a TAP interface "
                    "and back, so ping, curl and wireshark on the host see the board directly.",
        formatter_class=formatter,
        epilog="examples:\n"
               "  cymongoose bridge --firmware build/fw/net_fw.elf --forward 8080:80 "
               "--forward 7007:7\n"
               "      then: curl http://127.0.0.1:8080/api/info\n"
               "  cymongoose bridge --firmware build/fw/net_fw.elf --pcap br.pcap --duration 30\n"
               "  cymongoose bridge --firmware build/fw/device_app.elf --count 2 "
               "--forward 8080:dev0:80 --forward 8081:dev1:80 --pcap seg.pcap\n"
               "      (seg.dev0.pcap, seg.dev1.pcap: one pcap per board's port)\n"
               "  cymongoose bridge --serial /dev/ttyUSB1 --baudrate 921600 --forward 8080:80\n"
               "  (as root; the TAP is created if missing)\n"
               "  ip tuntap add dev tap0 mode tap && ip addr add 10.0.2.2/24 dev tap0 && "
               "ip link set tap0 up\n"
               "  cymongoose bridge --tap tap0 --firmware build/fw/net_fw.elf --pcap br.pcap")
    target_args(s, many_firmware=True)
    s.add_argument("--count", type=_count_arg, metavar="N",
                   help=f"boot N boards of the one --firmware on one segment (1..{MAX_BOARDS})")
    s.add_argument("--tap", help="TAP interface to bridge to (root)")
    s.add_argument("--serial", metavar="PORT",
                   help="no QEMU: the board's frames come SLIP-framed over this serial port "
                        "(firmware with the SLIP driver on a UART); --baudrate sets its speed")
    s.add_argument("--forward", action="append", default=[],
                   metavar="HOSTPORT:[devI:]BOARDPORT",
                   help="without --tap: listen on 127.0.0.1:HOSTPORT and tunnel each "
                        "connection to BOARDPORT of board I (default dev0); may be repeated")
    s.add_argument("--host-ip", default="10.0.2.2",
                   help="without --tap: the host's address on the bridge (default 10.0.2.2)")
    s.add_argument("--device-ip", default="10.0.2.15",
                   help="without --tap: the address our DHCP server leases the board, "
                        "the first of the pool with several (default 10.0.2.15)")
    s.add_argument("--pcap", help="also write every bridged frame to this pcap file; with "
                                  "several boards one file per board's port, "
                                  "NAME.devI.pcap")
    s.add_argument("--impair", metavar="SPEC", type=_impair_arg,
                   help="without --tap: impair the link, e.g. 'loss=5%%,delay=50ms±10ms,"
                        "seed=1' (docs/device.md: spec syntax), every board's port alike; "
                        "decisions go to PCAP.impair.log with --pcap")
    s.add_argument("--duration", type=seconds,
                   help="stop after this many seconds (default: Ctrl-C)")
    s.add_argument("--lease-timeout", type=seconds, default=5.0, metavar="SECONDS",
                   help="without --tap: warn when the board has no DHCP lease after this "
                        "long (default 5)")
    s.add_argument("--log", help="write the console session log to this file (several "
                                 "boards: NAME.devI.log)")
    s.set_defaults(handler=run)


def _impair_arg(text: str) -> str:
    """An impairment spec, checked at once (a bad field is a usage error naming it)."""
    from ..impair import parse_spec

    try:
        parse_spec(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _count_arg(text: str) -> int:
    n = int(text) if text.isdigit() else 0
    if not 1 <= n <= MAX_BOARDS:
        raise argparse.ArgumentTypeError(f"{text!r}: want 1..{MAX_BOARDS} boards (the "
                                         "segment's DHCP pool)")
    return n


def run(args: argparse.Namespace, bmap: BoardMap) -> int:
    firmware = list(args.firmware or [])
    if args.impair is not None and (args.serial or args.tap):
        raise UsageError("--impair works on the root-free QEMU bridge (no --serial, --tap)")
    if args.serial:
        if args.tap or args.pcap or firmware or args.count:
            raise UsageError("--serial bridges a board on a serial line: no --tap, --pcap, "
                              "--firmware or --count")
        return _bridge_stack(args, None, _parse_forwards(args.forward, 1))
    board = bmap.get(args.board or DEFAULT_BOARD)
    if board.boot != "qemu":
        raise UsageError(f"bridge works with emulated boards; {board.name} boots by {board.boot}")
    if not firmware:
        raise UsageError("give --firmware FILE")
    if args.count is not None:
        if len(firmware) != 1:
            raise UsageError(f"--count {args.count} boots copies of one --firmware; with "
                              f"{len(firmware)} --firmware leave --count out")
        firmware *= args.count
    if len(firmware) > MAX_BOARDS:
        raise UsageError(f"{len(firmware)} boards: at most {MAX_BOARDS} on one segment "
                          "(its DHCP pool)")
    forwards = _parse_forwards(args.forward, len(firmware))
    if args.tap:
        if len(firmware) > 1:
            raise UsageError("--tap bridges one board; several boards share the root-free "
                              "segment (no --tap)")
        if args.forward:
            raise UsageError("--forward is for the root-free bridge; with --tap use the "
                              "board's address directly")
    if len(firmware) > 1:
        return _bridge_segment(args, bmap, board.name, firmware, forwards)
    plan = plan_target(TargetSpec(board=board.name, firmware=firmware[0],
                                  qemu={"nic": "stream"}, log_path=args.log), bmap)
    if args.tap:
        return _bridge_tap(args, plan)
    return _bridge_stack(args, plan, forwards)


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


def _parse_forwards(specs: Sequence[str], boards: int) -> list[tuple[int, int, int]]:
    """``HOSTPORT:BOARDPORT`` (board 0) or ``HOSTPORT:devI:BOARDPORT`` ->
    (host port, board index, board port); an index past ``boards`` is a usage error."""
    out = []
    for spec in specs:
        parts = spec.split(":")
        dev = "dev0" if len(parts) == 2 else parts[1] if len(parts) == 3 else ""
        m = re.fullmatch(r"dev(\d+)", dev)
        host, port = parts[0], parts[-1]
        if not m or not host.isdigit() or not port.isdigit() or not (
                0 <= int(host) < 65536 and 0 < int(port) < 65536):
            raise UsageError(f"--forward {spec!r}: want HOSTPORT:BOARDPORT or "
                              "HOSTPORT:devI:BOARDPORT, e.g. 8080:80 or 8081:dev1:80")
        index = int(m.group(1))
        if index >= boards:
            have = "dev0" if boards == 1 else f"dev0..dev{boards - 1}"
            raise UsageError(f"--forward {spec!r}: no board dev{index} (this bridge has "
                              f"{have}: one per --firmware, or --count N)")
        out.append((int(host), index, int(port)))
    return out


def _bridge_stack(args: argparse.Namespace, plan: TargetPlan | None,
                  forwards: list[tuple[int, int, int]]) -> int:
    import contextlib

    from ..bridge import PortForwarder, StackBridge

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
        for host_port, _, dev_port in forwards:
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


def _per_board(path: str | None, i: int, ext: str) -> str | None:
    """``seg.pcap`` -> ``seg.dev1.pcap``: board *i*'s own file."""
    if not path:
        return None
    stem, suffix = os.path.splitext(path)
    return f"{stem}.dev{i}{suffix or ext}"


_READY = re.compile(r"net: ready ip=(\d+\.\d+\.\d+\.\d+)")


class _PrefixedConsole:
    """Board *i*'s console to stdout, each line prefixed ``[devI]``; finds the address
    the firmware reports (``net: ready ip=A.B.C.D``)."""

    def __init__(self, index: int) -> None:
        self.prefix = f"[dev{index}] "
        self.partial = ""

    def copy(self, target: QemuTarget) -> str | None:
        text = self.partial + target.console.read_available().replace("\r\n", "\n")
        *lines, self.partial = text.split("\n")
        ip = None
        for line in lines:
            sys.stdout.write(self.prefix + line + "\n")
            m = _READY.search(line)
            ip = m.group(1) if m else ip
        if lines:
            sys.stdout.flush()
        return ip

    def flush(self) -> None:
        if self.partial:
            sys.stdout.write(self.prefix + self.partial + "\n")
            self.partial = ""


def _bridge_segment(args: argparse.Namespace, bmap: BoardMap, board: str,
                    firmware: list[str], forwards: list[tuple[int, int, int]]) -> int:
    """Several emulated boards on one segment (multidut.Segment), ports forwarded."""
    import contextlib

    from ..bridge import PortForwarder
    from ..multidut import Segment, board_mac

    n = len(firmware)
    plans = [plan_target(TargetSpec(board=board, firmware=fw,
                                    qemu={"nic": "stream", "mac": board_mac(i)},
                                    log_path=_per_board(args.log, i, ".log")), bmap)
             for i, fw in enumerate(firmware)]
    with contextlib.ExitStack() as stack:
        targets = [stack.enter_context(_qemu(p)) for p in plans]
        seg = stack.enter_context(Segment(
            [t.netdev_socket() for t in targets],
            pcaps=[_per_board(args.pcap, i, ".pcap") for i in range(n)],
            health=[t.check for t in targets], host_ip=args.host_ip,
            device_ip=args.device_ip))
        for t, port in zip(targets, seg.ports):
            if args.impair is not None:
                port.network.apply(args.impair)
                port.network.carrier = t.set_link
        fwd = PortForwarder(seg.ports[0])
        stack.callback(fwd.close)
        for host_port, i, dev_port in forwards:
            bound = fwd.add(host_port, dev_port, bridge=seg.ports[i])
            print(f"[127.0.0.1:{bound} -> dev{i}:{dev_port}]", file=sys.stderr, flush=True)
        print(f"[bridging {n} {board} boards dev0..dev{n - 1} on one segment with this "
              f"process's TCP/IP stack: host {args.host_ip}, "
              f"DHCP pool from {args.device_ip}; Ctrl-C to stop]", file=sys.stderr, flush=True)
        consoles = [_PrefixedConsole(i) for i in range(n)]
        started = time.monotonic()
        deadline = started + args.duration if args.duration else None
        warned = False
        try:
            while deadline is None or time.monotonic() < deadline:
                fwd.poll(20)
                for i, (t, con) in enumerate(zip(targets, consoles)):
                    ip = con.copy(t)
                    if ip is not None and ip != seg.ports[i].device_ip:
                        seg.ports[i].device_ip = ip
                        print(f"[dev{i} {board_mac(i)} has its lease: {ip}]",
                              file=sys.stderr, flush=True)
                seg.check()
                waiting = [i for i, p in enumerate(seg.ports) if not p.device_ip]
                if waiting and not warned and time.monotonic() - started >= args.lease_timeout:
                    warned = True
                    print(f"[warning: {', '.join(f'dev{i}' for i in waiting)} reported no "
                          f"address ('net: ready ip=' on the console) after "
                          f"{args.lease_timeout:g} s; their forwards refuse connections "
                          "until then]", file=sys.stderr, flush=True)
        except KeyboardInterrupt:
            pass
        for con in consoles:
            con.flush()
        sw = seg.switch
        print(f"[bridged {n} boards: the switch forwarded {sw.forwarded if sw else 0} "
              f"frames, flooded {sw.flooded if sw else 0}; {fwd.tunnels} tunnelled "
              "connections]", file=sys.stderr)
        if args.impair is not None:
            for i, port in enumerate(seg.ports):
                ist = port.network.stats
                print(f"[dev{i} impaired (seed {port.network.seed}): "
                      + ", ".join(f"{k} {ist[k]}" for k in ("frames", "dropped", "delayed",
                                  "duplicated", "reordered", "corrupted")) + "]",
                      file=sys.stderr)
    return EXIT_OK
