"""The SFTP v3 requests, one method each, over the lab's :class:`VirtualRoot`.

:class:`Operations` owns a session's open handles. Each method takes the
request id and a :class:`Reader` positioned after it, and returns the reply
bytes; problems are raised as :class:`StatusError` (or ``OSError`` /
:class:`MalformedPacket`), which the session turns into STATUS replies. File
bytes go through a :class:`Meter`, the session's fault accounting (bandwidth
cap, disconnect after N bytes); :class:`Cut` asks the session to drop the
connection.

File I/O is one ``os.pread``/``os.pwrite`` per request on a raw descriptor:
no seek, no Python file object, no flush.
"""

from __future__ import annotations

import datetime as dt
import os
import stat as stat_mod
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from .protocol import (
    MAX_PACKET,
    MAX_READ,
    Attrs,
    Op,
    Reader,
    Status,
    attrs_bytes,
    handle_reply,
    name_reply,
    packet,
    status_reply,
    string,
    u32,
    u64,
)
from .seed import GROWING_FILE
from .vfs import StatusError, VirtualRoot, join

__all__ = ["EXTENSIONS", "Cut", "Meter", "Operations", "attrs_of", "longname"]

_HDR = struct.Struct(">IB")
_DATA_HDR = struct.Struct(">IBII")  # length, type, id, data length
_OK_TAIL = u32(Status.OK) + string(b"") + string(b"es")

#: OpenSSH extensions implemented here, advertised in VERSION.
EXTENSIONS = (
    (b"posix-rename@openssh.com", b"1"),
    (b"limits@openssh.com", b"1"),
    (b"fsync@openssh.com", b"1"),
)
#: Open handles per session: enough for any client, bounded against leaks.
MAX_HANDLES = 256
#: Largest file the lab accepts (offset + length of a write, or a SETSTAT size).
MAX_FILE_SIZE = 1 << 30
#: A fixed owner in listings, so lessons print the same on every machine.
LAB_UID = LAB_GID = 1000

_PFLAG_READ, _PFLAG_WRITE, _PFLAG_APPEND = 0x1, 0x2, 0x4
_PFLAG_CREAT, _PFLAG_TRUNC, _PFLAG_EXCL = 0x8, 0x10, 0x20


class Cut(Exception):
    """The disconnect fault fired: the session must drop the connection now."""


class Meter(Protocol):
    """The session's accounting of file bytes (the transfer faults)."""

    def allow(self, nbytes: int) -> int:
        """How many of ``nbytes`` may move before the disconnect fault fires."""
        ...

    def account(self, nbytes: int) -> None:
        """Record ``nbytes`` moved; blocks as long as the bandwidth cap requires."""
        ...

    def exhausted(self) -> bool:
        """True once the disconnect budget is spent."""
        ...


@dataclass
class _File:
    fd: int
    vpath: str
    dynamic: bool


@dataclass
class _Dir:
    vpath: str
    entries: list[tuple[str, str, Attrs]] = field(default_factory=list)


def attrs_of(st: os.stat_result, mode: int | None = None) -> Attrs:
    """SFTP attributes of a stat result, with the lab's fixed owner.

    Folders report size 4096 whatever the filesystem says (tmpfs, overlayfs
    and ext4 differ), so that listings printed by lessons match everywhere.
    """
    return Attrs(
        size=4096 if stat_mod.S_ISDIR(st.st_mode) else st.st_size,
        uid=LAB_UID,
        gid=LAB_GID,
        permissions=st.st_mode if mode is None else mode,
        atime=int(st.st_atime),
        mtime=int(st.st_mtime),
    )


def longname(name: str, attrs: Attrs) -> str:
    """An ``ls -l`` line in UTC, as OpenSSH's ``sftp`` prints for ``ls -l``."""
    mode = stat_mod.filemode(attrs.permissions or 0)
    when = dt.datetime.fromtimestamp(attrs.mtime or 0, dt.UTC).strftime("%b %d %H:%M")
    return f"{mode}    1 lab      lab      {attrs.size or 0:>8} {when} {name}"


class Operations:
    """Answers SFTP requests for one session; :attr:`table` maps type to method."""

    def __init__(self, root: VirtualRoot, meter: Meter) -> None:
        self._root = root
        self._meter = meter
        self._handles: dict[bytes, _File | _Dir] = {}
        self._next_handle = 0
        self.table: dict[int, Callable[[int, Reader], bytes]] = {
            Op.OPEN: self._open,
            Op.CLOSE: self._close,
            Op.READ: self._read,
            Op.WRITE: self._write,
            Op.LSTAT: self._lstat,
            Op.FSTAT: self._fstat,
            Op.SETSTAT: self._setstat,
            Op.FSETSTAT: self._fsetstat,
            Op.OPENDIR: self._opendir,
            Op.READDIR: self._readdir,
            Op.REMOVE: self._remove,
            Op.MKDIR: self._mkdir,
            Op.RMDIR: self._rmdir,
            Op.REALPATH: self._realpath,
            Op.STAT: self._stat,
            Op.RENAME: self._rename,
            Op.READLINK: self._readlink,
            Op.SYMLINK: self._symlink,
            Op.EXTENDED: self._extended,
        }

    def release(self) -> None:
        """Close every handle still open (the session ended)."""
        for item in self._handles.values():
            if isinstance(item, _File):
                os.close(item.fd)
        self._handles.clear()

    # -- handles ------------------------------------------------------------------

    def _new_handle(self, item: _File | _Dir) -> bytes:
        if len(self._handles) >= MAX_HANDLES:
            if isinstance(item, _File):
                os.close(item.fd)
            raise StatusError(Status.FAILURE, "demasiados ficheros abiertos; cierra alguno")
        self._next_handle += 1
        key = str(self._next_handle).encode("ascii")
        self._handles[key] = item
        return key

    def _file(self, reader: Reader) -> _File:
        item = self._handles.get(reader.bytes_())
        if not isinstance(item, _File):
            raise StatusError(Status.FAILURE, "handle de fichero desconocido o ya cerrado")
        return item

    # -- file operations ----------------------------------------------------------

    def _open(self, rid: int, r: Reader) -> bytes:
        path, pflags, attrs = r.text(), r.u32(), r.attrs()
        writing = bool(pflags & (_PFLAG_WRITE | _PFLAG_APPEND | _PFLAG_CREAT | _PFLAG_TRUNC))
        vpath, real = self._root.resolve(path, "write" if writing else "read")
        if pflags & _PFLAG_READ and pflags & _PFLAG_WRITE:
            flags = os.O_RDWR
        elif pflags & (_PFLAG_WRITE | _PFLAG_APPEND):
            flags = os.O_WRONLY
        else:
            flags = os.O_RDONLY
        for bit, osbit in (
            (_PFLAG_APPEND, os.O_APPEND),
            (_PFLAG_CREAT, os.O_CREAT),
            (_PFLAG_TRUNC, os.O_TRUNC),
            (_PFLAG_EXCL, os.O_EXCL),
        ):
            if pflags & bit:
                flags |= osbit
        mode = (attrs.permissions & 0o777) if attrs.permissions is not None else 0o644
        fd = os.open(real, flags | os.O_CLOEXEC, mode)
        if stat_mod.S_ISDIR(os.fstat(fd).st_mode):
            os.close(fd)
            raise StatusError(Status.FAILURE, "es una carpeta; usa opendir/ls")
        dynamic = vpath == GROWING_FILE
        return handle_reply(rid, self._new_handle(_File(fd, vpath, dynamic)))

    def _close(self, rid: int, r: Reader) -> bytes:
        item = self._handles.pop(r.bytes_(), None)
        if item is None:
            raise StatusError(Status.FAILURE, "handle desconocido o ya cerrado")
        if isinstance(item, _File):
            os.close(item.fd)
        return packet(Op.STATUS, rid, _OK_TAIL)

    def _read(self, rid: int, r: Reader) -> bytes:
        item = self._file(r)
        offset, length = r.u64(), r.u32()
        if offset >= 1 << 63:
            raise StatusError(Status.BAD_MESSAGE, "desplazamiento fuera de rango")
        if item.dynamic:
            self._root.sync(item.vpath)
        allowed = self._meter.allow(min(length, MAX_READ))
        data = os.pread(item.fd, allowed, offset) if allowed else b""
        if not data:
            if self._meter.exhausted():
                raise Cut
            return status_reply(rid, Status.EOF, "fin del fichero")
        self._meter.account(len(data))
        return _DATA_HDR.pack(len(data) + 9, Op.DATA, rid, len(data)) + data

    def _write(self, rid: int, r: Reader) -> bytes:
        item = self._file(r)
        offset = r.u64()
        data = r.raw()
        if offset + len(data) > MAX_FILE_SIZE:
            raise StatusError(Status.FAILURE, "el fichero superaría el máximo del laboratorio")
        allowed = self._meter.allow(len(data))
        view = memoryview(data)[:allowed]
        while view:
            written = os.pwrite(item.fd, view, offset)
            view, offset = view[written:], offset + written
        self._meter.account(allowed)
        if allowed < len(data) or self._meter.exhausted():
            raise Cut
        return packet(Op.STATUS, rid, _OK_TAIL)

    def _fstat(self, rid: int, r: Reader) -> bytes:
        item = self._file(r)
        if item.dynamic:
            self._root.sync(item.vpath)
        return self._attrs_reply(rid, item.vpath, os.fstat(item.fd))

    def _fsetstat(self, rid: int, r: Reader) -> bytes:
        item = self._file(r)
        self._root.check(item.vpath, "modify")
        self._apply(item.fd, r.attrs())
        return packet(Op.STATUS, rid, _OK_TAIL)

    # -- path operations ----------------------------------------------------------

    def _attrs_reply(self, rid: int, vpath: str, st: os.stat_result) -> bytes:
        attrs = attrs_of(st, self._root.display_mode(vpath, st.st_mode))
        return packet(Op.ATTRS, rid, attrs_bytes(attrs))

    def _stat(self, rid: int, r: Reader) -> bytes:
        vpath, real = self._root.resolve(r.text(), "stat")
        return self._attrs_reply(rid, vpath, os.stat(real))

    def _lstat(self, rid: int, r: Reader) -> bytes:
        vpath, real = self._root.resolve(r.text(), "stat")
        return self._attrs_reply(rid, vpath, os.lstat(real))

    def _setstat(self, rid: int, r: Reader) -> bytes:
        _, real = self._root.resolve(r.text(), "modify")
        self._apply(real, r.attrs())
        return packet(Op.STATUS, rid, _OK_TAIL)

    def _apply(self, target: int | str, attrs: Attrs) -> None:
        # Owner changes are ignored on purpose: the lab has one fixed owner.
        if attrs.size is not None and attrs.size > MAX_FILE_SIZE:
            raise StatusError(Status.FAILURE, "el fichero superaría el máximo del laboratorio")
        if attrs.size is not None:
            os.truncate(target, attrs.size)
        if attrs.permissions is not None:
            os.chmod(target, attrs.permissions & 0o7777)
        if attrs.atime is not None and attrs.mtime is not None:
            os.utime(target, (attrs.atime, attrs.mtime))

    def _opendir(self, rid: int, r: Reader) -> bytes:
        vpath, real = self._root.resolve(r.text(), "list")
        entries: list[tuple[str, str, Attrs]] = []
        with os.scandir(real) as it:
            for entry in sorted(it, key=lambda e: e.name):
                st = entry.stat(follow_symlinks=False)
                attrs = attrs_of(st, self._root.display_mode(join(vpath, entry.name), st.st_mode))
                entries.append((entry.name, longname(entry.name, attrs), attrs))
        return handle_reply(rid, self._new_handle(_Dir(vpath, entries)))

    def _readdir(self, rid: int, r: Reader) -> bytes:
        item = self._handles.get(r.bytes_())
        if not isinstance(item, _Dir):
            raise StatusError(Status.FAILURE, "handle de carpeta desconocido o ya cerrado")
        if not item.entries:
            return status_reply(rid, Status.EOF, "fin del listado")
        batch, item.entries = item.entries[:100], item.entries[100:]
        return name_reply(rid, batch)

    def _remove(self, rid: int, r: Reader) -> bytes:
        _, real = self._root.resolve(r.text(), "modify")
        os.unlink(real)
        return packet(Op.STATUS, rid, _OK_TAIL)

    def _mkdir(self, rid: int, r: Reader) -> bytes:
        path, attrs = r.text(), r.attrs()
        _, real = self._root.resolve(path, "write")
        mode = (attrs.permissions & 0o777) if attrs.permissions is not None else 0o755
        os.mkdir(real, mode)
        return packet(Op.STATUS, rid, _OK_TAIL)

    def _rmdir(self, rid: int, r: Reader) -> bytes:
        vpath, real = self._root.resolve(r.text(), "modify")
        if vpath == "/":
            raise StatusError(Status.PERMISSION_DENIED, "no se puede borrar la raíz")
        os.rmdir(real)
        return packet(Op.STATUS, rid, _OK_TAIL)

    def _realpath(self, rid: int, r: Reader) -> bytes:
        vpath = self._root.canonical(r.text() or ".")
        self._root.check(vpath, "stat")
        real = self._root.real(vpath)
        if os.path.lexists(real):
            vpath = self._root.virtual(real)
        return name_reply(rid, [(vpath, vpath, Attrs())])

    def _rename(self, rid: int, r: Reader, *, overwrite: bool = False) -> bytes:
        old_v, old = self._root.resolve(r.text(), "modify")
        new_v, new = self._root.resolve(r.text(), "write")
        if old_v == "/" or new_v == "/":
            raise StatusError(Status.PERMISSION_DENIED, "no se puede renombrar la raíz")
        if overwrite:
            os.replace(old, new)
        elif os.path.lexists(new):
            # SFTP v3 rename never overwrites (OpenSSH does the same).
            raise StatusError(
                Status.FAILURE, "el destino ya existe; usa posix_rename para reemplazarlo"
            )
        else:
            os.rename(old, new)
        return packet(Op.STATUS, rid, _OK_TAIL)

    def _readlink(self, rid: int, r: Reader) -> bytes:
        _, real = self._root.resolve(r.text(), "stat")
        if not os.path.islink(real):
            raise StatusError(Status.FAILURE, "no es un enlace simbólico")
        target = self._root.virtual(real)  # real() already proved it stays inside
        return name_reply(rid, [(target, target, Attrs())])

    def _symlink(self, rid: int, r: Reader) -> bytes:
        r.text(), r.text()
        raise StatusError(
            Status.PERMISSION_DENIED, "el laboratorio no permite crear enlaces simbólicos"
        )

    def _extended(self, rid: int, r: Reader) -> bytes:
        name = r.bytes_()
        if name == b"posix-rename@openssh.com":
            return self._rename(rid, r, overwrite=True)
        if name == b"limits@openssh.com":
            body = u32(rid) + u64(MAX_PACKET) + u64(MAX_READ) + u64(MAX_READ) + u64(MAX_HANDLES)
            return _HDR.pack(len(body) + 1, Op.EXTENDED_REPLY) + body
        if name == b"fsync@openssh.com":
            os.fsync(self._file(r).fd)
            return packet(Op.STATUS, rid, _OK_TAIL)
        raise StatusError(Status.OP_UNSUPPORTED, "extensión no soportada")
