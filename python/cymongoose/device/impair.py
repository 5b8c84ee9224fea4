"""Network impairment for the root-free bridge: loss, delay, reordering, duplication,
corruption, a rate limit, a smaller MTU and the link pulled, per direction, without root.

Three layers:

* :class:`Impairment`, :func:`parse_spec`: what to do, from keywords or from one spec
  string (``"loss=5%,delay=50ms±10ms,seed=1"``) used by the pytest marker and the CLI.
* :class:`Impairer`: the sans-IO core. ``push(direction, frame, now)`` hands it a frame,
  ``pop_due(now)`` returns the frames to deliver by then, ``next_due()`` says when to ask
  again. It takes the time as an argument, so tests drive it with a fake clock.
* :class:`Network`: the thread-safe handle a bridge gives out (``dut.network``): change
  the impairment at any moment, pull the link, read ``stats``.

Decisions are drawn from one random generator per direction, seeded from ``seed`` (a
fixed number of draws per frame), so a seeded run replays the same decision for the
n-th frame of each direction. Only the rate limiter's tail drop depends on timing.
"""

from __future__ import annotations

import heapq
import os
import random
import re
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

TO_DEVICE = 0    # frames from the host (our stack) to the board
FROM_DEVICE = 1  # frames from the board to the host
DIRECTIONS = ("to", "from")
ETH_HEADER = 14
REORDER_HOLD = 0.05  # s a reordered frame waits for a later one to overtake it
DEFAULT_QUEUE = 100  # frames waiting for the rate limiter before tail drop

EventFn = Callable[[float, int, int, str, str], None]  # now, direction, frame no, action, detail


@dataclass(frozen=True)
class Impairment:
    """What happens to the frames of one direction. Probabilities are fractions (0..1).

    ``burst``: Gilbert-Elliott losses, ``(p, r, bad_loss)``: per frame the link turns bad
    with probability ``p`` and good again with ``r``; in the bad state a frame is lost
    with ``bad_loss``, in the good state with ``loss``. ``rate_bps``: bits per second,
    with ``queue`` frames waiting at most (more are tail-dropped). ``mtu``: frames whose
    payload (after the 14-byte Ethernet header) is larger are dropped.
    """

    loss: float = 0.0
    burst: tuple[float, float, float] | None = None
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    reorder: float = 0.0
    duplicate: float = 0.0
    corrupt: float = 0.0
    rate_bps: float | None = None
    queue: int = DEFAULT_QUEUE
    mtu: int | None = None

    def __post_init__(self) -> None:
        for name in ("loss", "reorder", "duplicate", "corrupt"):
            _check_prob(name, getattr(self, name))
        if self.burst is not None:
            if len(self.burst) != 3:
                raise ValueError(f"burst: want (p, r, bad_loss), not {self.burst!r}")
            for name, v in zip(("burst p", "burst r", "burst bad_loss"), self.burst):
                _check_prob(name, v)
        for name in ("delay_ms", "jitter_ms"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not 0 <= v <= 60_000:
                raise ValueError(f"{name}: want 0..60000 ms, not {v!r}")
        if self.jitter_ms > self.delay_ms:
            raise ValueError(f"jitter_ms: {self.jitter_ms:g} ms is more than the delay "
                             f"({self.delay_ms:g} ms)")
        if self.rate_bps is not None and (not isinstance(self.rate_bps, (int, float))
                                          or self.rate_bps < 8):
            raise ValueError(f"rate_bps: want at least 8 bits/s, not {self.rate_bps!r}")
        if isinstance(self.queue, bool) or not isinstance(self.queue, int) or self.queue < 1:
            raise ValueError(f"queue: want a number of frames >= 1, not {self.queue!r}")
        if self.mtu is not None and (isinstance(self.mtu, bool) or not isinstance(self.mtu, int)
                                     or not 68 <= self.mtu <= 65535):
            raise ValueError(f"mtu: want 68..65535 bytes, not {self.mtu!r}")

    @property
    def active(self) -> bool:
        return self != Impairment()

    def describe(self) -> str:
        """This impairment in spec syntax (what ``parse_spec`` reads back)."""
        out = []
        if self.loss:
            out.append(f"loss={_pct(self.loss)}")
        if self.burst:
            out.append("burst=" + "/".join(_pct(v) for v in self.burst))
        if self.delay_ms:
            out.append(f"delay={_num(self.delay_ms)}ms"
                       + (f"+-{_num(self.jitter_ms)}ms" if self.jitter_ms else ""))
        for name, key in (("reorder", "reorder"), ("duplicate", "dup"), ("corrupt", "corrupt")):
            if getattr(self, name):
                out.append(f"{key}={_pct(getattr(self, name))}")
        if self.rate_bps:
            out.append(f"rate={_num(self.rate_bps)}bit")
            if self.queue != DEFAULT_QUEUE:
                out.append(f"queue={self.queue}")
        if self.mtu:
            out.append(f"mtu={self.mtu}")
        return ",".join(out) or "none"


def _check_prob(name: str, v: object) -> None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0:
        raise ValueError(f"{name}: want a probability 0..1 (or 0..100 %), not {v!r}")


def _num(v: float) -> str:
    return f"{v:.6f}".rstrip("0").rstrip(".")


def _pct(v: float) -> str:
    return f"{_num(v * 100)}%"


# ---- spec syntax -------------------------------------------------------------------------------
_TIME_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}
_RATE_UNITS = {"bit": 1.0, "kbit": 1e3, "mbit": 1e6, "gbit": 1e9}
_NUM = r"(\d+(?:\.\d*)?|\.\d+)"
_FIELDS = ("loss", "burst", "delay", "jitter", "reorder", "dup", "duplicate", "corrupt",
           "rate", "queue", "mtu", "dir", "seed")


@dataclass
class Spec:
    """A parsed spec: the impairment of each direction it names, and the seed (if any)."""

    to: Impairment | None = None
    from_: Impairment | None = None
    seed: int | None = None
    directions: list[str] = field(default_factory=list)

    def for_direction(self, d: int) -> Impairment | None:
        return self.to if d == TO_DEVICE else self.from_


def _prob(name: str, text: str) -> float:
    m = re.fullmatch(_NUM + r"(%?)", text.strip())
    if not m:
        raise ValueError(f"{name}={text!r}: want a percentage like 5% or a fraction like 0.05")
    v = float(m.group(1)) / (100.0 if m.group(2) else 1.0)
    if v > 1.0:
        raise ValueError(f"{name}={text!r}: more than 100 % (a bare number is a fraction: "
                         "0.05, or write 5%)")
    return v


def _time_ms(name: str, text: str) -> float:
    m = re.fullmatch(_NUM + r"\s*(us|ms|s)", text.strip())
    if not m:
        raise ValueError(f"{name}={text!r}: want a time like 50ms, 0.5s or 200us")
    return float(m.group(1)) * _TIME_UNITS[m.group(2)]


def _int(name: str, text: str) -> int:
    if not re.fullmatch(r"\d+", text.strip()):
        raise ValueError(f"{name}={text!r}: want a whole number")
    return int(text)


def parse_spec(text: str) -> Spec:
    """Parse ``"loss=5%,delay=50ms±10ms,seed=1"``.

    Fields (comma separated): ``loss=P``, ``burst=P/R[/BADLOSS]`` (Gilbert-Elliott),
    ``delay=T[±J]`` (also ``+-J``, or ``jitter=J``), ``reorder=P``, ``dup=P``,
    ``corrupt=P``, ``rate=N[bit|kbit|mbit|gbit]``, ``queue=N`` (frames), ``mtu=N``,
    ``dir=to|from|both`` and ``seed=N``. P is ``5%`` or ``0.05``; T is ``50ms``, ``1s``
    or ``200us``. Groups separated by ``;`` give each direction its own impairment
    (``"dir=to,loss=5%;dir=from,delay=20ms"``). An empty spec or ``none`` clears.
    Raises ValueError naming the bad field.
    """
    if not isinstance(text, str):
        raise TypeError(f"impairment spec: want a string, not {type(text).__name__}")
    spec = Spec()
    seen_dirs: set[int] = set()
    for group in text.split(";"):
        group = group.strip()
        if not group and text.strip():
            raise ValueError(f"impairment spec {text!r}: empty group between ';'")
        kw: dict[str, Any] = {}
        direction = "both"
        named = False  # the group has more than a seed
        jitter: float | None = None
        for item in (x.strip() for x in group.split(",")):
            if not item:
                continue
            if item.lower() == "none":
                named = True
                continue
            key, eq, val = item.partition("=")
            key = key.strip().lower()
            if not eq:
                raise ValueError(f"impairment spec: {item!r} is not NAME=VALUE "
                                 f"(fields: {', '.join(_FIELDS)})")
            if key not in _FIELDS:
                raise ValueError(f"impairment spec: unknown field {key!r} "
                                 f"(fields: {', '.join(_FIELDS)})")
            val = val.strip()
            named = named or key != "seed"
            if key == "loss":
                kw["loss"] = _prob(key, val)
            elif key == "burst":
                parts = val.split("/")
                if len(parts) not in (2, 3):
                    raise ValueError(f"burst={val!r}: want P/R or P/R/BADLOSS "
                                     "(Gilbert-Elliott: into bad, back to good, loss when bad)")
                probs = [_prob(key, p) for p in parts] + ([1.0] if len(parts) == 2 else [])
                kw["burst"] = (probs[0], probs[1], probs[2])
            elif key == "delay":
                m = re.fullmatch(r"(.*?)(?:(?:±|\+-|\+/-)(.*))?", val)
                assert m is not None  # the pattern matches any text
                kw["delay_ms"] = _time_ms(key, m.group(1))
                if m.group(2) is not None:
                    jitter = _time_ms("delay jitter", m.group(2))
            elif key == "jitter":
                jitter = _time_ms(key, val)
            elif key in ("dup", "duplicate"):
                kw["duplicate"] = _prob(key, val)
            elif key in ("reorder", "corrupt"):
                kw[key] = _prob(key, val)
            elif key == "rate":
                m = re.fullmatch(_NUM + r"\s*([a-z]*)", val.lower())
                if not m or m.group(2) not in ("", *_RATE_UNITS):
                    raise ValueError(f"rate={val!r}: want bits per second like 1mbit, "
                                     "256kbit or 9600bit")
                kw["rate_bps"] = float(m.group(1)) * _RATE_UNITS.get(m.group(2) or "bit", 1.0)
            elif key == "queue":
                kw["queue"] = _int(key, val)
            elif key == "mtu":
                kw["mtu"] = _int(key, val)
            elif key == "dir":
                if val not in ("to", "from", "both"):
                    raise ValueError(f"dir={val!r}: want to, from or both")
                direction = val
            elif key == "seed":
                seed = _int(key, val)
                if spec.seed is not None and spec.seed != seed:
                    raise ValueError(f"seed={val!r}: the spec already has seed={spec.seed}")
                spec.seed = seed
        if jitter is not None:
            kw["jitter_ms"] = jitter
        try:
            imp = Impairment(**kw)
        except ValueError as exc:
            raise ValueError(f"impairment spec: {exc}") from None
        if not named and group:
            continue  # seed=N alone
        for d in _dirs(direction):
            if d in seen_dirs:
                raise ValueError(f"dir={direction}: direction {DIRECTIONS[d]!r} given twice")
            seen_dirs.add(d)
            if d == TO_DEVICE:
                spec.to = imp
            else:
                spec.from_ = imp
        spec.directions.append(direction)
    return spec


def _dirs(direction: str) -> tuple[int, ...]:
    if direction == "both":
        return (TO_DEVICE, FROM_DEVICE)
    if direction == "to":
        return (TO_DEVICE,)
    if direction == "from":
        return (FROM_DEVICE,)
    raise ValueError(f"direction: want 'to', 'from' or 'both', not {direction!r}")


# ---- the sans-IO core --------------------------------------------------------------------------
STAT_KEYS = ("frames", "delivered", "dropped", "delayed", "duplicated", "reordered",
             "corrupted", "dropped_loss", "dropped_mtu", "dropped_queue", "dropped_link",
             "dropped_match")


@dataclass
class _Dir:
    imp: Impairment | None = None
    rng: random.Random = field(default_factory=random.Random)
    count: int = 0              # frames seen (the frame number of the log)
    bad: bool = False           # Gilbert-Elliott state
    last_due: float = 0.0       # delivery keeps arrival order within a direction
    line_free: float = 0.0      # when the rate limiter has sent what it holds
    departures: deque[float] = field(default_factory=deque)
    held: list[tuple[bytes, int, float]] = field(default_factory=list)  # reordered
    pending: int = 0            # frames of this direction in the schedule
    drops: list[list[Any]] = field(default_factory=list)  # [match, frames left to drop]
    stats: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STAT_KEYS, 0))


class Impairer:
    """Sans-IO impairment of a two-way frame stream (see the module docstring).

    ``on_event(now, direction, frame_no, action, detail)`` is called for every frame
    something happened to (``drop``, ``delay``, ``duplicate``, ``reorder``, ``corrupt``).
    """

    def __init__(self, seed: int | None = None, on_event: EventFn | None = None) -> None:
        self.on_event = on_event
        self.dirs = (_Dir(), _Dir())
        self.down = False
        self._heap: list[tuple[float, int, int, int, bytes]] = []  # due, order, dir, no, frame
        self._order = 0
        self.seed = 0
        self.reseed(seed)

    def reseed(self, seed: int | None) -> int:
        """Restart both directions' decisions from ``seed`` (a random one when None)."""
        self.seed = int.from_bytes(os.urandom(4), "big") if seed is None else int(seed)
        for i, st in enumerate(self.dirs):
            st.rng = random.Random(f"cymongoose-impair/{self.seed}/{DIRECTIONS[i]}")
        return self.seed

    def set(self, imp: Impairment | None, direction: str = "both") -> None:
        """Impair ``direction`` ("to", "from", "both") from now on (None: pass through)."""
        for d in _dirs(direction):
            self.dirs[d].imp = imp if imp is not None and imp.active else None

    def apply(self, spec: Spec) -> None:
        """Apply a parsed spec: the directions it names change, the others stay."""
        if spec.seed is not None:
            self.reseed(spec.seed)
        for d in (TO_DEVICE, FROM_DEVICE):
            imp = spec.for_direction(d)
            if imp is not None:
                self.set(imp, DIRECTIONS[d])

    def drop_next(self, direction: str, count: int = 1,
                  match: Callable[[bytes], bool] | None = None) -> None:
        """Drop the next ``count`` frames of ``direction`` for which ``match(frame)`` is
        true (every frame without ``match``): one lost segment, exactly where a test wants
        it (before any other impairment; independent of the random decisions)."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"count: want a number of frames >= 1, not {count!r}")
        for d in _dirs(direction):
            self.dirs[d].drops.append([match, count])

    def link_down(self, now: float) -> None:
        """Pull the cable: frames in flight are lost and new ones too, both ways."""
        self.down = True
        for _, _, d, n, _ in self._heap:
            self._count_drop(d, "link")
            self._event(now, d, n, "drop", "link down (in flight)")
        for d, st in enumerate(self.dirs):
            for _, n, _ in st.held:
                self._count_drop(d, "link")
                self._event(now, d, n, "drop", "link down (in flight)")
            st.held.clear()
            st.pending = 0
            st.departures.clear()
            st.line_free = st.last_due = 0.0
        self._heap.clear()

    def link_up(self) -> None:
        self.down = False

    # ---- frames in and out ----
    def push(self, d: int, frame: bytes, now: float) -> None:
        st = self.dirs[d]
        st.count += 1
        n = st.count
        st.stats["frames"] += 1
        if self.down:
            self._count_drop(d, "link")
            self._event(now, d, n, "drop", "link down")
            return
        for rule in st.drops:
            if rule[0] is None or rule[0](frame):
                rule[1] -= 1
                if rule[1] == 0:
                    st.drops.remove(rule)
                self._count_drop(d, "match")
                self._event(now, d, n, "drop", "drop_next")
                return
        imp = st.imp
        if imp is None:
            self._schedule(d, n, frame, max(now, st.last_due) if st.pending or st.held else now)
            self._release_held(d)
            return
        # A fixed number of draws per frame: frame n's fate depends only on seed and n.
        u = [st.rng.random() for _ in range(8)]
        if imp.mtu is not None and len(frame) - ETH_HEADER > imp.mtu:
            self._count_drop(d, "mtu")
            self._event(now, d, n, "drop", f"mtu {len(frame) - ETH_HEADER} > {imp.mtu}")
            return
        p_loss = imp.loss
        if imp.burst is not None:
            p, r, bad_loss = imp.burst
            st.bad = (u[1] >= r) if st.bad else (u[1] < p)
            if st.bad:
                p_loss = bad_loss
        if u[0] < p_loss:
            self._count_drop(d, "loss")
            self._event(now, d, n, "drop", "loss (burst)" if st.bad else "loss")
            return
        if u[2] < imp.corrupt and len(frame) > ETH_HEADER:
            pos = ETH_HEADER + int(u[3] * (len(frame) - ETH_HEADER))
            bit = int(u[4] * 8)
            b = bytearray(frame)
            b[pos] ^= 1 << bit
            frame = bytes(b)
            st.stats["corrupted"] += 1
            self._event(now, d, n, "corrupt", f"byte {pos} bit {bit}")
        copies = 2 if u[5] < imp.duplicate else 1
        if copies == 2:
            st.stats["duplicated"] += 1
            self._event(now, d, n, "duplicate", "")
        delay = imp.delay_ms + (2.0 * u[6] - 1.0) * imp.jitter_ms
        for copy in range(copies):
            t = now
            if imp.rate_bps:
                while st.departures and st.departures[0] <= now:
                    st.departures.popleft()
                if len(st.departures) >= imp.queue:
                    self._count_drop(d, "queue")
                    self._event(now, d, n, "drop", f"queue full ({imp.queue} frames)")
                    continue
                st.line_free = max(now, st.line_free) + len(frame) * 8.0 / imp.rate_bps
                st.departures.append(st.line_free)
                t = st.line_free
            t = max(t + delay / 1000.0, st.last_due)
            if copy == 0 and t > now:
                st.stats["delayed"] += 1
                self._event(now, d, n, "delay", f"{(t - now) * 1000:.1f}ms")
            if copy == 0 and u[7] < imp.reorder:
                st.held.append((frame, n, t + REORDER_HOLD))
                self._event(now, d, n, "reorder", "held for a later frame")
                continue
            self._schedule(d, n, frame, t)
            if copy == 0:
                self._release_held(d)

    def pop_due(self, now: float) -> list[tuple[int, bytes]]:
        """Frames to deliver by ``now``, in order: ``[(direction, frame), ...]``."""
        for d, st in enumerate(self.dirs):
            if st.held and st.held[0][2] <= now:  # nothing overtook it in time
                keep = []
                for frame, n, deadline in st.held:
                    if deadline <= now:
                        self._schedule(d, n, frame, max(deadline, st.last_due))
                    else:
                        keep.append((frame, n, deadline))
                st.held = keep
        out = []
        while self._heap and self._heap[0][0] <= now:
            _, _, d, _, frame = heapq.heappop(self._heap)
            st = self.dirs[d]
            st.pending -= 1
            st.stats["delivered"] += 1
            out.append((d, frame))
        return out

    def next_due(self) -> float | None:
        """When ``pop_due`` next has something (None: nothing is waiting)."""
        times = [self._heap[0][0]] if self._heap else []
        times += [st.held[0][2] for st in self.dirs if st.held]
        return min(times) if times else None

    @property
    def stats(self) -> dict[str, int]:
        """Both directions added up (``stats_of`` for one)."""
        return {k: self.dirs[0].stats[k] + self.dirs[1].stats[k] for k in STAT_KEYS}

    def stats_of(self, direction: str) -> dict[str, int]:
        return dict(self.dirs[_dirs(direction)[0]].stats)

    # ---- internals ----
    def _schedule(self, d: int, n: int, frame: bytes, t: float) -> None:
        st = self.dirs[d]
        st.last_due = max(st.last_due, t)
        st.pending += 1
        self._order += 1
        heapq.heappush(self._heap, (t, self._order, d, n, frame))

    def _release_held(self, d: int) -> None:
        """Held frames go right after the frame just scheduled (which overtook them)."""
        st = self.dirs[d]
        for frame, n, _ in st.held:
            st.stats["reordered"] += 1
            self._schedule(d, n, frame, st.last_due)
        st.held.clear()

    def _count_drop(self, d: int, why: str) -> None:
        s = self.dirs[d].stats
        s["dropped"] += 1
        s[f"dropped_{why}"] += 1

    def _event(self, now: float, d: int, n: int, action: str, detail: str) -> None:
        if self.on_event is not None:
            self.on_event(now, d, n, action, detail)


# ---- the handle a bridge gives out -------------------------------------------------------------
class Network:
    """Change a bridge's impairment while it runs (``dut.network``); thread-safe.

    ``clock`` is the bridge's (``time.monotonic``); ``log_path``: one line per frame
    something happened to, ``<wall time> <to|from> <frame no> <action> [detail]``,
    created when the first impairment is set. ``wake`` tells the relay thread to look
    at its schedule again.
    """

    def __init__(self, clock: Callable[[], float], log_path: str | None = None,
                 wall: Callable[[], float] | None = None,
                 wake: Callable[[], None] | None = None) -> None:
        import time

        self.clock = clock
        self.lock = threading.Lock()
        self.core = Impairer(on_event=self._log)
        self.log_path = log_path
        self._log_file: Any = None
        self._wall_offset = (wall or time.time)() - clock()
        self._wake = wake or (lambda: None)
        # Tells the board's NIC about the carrier (QemuTarget.set_link), when it can know.
        self.carrier: Callable[[bool], None] | None = None
        self.touched = False  # anything was ever set (the relay then records what was offered)

    def impair(self, loss: float = 0.0, delay_ms: float = 0, jitter_ms: float = 0,
               reorder: float = 0.0, duplicate: float = 0.0, corrupt: float = 0.0,
               rate_bps: float | None = None, mtu: int | None = None,
               direction: str = "both", seed: int | None = None, *,
               burst: tuple[float, float, float] | None = None,
               queue: int = DEFAULT_QUEUE) -> None:
        """Impair ``direction`` ("to" the device, "from" it, "both") from now on, replacing
        its previous impairment. Probabilities are fractions (0.1 = 10 %)."""
        imp = Impairment(loss=loss, burst=burst, delay_ms=delay_ms, jitter_ms=jitter_ms,
                         reorder=reorder, duplicate=duplicate, corrupt=corrupt,
                         rate_bps=rate_bps, queue=queue, mtu=mtu)
        _dirs(direction)  # a bad direction fails before anything changes
        with self.lock:
            if seed is not None:
                self.core.reseed(seed)
            self.touched = True
            self.core.set(imp, direction)
            self._note(f"set dir={direction} {imp.describe()} seed={self.core.seed}")
        self._wake()

    def apply(self, spec: str | Spec) -> None:
        """Apply a spec string (``parse_spec`` syntax)."""
        parsed = parse_spec(spec) if isinstance(spec, str) else spec
        with self.lock:
            self.touched = True
            self.core.apply(parsed)
            for d in (TO_DEVICE, FROM_DEVICE):
                imp = parsed.for_direction(d)
                if imp is not None:
                    self._note(f"set dir={DIRECTIONS[d]} {imp.describe()} seed={self.core.seed}")
        self._wake()

    def drop_next(self, direction: str = "both", count: int = 1,
                  match: Callable[[bytes], bool] | None = None) -> None:
        """Drop the next ``count`` frames of ``direction`` that ``match(frame)`` accepts."""
        with self.lock:
            self.touched = True
            self.core.drop_next(direction, count, match)
            self._note(f"drop next {count} dir={direction}" + (" matching" if match else ""))

    def clear(self) -> None:
        """No impairment either way, no pending ``drop_next`` (the link state stays)."""
        with self.lock:
            self.core.set(None, "both")
            for st in self.core.dirs:
                st.drops.clear()
            if self._log_file is not None:
                self._note("clear")
        self._wake()

    def link_down(self) -> None:
        """Frames stop both ways (and those in flight are lost) until ``link_up``; with
        ``carrier`` set (the dut does, for QEMU) the board's NIC also loses its carrier."""
        with self.lock:
            self.touched = True
            self.core.link_down(self.clock())
            self._note("link down" + (" (carrier off)" if self.carrier else ""))
        self._wake()
        if self.carrier is not None:
            self.carrier(False)

    def link_up(self) -> None:
        if self.carrier is not None:
            self.carrier(True)
        with self.lock:
            self.core.link_up()
            self._note("link up")
        self._wake()

    @property
    def is_down(self) -> bool:
        return self.core.down

    @property
    def seed(self) -> int:
        return self.core.seed

    @property
    def stats(self) -> dict[str, int]:
        """Both directions: frames, delivered, dropped (and why), delayed, duplicated,
        reordered, corrupted."""
        with self.lock:
            return self.core.stats

    def stats_of(self, direction: str) -> dict[str, int]:
        with self.lock:
            return self.core.stats_of(direction)

    @property
    def current(self) -> dict[str, Impairment | None]:
        return {name: self.core.dirs[d].imp for d, name in enumerate(DIRECTIONS)}

    def close(self) -> None:
        with self.lock:
            if self._log_file is not None:
                self._log_file.close()
                self._log_file = None
            self.log_path = None

    # ---- the log ----
    def _open_log(self) -> Any:
        if self._log_file is None and self.log_path:
            self._log_file = open(self.log_path, "a", encoding="utf-8")  # noqa: SIM115
            self._log_file.write("# cymongoose bridge impairment log: <wall time> <to|from> "
                                 "<frame no of that direction> <action> [detail]\n")
        return self._log_file

    def _note(self, text: str) -> None:
        f = self._open_log()
        if f is not None:
            f.write(f"# {self.clock() + self._wall_offset:.6f} {text}\n")
            f.flush()

    def _log(self, now: float, d: int, n: int, action: str, detail: str) -> None:
        f = self._open_log()
        if f is not None:
            f.write(f"{now + self._wall_offset:.6f} {DIRECTIONS[d]} {n} {action}"
                    f"{' ' + detail if detail else ''}\n")


__all__ = ["DIRECTIONS", "FROM_DEVICE", "TO_DEVICE", "Impairer", "Impairment", "Network",
           "Spec", "parse_spec"]
