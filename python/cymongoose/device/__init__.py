"""cymongoose.device: boards, targets, console, flash-and-verify, CLI and pytest plugin.

Pure Python; importing it never needs the compiled ``cymongoose._mongoose``
extension (only the root-free network bridge, StackBridge, needs it). Names are imported lazily so that
``import cymongoose.device`` stays cheap, e.g. inside the pytest plugin.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "Board": "boards",
    "BoardMap": "boards",
    "MemoryRegion": "boards",
    "load_boards": "boards",
    "Console": "console",
    "FrameLink": "frames",
    "LengthPrefixedFramer": "frames",
    "StackBridge": "bridge",
    "PortForwarder": "bridge",
    "TapBridge": "bridge",
    "RpcClient": "rpc",
    "RpcError": "rpc",
    "RpcTimeoutError": "rpc",
    "OtaFlasher": "ota",
    "OtaError": "ota",
    "ota_rpc": "ota",
    "ota_http": "ota",
    "prepare_image": "ota",
    "FirmwareImage": "imagefmt",
    "ImageFormatError": "imagefmt",
    "ImageVerifyError": "imagefmt",
    "Image": "image",
    "Segment": "image",
    "load_image": "image",
    "GdbClient": "gdbremote",
    "BootState": "slots",
    "provision": "slots",
    "read_state": "slots",
    "slot_image": "slots",
    "Target": "targets",
    "QemuTarget": "targets",
    "SerialTarget": "targets",
    "HostProcessTarget": "targets",
    "TargetSpec": "factory",
    "TargetPlan": "factory",
    "SpecError": "factory",
    "build_target": "factory",
    "plan_target": "factory",
    "make_flasher": "factory",
    "FlashBackend": "flash",
    "FlashResult": "flash",
    "GdbFlasher": "flash",
    "QemuLoader": "flash",
    "OpenOcdFlasher": "flash",
    "PyOcdFlasher": "flash",
    "get_flasher": "flash",
    "DeviceError": "errors",
    "BoardError": "errors",
    "PortNotFoundError": "errors",
    "PortBusyError": "errors",
    "TargetExitedError": "errors",
    "ExpectTimeoutError": "errors",
    "FlashError": "errors",
    "VerifyError": "errors",
    "ImageError": "errors",
    "GdbError": "errors",
    "NotAvailableError": "errors",
    "DeviceCrashed": "errors",
    "DeviceHung": "errors",
    "Crash": "crash",
    "Hang": "hang",
    "decode_crash": "crash",
    "find_crash_records": "crash",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:  # pragma: no cover
    from .boards import Board, BoardMap, MemoryRegion, load_boards  # noqa: F401
    from .bridge import PortForwarder, StackBridge, TapBridge  # noqa: F401
    from .console import Console  # noqa: F401
    from .crash import Crash, decode_crash, find_crash_records  # noqa: F401
    from .errors import (  # noqa: F401
        BoardError,
        DeviceCrashed,
        DeviceError,
        DeviceHung,
        ExpectTimeoutError,
        FlashError,
        GdbError,
        ImageError,
        NotAvailableError,
        PortBusyError,
        PortNotFoundError,
        TargetExitedError,
        VerifyError,
    )
    from .factory import (  # noqa: F401
        SpecError,
        TargetPlan,
        TargetSpec,
        build_target,
        make_flasher,
        plan_target,
    )
    from .flash import (  # noqa: F401
        FlashBackend,
        FlashResult,
        GdbFlasher,
        OpenOcdFlasher,
        PyOcdFlasher,
        QemuLoader,
        get_flasher,
    )
    from .frames import FrameLink, LengthPrefixedFramer  # noqa: F401
    from .gdbremote import GdbClient  # noqa: F401
    from .hang import Hang  # noqa: F401
    from .image import Image, Segment, load_image  # noqa: F401
    from .imagefmt import FirmwareImage, ImageFormatError, ImageVerifyError  # noqa: F401
    from .ota import OtaError, OtaFlasher, ota_http, ota_rpc, prepare_image  # noqa: F401
    from .rpc import RpcClient, RpcError, RpcTimeoutError  # noqa: F401
    from .slots import BootState, provision, read_state, slot_image  # noqa: F401
    from .targets import HostProcessTarget, QemuTarget, SerialTarget, Target  # noqa: F401
