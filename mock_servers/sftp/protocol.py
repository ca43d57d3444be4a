"""SFTP version 3 wire format (draft-ietf-secsh-filexfer-02), server side.

Only what a server needs: a bounds-checked :class:`Reader` for requests and
small encoders for replies. Every malformed field raises
:class:`MalformedPacket`, which the session turns into ``SSH_FX_BAD_MESSAGE``
instead of letting a ``struct.error`` kill the thread.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

__all__ = [
    "MAX_PACKET",
    "MAX_READ",
    "Attrs",
    "MalformedPacket",
    "Op",
    "Reader",
    "Status",
    "attrs_bytes",
    "handle_reply",
    "name_reply",
    "packet",
    "status_reply",
]

#: Largest request accepted, OpenSSH's SFTP_MAX_MSG_LENGTH. Advertised through
#: ``limits@openssh.com`` so OpenSSH's client sends ~255 KiB writes instead of
#: 32 KiB ones: eight times fewer requests, the biggest single speed-up.
MAX_PACKET = 256 * 1024
#: Largest READ/WRITE payload, leaving room for the headers inside MAX_PACKET.
MAX_READ = MAX_PACKET - 1024

_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_HDR = struct.Struct(">IBI")  # length, type, request id


class Op(IntEnum):
    """Packet types of SFTP v3."""

    INIT = 1
    VERSION = 2
    OPEN = 3
    CLOSE = 4
    READ = 5
    WRITE = 6
    LSTAT = 7
    FSTAT = 8
    SETSTAT = 9
    FSETSTAT = 10
    OPENDIR = 11
    READDIR = 12
    REMOVE = 13
    MKDIR = 14
    RMDIR = 15
    REALPATH = 16
    STAT = 17
    RENAME = 18
    READLINK = 19
    SYMLINK = 20
    STATUS = 101
    HANDLE = 102
    DATA = 103
    NAME = 104
    ATTRS = 105
    EXTENDED = 200
    EXTENDED_REPLY = 201


class Status(IntEnum):
    """``SSH_FX_*`` status codes of SFTP v3."""

    OK = 0
    EOF = 1
    NO_SUCH_FILE = 2
    PERMISSION_DENIED = 3
    FAILURE = 4
    BAD_MESSAGE = 5
    NO_CONNECTION = 6
    CONNECTION_LOST = 7
    OP_UNSUPPORTED = 8


class MalformedPacket(ValueError):
    """A request whose fields do not parse (truncated, oversized, bad UTF-8, NUL)."""


# Attribute flags.
ATTR_SIZE = 0x1
ATTR_UIDGID = 0x2
ATTR_PERMISSIONS = 0x4
ATTR_ACMODTIME = 0x8
ATTR_EXTENDED = 0x80000000


@dataclass(frozen=True)
class Attrs:
    """File attributes as SFTP v3 carries them; ``None`` means "not sent"."""

    size: int | None = None
    uid: int | None = None
    gid: int | None = None
    permissions: int | None = None
    atime: int | None = None
    mtime: int | None = None


class Reader:
    """Reads fields from one request body, refusing to run past its end."""

    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes | memoryview, pos: int = 0) -> None:
        self._data = data
        self._pos = pos

    def _take(self, n: int) -> bytes | memoryview:
        end = self._pos + n
        if n < 0 or end > len(self._data):
            raise MalformedPacket("campo truncado")
        chunk = self._data[self._pos : end]
        self._pos = end
        return chunk

    def u32(self) -> int:
        value: int = _U32.unpack(self._take(4))[0]
        return value

    def u64(self) -> int:
        value: int = _U64.unpack(self._take(8))[0]
        return value

    def raw(self) -> bytes | memoryview:
        """An SSH ``string`` as a zero-copy view (for WRITE payloads)."""
        return self._take(self.u32())

    def bytes_(self) -> bytes:
        return bytes(self.raw())

    def text(self) -> str:
        """A UTF-8 ``string``; NUL bytes and invalid UTF-8 are malformed."""
        raw = self.bytes_()
        if b"\x00" in raw:
            raise MalformedPacket("ruta con un byte NUL")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedPacket("ruta que no es UTF-8") from exc

    def attrs(self) -> Attrs:
        flags = self.u32()
        size = self.u64() if flags & ATTR_SIZE else None
        uid = gid = None
        if flags & ATTR_UIDGID:
            uid, gid = self.u32(), self.u32()
        perms = self.u32() if flags & ATTR_PERMISSIONS else None
        atime = mtime = None
        if flags & ATTR_ACMODTIME:
            atime, mtime = self.u32(), self.u32()
        if flags & ATTR_EXTENDED:
            for _ in range(self.u32()):
                self.raw()
                self.raw()
        return Attrs(size, uid, gid, perms, atime, mtime)


def _string(data: bytes) -> bytes:
    return _U32.pack(len(data)) + data


def packet(op: Op, request_id: int, body: bytes = b"") -> bytes:
    """Frame one reply: length, type, request id, body."""
    return _HDR.pack(len(body) + 5, op, request_id) + body


def status_reply(request_id: int, code: Status, message: str = "") -> bytes:
    """``SSH_FXP_STATUS`` with an English-neutral code and a Spanish message."""
    body = _U32.pack(code) + _string(message.encode("utf-8")) + _string(b"es")
    return packet(Op.STATUS, request_id, body)


def handle_reply(request_id: int, handle: bytes) -> bytes:
    return packet(Op.HANDLE, request_id, _string(handle))


def attrs_bytes(attrs: Attrs) -> bytes:
    """Encode attributes, sending only the fields that are set."""
    flags = 0
    parts: list[bytes] = []
    if attrs.size is not None:
        flags |= ATTR_SIZE
        parts.append(_U64.pack(attrs.size))
    if attrs.uid is not None and attrs.gid is not None:
        flags |= ATTR_UIDGID
        parts.append(_U32.pack(attrs.uid) + _U32.pack(attrs.gid))
    if attrs.permissions is not None:
        flags |= ATTR_PERMISSIONS
        parts.append(_U32.pack(attrs.permissions))
    if attrs.atime is not None and attrs.mtime is not None:
        flags |= ATTR_ACMODTIME
        parts.append(_U32.pack(attrs.atime & 0xFFFFFFFF) + _U32.pack(attrs.mtime & 0xFFFFFFFF))
    return _U32.pack(flags) + b"".join(parts)


def name_reply(request_id: int, entries: list[tuple[str, str, Attrs]]) -> bytes:
    """``SSH_FXP_NAME``: (filename, ls-style longname, attributes) per entry."""
    parts = [_U32.pack(len(entries))]
    for filename, longname, attrs in entries:
        parts.append(_string(filename.encode("utf-8")))
        parts.append(_string(longname.encode("utf-8")))
        parts.append(attrs_bytes(attrs))
    return packet(Op.NAME, request_id, b"".join(parts))


def u32(value: int) -> bytes:
    return _U32.pack(value)


def u64(value: int) -> bytes:
    return _U64.pack(value)


def string(data: bytes) -> bytes:
    """An SSH ``string``: uint32 length then the bytes."""
    return _string(data)
