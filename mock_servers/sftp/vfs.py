"""The virtual root: every client path confined to one folder, with the lab's policy.

A client path is first normalised *lexically* (``.``/``..``/repeated ``/``)
against ``/``, the root it sees. Climbing above the root, a NUL byte or a
symlink resolving outside the folder is refused with PERMISSION_DENIED: the
lab teaches that a traversal attempt is refused, not silently clamped. Then
the server's own policy applies (it does not rely on file modes: tests and CI
run as root, where modes stop nothing):

* ``/privado`` can be stat'ed but not listed, read, written or renamed;
* paths denied by a fault (:meth:`SFTPFaults.deny`) refuse everything;
* the file still being written refuses changes until it is complete.

Errors are :class:`StatusError` carrying the SFTP code and a Spanish message.
"""

from __future__ import annotations

import errno
import os
import posixpath
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal, Protocol

from .faults import SFTPFaults
from .protocol import Status
from .seed import GROWING_FILE, RESTRICTED_DIR, GrowingFile

__all__ = ["Action", "DynamicFile", "StatusError", "VirtualRoot", "status_for_oserror"]

Action = Literal["stat", "list", "read", "write", "modify"]


class StatusError(Exception):
    """An SFTP status to send back instead of a result."""

    def __init__(self, code: Status, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class DynamicFile(Protocol):
    """A seeded file whose bytes on disk are brought up to date on access."""

    def touches(self, vpath: str) -> bool: ...

    def sync(self, now: float) -> None: ...


_ERRNO_STATUS: dict[int, tuple[Status, str]] = {
    errno.ENOENT: (Status.NO_SUCH_FILE, "no existe; revisa la ruta con ls"),
    errno.ENOTDIR: (Status.NO_SUCH_FILE, "una parte de la ruta no es una carpeta"),
    errno.EACCES: (Status.PERMISSION_DENIED, "permiso denegado"),
    errno.EPERM: (Status.PERMISSION_DENIED, "operación no permitida"),
    errno.EROFS: (Status.PERMISSION_DENIED, "sistema de ficheros de solo lectura"),
    errno.ELOOP: (Status.PERMISSION_DENIED, "demasiados enlaces simbólicos"),
    errno.EEXIST: (Status.FAILURE, "ya existe"),
    errno.ENOTEMPTY: (Status.FAILURE, "la carpeta no está vacía"),
    errno.EISDIR: (Status.FAILURE, "es una carpeta"),
    errno.ENAMETOOLONG: (Status.BAD_MESSAGE, "nombre demasiado largo"),
    errno.EINVAL: (Status.BAD_MESSAGE, "argumento no válido"),
    errno.EFBIG: (Status.FAILURE, "el fichero superaría el tamaño máximo"),
    errno.ENOSPC: (Status.FAILURE, "no queda espacio en el servidor"),
    errno.EBADF: (Status.FAILURE, "el fichero no se abrió para esta operación (lectura/escritura)"),
}


def status_for_oserror(exc: OSError) -> StatusError:
    """Map an :class:`OSError` to the SFTP status OpenSSH's server would send."""
    code, message = _ERRNO_STATUS.get(exc.errno or 0, (Status.FAILURE, "error del servidor"))
    return StatusError(code, message)


class VirtualRoot:
    """Maps client paths to real paths under ``base`` and enforces the lab policy."""

    def __init__(
        self,
        base: Path,
        faults: SFTPFaults,
        *,
        monotonic: Callable[[], float],
        dynamic: Sequence[DynamicFile] = (),
        growing: GrowingFile | None = None,
    ) -> None:
        self._base = os.path.realpath(base)
        self._faults = faults
        self._monotonic = monotonic
        self._dynamic = tuple(dynamic)
        self._growing = growing

    def rebind(self, dynamic: Sequence[DynamicFile], growing: GrowingFile | None) -> None:
        """Serve new dynamic files (after the tree was seeded again)."""
        self._dynamic = tuple(dynamic)
        self._growing = growing

    @property
    def base(self) -> str:
        return self._base

    def canonical(self, path: str) -> str:
        """Lexically normalised absolute client path; refuses climbing above ``/``."""
        if "\x00" in path:
            raise StatusError(Status.BAD_MESSAGE, "la ruta contiene un byte NUL")
        parts: list[str] = []
        for part in path.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                if not parts:
                    raise StatusError(
                        Status.PERMISSION_DENIED, "ruta fuera de la raíz del laboratorio"
                    )
                parts.pop()
            else:
                parts.append(part)
        return "/" + "/".join(parts)

    def real(self, vpath: str) -> str:
        """The real path of a canonical ``vpath``; symlinks must stay inside the root."""
        real = os.path.join(self._base, vpath.lstrip("/"))
        resolved = os.path.realpath(real)
        if resolved != self._base and not resolved.startswith(self._base + os.sep):
            raise StatusError(
                Status.PERMISSION_DENIED, "el enlace simbólico apunta fuera de la raíz"
            )
        return real

    def virtual(self, real: str) -> str:
        """Client path of a real path known to be inside the root."""
        rel = os.path.relpath(os.path.realpath(real), self._base)
        return "/" if rel == "." else "/" + rel.replace(os.sep, "/")

    def resolve(self, path: str, action: Action) -> tuple[str, str]:
        """Canonical client path and real path, after the policy allowed ``action``."""
        vpath = self.canonical(path)
        self.check(vpath, action)
        self.sync(vpath)
        return vpath, self.real(vpath)

    def sync(self, vpath: str) -> None:
        """Bring dynamic files visible from ``vpath`` up to date (before a read)."""
        now = self._monotonic()
        for item in self._dynamic:
            if item.touches(vpath):
                item.sync(now)

    def check(self, vpath: str, action: Action) -> None:
        """Raise PERMISSION_DENIED when the lab policy forbids ``action`` on ``vpath``."""
        for denied in self._faults.state.denied_paths:
            if _within(vpath, denied):
                raise StatusError(Status.PERMISSION_DENIED, "permiso denegado (fallo inyectado)")
        inside_restricted = vpath.startswith(RESTRICTED_DIR + "/")
        if inside_restricted or (vpath == RESTRICTED_DIR and action != "stat"):
            raise StatusError(
                Status.PERMISSION_DENIED,
                "permiso denegado: tu usuario no puede leer esta carpeta",
            )
        if (
            action in ("write", "modify")
            and vpath == GROWING_FILE
            and self._growing is not None
            and not self._growing.complete(self._monotonic())
        ):
            raise StatusError(
                Status.PERMISSION_DENIED,
                "otro proceso todavía está escribiendo este fichero; espera a que termine",
            )

    def display_mode(self, vpath: str, mode: int) -> int:
        """The permissions shown to clients: the restricted folder shows none."""
        if vpath == RESTRICTED_DIR:
            return (mode & ~0o7777) | 0o000
        return mode


def _within(vpath: str, prefix: str) -> bool:
    return vpath == prefix or vpath.startswith(prefix.rstrip("/") + "/") or prefix == "/"


def join(directory: str, name: str) -> str:
    """Client path of ``name`` inside client folder ``directory``."""
    return posixpath.join(directory, name)
