# The built-in TCP/IP stack from Python (src/include/mg_stack.h, docs/stack.md).
#
#   iface = StackInterface.tap("tap0", ip="10.9.0.2", mask="255.255.255.0")
#   mgr = Manager()
#   iface.attach(mgr)            # the manager now runs on the built-in stack
#   mgr.listen("http://0.0.0.0:80", handler)
#
# A StackInterface owns a C box holding one struct mg_tcpip_if and its driver
# state. Once attached, the box is shared with the manager and reference
# counted: whichever lets go last (the Python object, or mg_mgr_free through
# ifp.on_release) frees it, so no teardown order can leave a dangling pointer.
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy, strncpy

cdef extern from "mg_stack.h":
    struct mg_driver:
        const char *name

    struct mg_tcpip_stats:
        uint32_t rx_frames, tx_frames, tx_fail
        uint32_t drop_eth, drop_arp, drop_ip, drop_frag, drop_icmp, drop_udp, drop_tcp
        uint32_t arp_requests, arp_replies, arp_failed, icmp_echo
        uint32_t tcp_rst_sent, tcp_retransmits, tcp_fast_retransmits
        uint32_t tcp_accepted, tcp_syn_dropped, dhcp_leases, dhcps_acks
        uint32_t dhcps_naks, dhcps_ignored

    struct mg_tcpip_if:
        uint8_t mac[6]
        uint32_t ip, mask, gw, dns
        bint enable_dhcp
        bint enable_dhcp_server
        uint32_t dhcp_pool
        uint32_t dhcps_lease_s
        bint dhcps_paused
        uint32_t dhcps_nak
        const mg_driver *driver
        void *driver_data
        uint32_t seed
        void (*wait)(void *driver_data, int ms) noexcept nogil
        void (*on_release)(mg_tcpip_if *ifp) noexcept nogil
        int state
        mg_tcpip_stats stats

    struct mg_link:
        uint16_t loss, dup, reorder
        uint32_t delay_ms, reorder_ms
        uint64_t (*clock)() noexcept nogil

    struct mg_link_end:
        mg_link *link
        int side

    struct mg_slip_decoder:
        uint32_t good, bad

    struct mg_slip:
        size_t (*read)(void *arg, void *buf, size_t len) noexcept nogil
        size_t (*write)(void *arg, const void *buf, size_t len) noexcept nogil
        void *arg
        mg_slip_decoder dec

    const mg_driver mg_driver_link
    const mg_driver mg_driver_slip
    int MG_TCPIP_STATE_DOWN, MG_TCPIP_STATE_UP, MG_TCPIP_STATE_READY

    bint mg_tcpip_init(mg_tcpip_if *ifp) nogil
    void mg_tcpip_free(mg_tcpip_if *ifp) nogil
    bint mg_tcpip_use(mg_mgr *mgr, mg_tcpip_if *ifp) nogil
    void mg_link_init(mg_link *l, uint64_t seed) nogil
    uint32_t mg_tcpip_ip(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
    char *mg_tcpip_ntoa(uint32_t ip, char *buf, size_t len)

# The fd-based drivers and close/dup, or their Windows stand-ins (_mg_host.h).
cdef extern from "_mg_host.h":
    int MGPY_FD_DRIVERS
    ctypedef struct mgpy_tap:
        char name[16]
        int fd
        bint no_offload
        bint vnet
    ctypedef struct mgpy_stream:
        int fd
        uint32_t bad
    const mg_driver mgpy_driver_tap
    const mg_driver mgpy_driver_stream
    bint mgpy_fd_nonblock(int fd) nogil
    size_t mgpy_fd_read(void *fd_ptr, void *buf, size_t len) noexcept nogil
    size_t mgpy_fd_write(void *fd_ptr, const void *buf, size_t len) noexcept nogil
    void mgpy_slip_fd_wait(void *slip, int ms) noexcept nogil
    void mgpy_stream_wait(void *stream, int ms) noexcept nogil
    void mgpy_tap_wait(void *tap, int ms) noexcept nogil
    int mgpy_close(int fd) nogil
    int mgpy_dup(int fd) nogil


cdef _need_fd_drivers(str what):
    if not MGPY_FD_DRIVERS:
        raise OSError(f"{what} is not available on Windows (the core's Windows build has no "
                      "file-descriptor drivers); use StackInterface.link_pair() or sockets")


cdef extern from "mg_base.h":
    uint64_t mg_millis() noexcept nogil


cdef uint32_t _ip4(object text, str what) except? 0:
    if text is None or text == "":
        return 0
    parts = str(text).split(".")
    if len(parts) != 4 or not all(p.isdigit() and int(p) < 256 for p in parts):
        raise ValueError(f"{what}: not an IPv4 address: {text!r}")
    return mg_tcpip_ip(int(parts[0]), int(parts[1]), int(parts[2]), int(parts[3]))


cdef str _ip4_str(uint32_t ip):
    cdef char buf[20]
    mg_tcpip_ntoa(ip, buf, sizeof(buf))
    return buf.decode("ascii")


cdef struct _wire_box:
    mg_link link
    mg_link_end ends[2]
    int refs


cdef struct _stack_box:
    mg_tcpip_if ifp        # first: a mg_tcpip_if * is a _stack_box *
    mgpy_tap tap
    mgpy_stream stream
    mg_slip slip
    int slip_fd
    _wire_box *wire
    int refs


cdef void _box_release(mg_tcpip_if *ifp) noexcept nogil:
    cdef _stack_box *box = <_stack_box *>ifp
    box.refs -= 1
    if box.refs > 0:
        return
    mg_tcpip_free(&box.ifp)
    if box.ifp.driver == &mgpy_driver_tap and box.tap.fd >= 0:
        mgpy_close(box.tap.fd)
    if box.ifp.driver == &mgpy_driver_stream and box.stream.fd >= 0:
        mgpy_close(box.stream.fd)
    if box.ifp.driver == &mg_driver_slip and box.slip_fd >= 0:
        mgpy_close(box.slip_fd)
    if box.wire != NULL:
        box.wire.refs -= 1
        if box.wire.refs == 0:
            free(box.wire)
    free(box)


_STATES = {0: "down", 1: "up", 2: "ready"}


cdef class StackInterface:
    """One interface of the built-in TCP/IP stack (Ethernet, ARP, IPv4, ICMP,
    UDP, TCP, DHCP). Create it with StackInterface.tap() or
    StackInterface.link_pair(), then attach() a fresh Manager to it."""
    cdef _stack_box *_box
    cdef mg_tcpip_if *_ifp
    cdef bint _attached

    def __cinit__(self):
        self._box = <_stack_box *>calloc(1, sizeof(_stack_box))
        if self._box == NULL:
            raise MemoryError("cannot allocate a stack interface")
        self._box.refs = 1
        self._box.tap.fd = -1
        self._box.stream.fd = -1
        self._box.slip_fd = -1
        self._ifp = &self._box.ifp
        self._ifp.on_release = _box_release

    def __dealloc__(self):
        if self._box != NULL:
            _box_release(self._ifp)
            self._box = NULL
            self._ifp = NULL

    def __init__(self):
        raise TypeError("use StackInterface.tap() or StackInterface.link_pair()")

    cdef void _configure(self, ip, mask, gateway, dns, mac, bint dhcp, uint32_t seed,
                         dhcp_server=None) except *:
        cdef bytes m
        if dhcp_server is not None:
            self._ifp.enable_dhcp_server = True
            self._ifp.dhcp_pool = _ip4(dhcp_server, "dhcp_server")
        self._ifp.ip = _ip4(ip, "ip")
        self._ifp.mask = _ip4(mask, "mask")
        self._ifp.gw = _ip4(gateway, "gateway")
        self._ifp.dns = _ip4(dns, "dns")
        self._ifp.enable_dhcp = dhcp
        self._ifp.seed = seed
        if not dhcp and self._ifp.ip == 0:
            raise ValueError("an ip is required unless dhcp=True")
        if mac is None:
            m = b"\x02" + bytes(random_bytes(5))  # locally administered, unicast
        else:
            m = bytes.fromhex(str(mac).replace(":", "").replace("-", ""))
            if len(m) != 6 or (m[0] & 1):
                raise ValueError(f"mac: not a unicast MAC address: {mac!r}")
        memcpy(self._ifp.mac, <const char *>m, 6)

    @staticmethod
    def tap(name="", *, ip=None, mask="255.255.255.0", gateway=None, dns=None, mac=None,
            dhcp=False, dhcp_server=None, offload=True):
        """An interface on a Linux TAP device (created when missing; needs
        root or CAP_NET_ADMIN). name "" lets the kernel pick one (see .name).
        dhcp_server="a.b.c.d" also serves DHCP leases from that address on.
        offload=True (the default) exchanges TCP segments of up to 64 KiB
        with the kernel (IFF_VNET_HDR, checksum and segmentation offloads;
        see .offload); False sends and receives plain frames only. OSError on
        Windows."""
        _need_fd_drivers("a TAP interface")
        cdef StackInterface s = StackInterface.__new__(StackInterface)
        cdef bytes bname = str(name).encode()
        if len(bname) > 15:
            raise ValueError("TAP device names have at most 15 characters")
        s._configure(ip, mask, gateway, dns, mac, dhcp, 0, dhcp_server)
        strncpy(s._box.tap.name, bname, 15)
        s._box.tap.no_offload = not offload
        s._ifp.driver = &mgpy_driver_tap
        s._ifp.driver_data = &s._box.tap
        s._ifp.wait = mgpy_tap_wait
        if not mg_tcpip_init(s._ifp):
            raise OSError(f"cannot open TAP device {name!r} (/dev/net/tun, root?)")
        return s

    @staticmethod
    def stream(sock, *, ip=None, mask="255.255.255.0", gateway=None, dns=None, mac=None,
               dhcp=False, dhcp_server=None):
        """An interface whose wire is a connected stream socket carrying
        Ethernet frames after a 4-byte big-endian length: QEMU's
        "-netdev stream" / "-netdev socket". sock is a socket (or file
        descriptor); the interface uses its own duplicate of it, and the
        socket becomes non-blocking. No root needed. With
        dhcp_server="a.b.c.d" the board gets its address from us. OSError on
        Windows (the core's Windows build has no stream driver)."""
        _need_fd_drivers("a frame stream interface")
        cdef StackInterface s = StackInterface.__new__(StackInterface)
        cdef int fd = sock if isinstance(sock, int) else sock.fileno()
        s._configure(ip, mask, gateway, dns, mac, dhcp, 0, dhcp_server)
        s._box.stream.fd = mgpy_dup(fd)
        if s._box.stream.fd < 0:
            raise OSError("cannot duplicate the socket's file descriptor")
        s._ifp.driver = &mgpy_driver_stream
        s._ifp.driver_data = &s._box.stream
        s._ifp.wait = mgpy_stream_wait
        if not mg_tcpip_init(s._ifp):
            raise OSError("cannot use this socket as a frame stream")
        return s

    @staticmethod
    def serial(port, *, ip=None, mask="255.255.255.0", gateway=None, dns=None, mac=None,
               dhcp=False, dhcp_server=None):
        """An interface over a serial line (or pty, or any byte stream with a
        file descriptor) carrying Ethernet frames with a CRC-32, escaped with
        SLIP (docs/stack.md). port is a file descriptor or an object with
        fileno() such as a pyserial Serial; the interface uses its own
        duplicate, made non-blocking. The line must be raw (no echo, no
        newline translation). OSError on Windows."""
        _need_fd_drivers("a serial (SLIP on a file descriptor) interface")
        cdef StackInterface s = StackInterface.__new__(StackInterface)
        cdef int fd = port if isinstance(port, int) else port.fileno()
        s._configure(ip, mask, gateway, dns, mac, dhcp, 0, dhcp_server)
        s._box.slip_fd = mgpy_dup(fd)
        if s._box.slip_fd < 0 or not mgpy_fd_nonblock(s._box.slip_fd):
            raise OSError("cannot use this file descriptor as a serial line")
        s._box.slip.read = mgpy_fd_read
        s._box.slip.write = mgpy_fd_write
        s._box.slip.arg = &s._box.slip_fd
        s._ifp.driver = &mg_driver_slip
        s._ifp.driver_data = &s._box.slip
        s._ifp.wait = mgpy_slip_fd_wait
        if not mg_tcpip_init(s._ifp):
            raise OSError("cannot initialise the serial interface")
        return s

    @staticmethod
    def link_pair(ip_a, ip_b, *, mask="255.255.255.0", loss=0.0, duplicate=0.0,
                  reorder=0.0, delay_ms=0, reorder_ms=10, seed=1):
        """Two interfaces joined by an in-memory wire with deterministic
        impairments (probabilities 0..1 per frame, seeded). For tests and
        prototyping without any OS networking."""
        cdef StackInterface a = StackInterface.__new__(StackInterface)
        cdef StackInterface b = StackInterface.__new__(StackInterface)
        cdef StackInterface s
        cdef _wire_box *w
        cdef int i
        for p in (loss, duplicate, reorder):
            if not 0.0 <= p <= 1.0:
                raise ValueError("loss, duplicate and reorder are probabilities in 0..1")
        w = <_wire_box *>calloc(1, sizeof(_wire_box))
        if w == NULL:
            raise MemoryError()
        mg_link_init(&w.link, seed)
        w.link.loss = <uint16_t>int(loss * 1000)
        w.link.dup = <uint16_t>int(duplicate * 1000)
        w.link.reorder = <uint16_t>int(reorder * 1000)
        w.link.delay_ms = delay_ms
        w.link.reorder_ms = reorder_ms
        w.link.clock = mg_millis
        for i, (s, ip) in enumerate(((a, ip_a), (b, ip_b))):
            w.ends[i].link = &w.link
            w.ends[i].side = i
            w.refs += 1
            s._box.wire = w
            s._ifp.driver = &mg_driver_link
            s._ifp.driver_data = &w.ends[i]
            s._configure(ip, mask, None, None, None, False, <uint32_t>(seed * 2 + i + 1))
            if not mg_tcpip_init(s._ifp):
                raise OSError("cannot initialise the link interface")
        return a, b

    def attach(self, Manager manager):
        """Moves a fresh Manager (no connections yet) onto this interface."""
        manager._check_open()
        if self._attached:
            raise RuntimeError("this interface already serves a manager")
        if not mg_tcpip_use(&manager._mgr, self._ifp):
            raise RuntimeError("attach() needs a manager without connections, outside poll()")
        self._attached = True
        self._box.refs += 1  # released by the manager's mg_mgr_free

    @property
    def name(self):
        """The TAP device name ("" for other drivers)."""
        return self._box.tap.name.decode() if self._ifp.driver == &mgpy_driver_tap else ""

    @property
    def offload(self):
        """True when the TAP device runs with the kernel offloads (64 KiB
        TCP segments per read/write); False for plain frames and other drivers."""
        return bool(self._ifp.driver == &mgpy_driver_tap and self._box.tap.vnet)

    @property
    def ip(self):
        return _ip4_str(self._ifp.ip)

    @property
    def mask(self):
        return _ip4_str(self._ifp.mask)

    @property
    def gateway(self):
        return _ip4_str(self._ifp.gw)

    @property
    def dns(self):
        return _ip4_str(self._ifp.dns)

    @property
    def mac(self):
        return ":".join(f"{self._ifp.mac[i]:02x}" for i in range(6))

    @property
    def state(self):
        """'down' (no link), 'up' (no address yet) or 'ready'."""
        return _STATES.get(self._ifp.state, "down")

    @property
    def stats(self):
        """Counters of frames, drops, ARP, ICMP, TCP and DHCP events."""
        return dict(self._ifp.stats)

    # ---- the DHCP server's faults (dhcp_server=...), switchable at any time ----
    cdef void _need_dhcp_server(self) except *:
        if not self._ifp.enable_dhcp_server:
            raise RuntimeError("this interface runs no DHCP server (dhcp_server=None)")

    @property
    def dhcp_server_pool(self):
        """The first address the DHCP server hands out ("" without a server). Set it
        to move every client: their next renewal is NAKed and they get the new one."""
        return _ip4_str(self._ifp.dhcp_pool) if self._ifp.enable_dhcp_server else ""

    @dhcp_server_pool.setter
    def dhcp_server_pool(self, value):
        self._need_dhcp_server()
        cdef uint32_t ip = _ip4(value, "dhcp_server_pool")
        if ip == self._ifp.ip:
            raise ValueError(f"dhcp_server_pool: {value} is this interface's own address")
        self._ifp.dhcp_pool = ip

    @property
    def dhcp_server_lease(self):
        """Seconds of the leases handed out from now on (0: the build's default)."""
        return self._ifp.dhcps_lease_s

    @dhcp_server_lease.setter
    def dhcp_server_lease(self, value):
        self._need_dhcp_server()
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0x7fffffff:
            raise ValueError(f"dhcp_server_lease: want seconds 0..2147483647, not {value!r}")
        self._ifp.dhcps_lease_s = value

    @property
    def dhcp_server_paused(self):
        """True while the DHCP server ignores every request (stats: dhcps_ignored)."""
        return bool(self._ifp.dhcps_paused)

    @dhcp_server_paused.setter
    def dhcp_server_paused(self, value):
        self._need_dhcp_server()
        self._ifp.dhcps_paused = bool(value)

    def dhcp_server_nak(self, int count=1):
        """Answer the next ``count`` DHCP REQUESTs with a NAK (stats: dhcps_naks)."""
        self._need_dhcp_server()
        if count < 0:
            raise ValueError(f"count: want >= 0, not {count}")
        self._ifp.dhcps_nak = count

    def __repr__(self):
        return f"<StackInterface {self.ip} {self.mac} {self.state}>"
