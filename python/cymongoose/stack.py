"""The built-in TCP/IP stack for Managers (beyond docs/api-contract.md; see docs/stack.md).

    from cymongoose import Manager
    from cymongoose.stack import StackInterface

    iface = StackInterface.tap("tap0", ip="10.9.0.2")   # or StackInterface.link_pair(...)
    mgr = Manager()
    iface.attach(mgr)   # mgr now listens and connects through the built-in stack
"""

from __future__ import annotations

from ._mongoose import StackInterface

__all__ = ["StackInterface"]
