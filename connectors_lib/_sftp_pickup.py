"""Which remote files to pick up, and when: listing, stability, the incremental watermark.

Private module (the public names are re-exported by :mod:`connectors_lib.sftp`).
Everything here is pure or takes its effects as arguments (the ``stat``
function and the clock), so it runs without a server; paramiko is needed
only for type checking.

* :class:`RemoteFile` is one listed regular file, with its mtime in UTC.
* :class:`StabilityCheck` / :func:`poll_until_stable`: a file another process
  is still writing must not be read; it counts as finished when size and
  mtime stay equal for a few polls.
* :class:`Watermark`: incremental pick-up by ``(mtime, path)``, so files
  sharing an mtime are neither skipped nor repeated.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import posixpath
import stat as stat_mod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from connectors_lib._sftp_errors import SFTPFileChangedError
from connectors_lib.clock import Clock

if TYPE_CHECKING:  # paramiko is loaded by sftp.py; this module only reads its attributes
    import paramiko

__all__ = [
    "DEFAULT_STABILITY",
    "RemoteFile",
    "StabilityCheck",
    "Watermark",
    "matching",
    "poll_until_stable",
]


@dataclass(frozen=True, slots=True)
class RemoteFile:
    """One remote regular file as listed: path, size in bytes, mtime in UTC."""

    path: str
    size: int
    mtime: dt.datetime

    @property
    def name(self) -> str:
        """The last component of :attr:`path`."""
        return posixpath.basename(self.path)

    @property
    def mtime_epoch(self) -> float:
        """:attr:`mtime` as Unix seconds (what checkpoints store)."""
        return self.mtime.timestamp()

    @classmethod
    def from_attributes(cls, path: str, attrs: paramiko.SFTPAttributes) -> RemoteFile:
        """Build from paramiko's attributes (SFTP v3 mtimes are whole UTC seconds)."""
        mtime = dt.datetime.fromtimestamp(attrs.st_mtime or 0, dt.UTC)
        return cls(path, attrs.st_size or 0, mtime)


def matching(
    folder: str, entries: Iterable[paramiko.SFTPAttributes], glob: str
) -> list[RemoteFile]:
    """The regular files among ``entries`` of ``folder`` whose name matches ``glob``.

    Sorted by ``(mtime, path)``, the order pick-up handles them in. An empty
    glob means ``*``. Hidden names (leading ``.``, like the connector's upload
    temporaries) are left out unless ``glob`` itself starts with a dot, as a
    shell does.
    """
    found = [
        RemoteFile.from_attributes(posixpath.join(folder, entry.filename), entry)
        for entry in entries
        if stat_mod.S_ISREG(entry.st_mode or 0)
        and fnmatch.fnmatchcase(entry.filename, glob or "*")
        and (glob.startswith(".") or not entry.filename.startswith("."))
    ]
    return sorted(found, key=lambda f: (f.mtime, f.path))


@dataclass(frozen=True, slots=True, kw_only=True)
class StabilityCheck:
    """When a remote file counts as finished: size and mtime equal for ``polls`` polls.

    Polls are ``interval`` seconds apart on the connector's clock; after
    ``timeout`` seconds without settling, :class:`SFTPFileChangedError`.
    """

    interval: float = 1.0
    polls: int = 2
    timeout: float = 60.0

    def __post_init__(self) -> None:
        if self.interval <= 0 or self.polls < 1 or self.timeout <= 0:
            raise ValueError("StabilityCheck: interval y timeout > 0, polls >= 1")


DEFAULT_STABILITY = StabilityCheck()


def poll_until_stable(
    stat: Callable[[str], RemoteFile], path: str, check: StabilityCheck, clock: Clock
) -> RemoteFile:
    """Poll ``stat(path)`` on ``clock`` until size and mtime hold for ``check.polls`` polls.

    Returns the last listing. Raises :class:`SFTPFileChangedError` rather than
    start a poll that would end past ``check.timeout``; errors from ``stat``
    propagate unchanged.
    """
    started = clock.monotonic()
    last = stat(path)
    same = 0
    while same < check.polls:
        if clock.monotonic() - started + check.interval > check.timeout:
            raise SFTPFileChangedError(
                f"El fichero sigue cambiando tras {check.timeout:.0f} s (tamaño "
                f"{last.size} B): otro proceso lo está escribiendo. Espera a que termine "
                "o amplía StabilityCheck.timeout; leerlo ahora daría un fichero a medias.",
                path=path,
            )
        clock.sleep(check.interval)
        now = stat(path)
        same = same + 1 if (now.size, now.mtime) == (last.size, last.mtime) else 0
        last = now
    return last


@dataclass(frozen=True, slots=True)
class Watermark:
    """How far an incremental pick-up got: newest mtime handled + paths at that mtime.

    A file is new when its mtime is later than :attr:`mtime`, or equal and its
    path is not in :attr:`paths`; so files sharing an mtime are neither skipped
    nor repeated. A file that appears later with an *older* mtime (copied with
    ``-p``) is not seen: that is the price of a watermark instead of a full list.
    """

    mtime: float | None = None
    paths: frozenset[str] = field(default_factory=frozenset)

    def is_new(self, remote: RemoteFile) -> bool:
        """True when ``remote`` has not been handled yet (always, for an empty watermark)."""
        if self.mtime is None:
            return True
        when = remote.mtime_epoch
        return when > self.mtime or (when == self.mtime and remote.path not in self.paths)

    def advance(self, handled: Iterable[RemoteFile]) -> Watermark:
        """The watermark after ``handled`` (pure; older files do not move it back)."""
        mtime, paths = self.mtime, set(self.paths)
        for remote in handled:
            when = remote.mtime_epoch
            if mtime is None or when > mtime:
                mtime, paths = when, {remote.path}
            elif when == mtime:
                paths.add(remote.path)
        return Watermark(mtime, frozenset(paths))

    def to_state(self) -> dict[str, Any]:
        """JSON-ready form for a :class:`~connectors_lib.state.CheckpointStore` (paths sorted)."""
        return {"mtime": self.mtime, "paths": sorted(self.paths)}

    @classmethod
    def from_state(cls, state: Mapping[str, Any] | None) -> Watermark:
        """Inverse of :meth:`to_state`; ``None`` or ``{}`` (nothing saved yet) is empty."""
        if not state:
            return cls()
        mtime = state.get("mtime")
        return cls(None if mtime is None else float(mtime), frozenset(state.get("paths", ())))
