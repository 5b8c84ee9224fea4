"""A labgrid driver for people who already describe their lab in labgrid ``env.yaml``.

``CymongooseConsoleDriver`` binds to a labgrid serial resource (``NetworkSerialPort``
exported by an exporter, or a local ``RawSerialPort``/``USBSerialPort``) and gives our
:class:`~cymongoose.device.console.Console` and JSON-RPC client on it::

    imports:
      - cymongoose.device.labgrid_driver
    targets:
      main:
        resources:
          RemotePlace: {name: rack3-f7}
        drivers:
          CymongooseConsoleDriver: {}

    drv = target.get_driver("CymongooseConsoleDriver")     # activates: opens the console
    drv.rpc.request("net.status")

Importing this module imports labgrid (it registers the driver with labgrid's factory).
"""

from __future__ import annotations

from typing import Any

import attr
from labgrid.driver.common import Driver
from labgrid.factory import target_factory
from labgrid.util.proxy import proxymanager

from .defaults import DEFAULT_BAUDRATE
from .factory import TargetSpec, build_target
from .rpc import RpcClient
from .targets import Target


@target_factory.reg_driver
@attr.s(eq=False)
class CymongooseConsoleDriver(Driver):  # type: ignore[misc]
    """Our console (expect, send_line, log) and ``rpc`` on a labgrid serial port."""

    bindings = {"port": {"SerialPort", "NetworkSerialPort"}}  # noqa: RUF012 - labgrid reads it
    timeout: float = attr.ib(default=5.0, validator=attr.validators.instance_of(float))
    log_path: str | None = attr.ib(default=None)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self._serial: Target | None = None
        self._rpc: RpcClient | None = None

    def url(self) -> str:
        port: Any = self.port
        if hasattr(port, "host"):  # NetworkSerialPort (local or through a RemotePlace)
            host, tcp = proxymanager.get_host_and_port(port)
            host = f"[{host}]" if ":" in host else host
            if getattr(port, "protocol", "rfc2217") == "raw":
                return f"socket://{host}:{tcp}"
            return f"rfc2217://{host}:{tcp}?ign_set_control"
        return str(port.port)  # a local device path

    def on_activate(self) -> None:
        speed = int(getattr(self.port, "speed", None) or DEFAULT_BAUDRATE)
        spec = TargetSpec(port=self.url(), baudrate=speed, log_path=self.log_path)
        self._serial = build_target(spec).start()

    def on_deactivate(self) -> None:
        serial, self._serial, self._rpc = self._serial, None, None
        if serial is not None:
            serial.stop()

    @property
    def console(self) -> Any:
        if self._serial is None:
            raise RuntimeError("CymongooseConsoleDriver is not active")
        return self._serial.console

    @property
    def rpc(self) -> RpcClient:
        if self._rpc is None:
            self._rpc = RpcClient(self.console, timeout=self.timeout)
        return self._rpc
