"""Lab servers of the course: REST, OAuth2, GraphQL and SFTP on loopback, offline.

Start everything in one line (idempotent; ports chosen by the OS; silent)::

    import mock_servers
    lab = mock_servers.start(seed=42)
    lab.base_url, lab.api_key, lab.clock, lab.faults, lab.journal
    lab.stop()

For a classroom: ``python -m mock_servers serve --host 0.0.0.0 --learners 20``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .lab import Lab, running_labs, start, stop_all
    from .state import LabSettings

__all__ = ["Lab", "LabSettings", "running_labs", "start", "stop_all"]

_HOME = {"Lab": "lab", "running_labs": "lab", "start": "lab", "stop_all": "lab",
         "LabSettings": "state"}


def __getattr__(name: str) -> Any:
    # Servers (FastAPI, paramiko...) load on first use: `import mock_servers.data` stays light.
    if name in _HOME:
        from importlib import import_module

        return getattr(import_module(f".{_HOME[name]}", __name__), name)
    raise AttributeError(f"module 'mock_servers' has no attribute {name!r}")
