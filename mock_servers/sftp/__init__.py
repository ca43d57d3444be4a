"""SFTP lab server: paramiko's server side over a seeded, confined virtual root.

Public names: :class:`SFTPLabServer` (start/stop, ``info``, ``faults``),
:class:`SFTPInfo` (connection details for ``lab.sftp``), :class:`SFTPFaults`
(bandwidth cap, disconnects, denied paths, auth delay, other host key) and
:class:`FaultState`.
"""

from __future__ import annotations

from .faults import FaultState, SFTPFaults
from .seed import BIG_FILE, BIG_SIZE, GROWING_FILE, RESTRICTED_DIR
from .server import SFTPInfo, SFTPLabServer

__all__ = [
    "BIG_FILE",
    "BIG_SIZE",
    "GROWING_FILE",
    "RESTRICTED_DIR",
    "FaultState",
    "SFTPFaults",
    "SFTPInfo",
    "SFTPLabServer",
]
