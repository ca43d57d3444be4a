"""Find where each HTTP/1.x request starts in a client-to-server byte stream.

The fault proxy applies a fault *per request*, also on a reused keep-alive
connection, and removes the fault header before forwarding. For that it must
know where one request ends and the next begins, which HTTP/1.1 defines by the
body framing (RFC 9112 §6): ``Content-Length`` or ``Transfer-Encoding:
chunked``. :class:`RequestSplitter` tracks exactly that, incrementally, without
ever holding more than one request head in memory.

Anything it does not understand (TLS, SSH, a huge head, an upgrade to another
protocol, malformed framing) switches it to *passthrough*: the rest of the
stream is forwarded untouched and no more heads are reported. Being a proxy,
it never rejects traffic; the upstream server stays the judge of validity.
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = ["MAX_HEAD_BYTES", "RequestHead", "RequestSplitter"]

#: Larger heads are not parsed (passthrough); servers reject far smaller ones.
MAX_HEAD_BYTES = 64 * 1024
#: Longest chunk-size line accepted (hex size plus extensions).
_MAX_CHUNK_LINE = 4096
#: A request line starts with a method token of capitals and a space: "GET ".
#: Checking this early lets TLS (0x16...) or SSH ("SSH-2.0-") pass at once.
_METHOD_PREFIX = re.compile(rb"[A-Z]{1,20}( |$)")
_REQUEST_LINE = re.compile(rb"([A-Z]{1,20}) (\S+) HTTP/1\.[01]")
#: Plain hex digits only: int(..., 16) would also accept "0x1f", "+5" or "1_0".
_CHUNK_SIZE_TEXT = re.compile(rb"[0-9A-Fa-f]{1,16}")


class RequestHead(NamedTuple):
    """One request head as found in the stream."""

    method: str
    target: str
    #: The head to forward: as received, minus the fault-header lines.
    forward: bytes
    #: Value of the fault header (the last one if repeated), else ``None``.
    fault: str | None


_HEAD, _BODY, _CHUNK_SIZE, _CHUNK_DATA, _TRAILER, _RAW = range(6)


class RequestSplitter:
    """Incremental splitter: ``feed`` bytes, get heads and the bytes in between.

    ``feed`` returns a list whose items are either a :class:`RequestHead` or
    ``bytes`` to forward as they are, in stream order. Bytes that may still
    belong to an incomplete head are kept until the head is complete.
    """

    def __init__(self, fault_header: str = "X-Mock-Socket-Fault") -> None:
        self._fault_name = fault_header.lower().encode("ascii")
        self._state = _HEAD
        self._buf = b""
        self._remaining = 0
        #: How many request heads were found so far.
        self.heads_seen = 0

    @property
    def passthrough(self) -> bool:
        """True once the stream is no longer parsed (see the module docstring)."""
        return self._state == _RAW

    def feed(self, data: bytes) -> list[RequestHead | bytes]:
        """Consume ``data``; return the heads and forwardable bytes it completes."""
        self._buf += data
        out: list[RequestHead | bytes] = []
        while self._buf:
            if self._state == _RAW:
                out.append(self._buf)
                self._buf = b""
            elif self._state == _HEAD:
                if not self._step_head(out):
                    break
            elif self._state in (_BODY, _CHUNK_DATA):
                piece = self._buf[: self._remaining]
                self._buf = self._buf[len(piece) :]
                self._remaining -= len(piece)
                out.append(piece)
                if self._remaining == 0:
                    self._state = _HEAD if self._state == _BODY else _CHUNK_SIZE
            elif not self._step_line(out):
                break
        return _merge(out)

    def _to_raw(self) -> None:
        self._state = _RAW

    def _step_head(self, out: list[RequestHead | bytes]) -> bool:
        """Parse one head if complete; False when more bytes are needed."""
        # RFC 9112 §2.2: ignore empty lines before a request line.
        stripped = self._buf.lstrip(b"\r\n")
        if stripped != self._buf:
            out.append(self._buf[: len(self._buf) - len(stripped)])
            self._buf = stripped
            if not self._buf:
                return False
        if not _METHOD_PREFIX.match(self._buf[:21]):
            self._to_raw()
            return True
        end = self._buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buf) > MAX_HEAD_BYTES:
                self._to_raw()
                return True
            return False
        raw, self._buf = self._buf[: end + 4], self._buf[end + 4 :]
        head = self._parse_head(raw)
        if head is None:
            self._buf = raw + self._buf
            self._to_raw()
            return True
        out.append(head)
        return True

    def _parse_head(self, raw: bytes) -> RequestHead | None:
        """Parse a complete head and set the body state; None if not HTTP/1.x."""
        request_line, *lines = raw[:-4].split(b"\r\n")
        match = _REQUEST_LINE.fullmatch(request_line)
        if match is None:
            return None
        kept = [request_line]
        fault: str | None = None
        length: int | None = None
        chunked = upgrade = False
        for line in lines:
            name, sep, value = line.partition(b":")
            if not sep or not name or name != name.strip():
                return None
            name = name.lower()
            value = value.strip()
            if name == self._fault_name:
                fault = value.decode("latin-1")
                continue
            kept.append(line)
            if name == b"content-length":
                if not value.isdigit() or (length is not None and length != int(value)):
                    return None
                length = int(value)
            elif name == b"transfer-encoding":
                codings = [c.strip().lower() for c in value.split(b",")]
                if codings[-1] != b"chunked":
                    return None  # a request body framed by closing is not valid
                chunked = True
            elif name == b"upgrade":
                upgrade = True
        if chunked and length is not None:
            return None  # RFC 9112 §6.1: both present is a smuggling risk
        method = match.group(1)
        if upgrade or method == b"CONNECT":
            self._state = _RAW  # after the head the stream is another protocol
        elif chunked:
            self._state = _CHUNK_SIZE
        elif length:
            self._state, self._remaining = _BODY, length
        else:
            self._state = _HEAD
        self.heads_seen += 1
        return RequestHead(
            method=method.decode("ascii"),
            target=match.group(2).decode("latin-1"),
            forward=b"\r\n".join(kept) + b"\r\n\r\n",
            fault=fault,
        )

    def _step_line(self, out: list[RequestHead | bytes]) -> bool:
        """A chunk-size or trailer line; False when more bytes are needed."""
        end = self._buf.find(b"\r\n")
        if end < 0:
            if len(self._buf) > _MAX_CHUNK_LINE:
                self._to_raw()
                return True
            return False
        line, self._buf = self._buf[: end + 2], self._buf[end + 2 :]
        out.append(line)
        if self._state == _TRAILER:
            if line == b"\r\n":
                self._state = _HEAD
            return True
        size_text = line[:-2].split(b";", 1)[0].strip()
        if not _CHUNK_SIZE_TEXT.fullmatch(size_text):
            self._to_raw()
            return True
        size = int(size_text, 16)
        if size == 0:
            self._state = _TRAILER
        else:
            self._state, self._remaining = _CHUNK_DATA, size + 2  # data + CRLF
        return True


def _merge(items: list[RequestHead | bytes]) -> list[RequestHead | bytes]:
    """Join consecutive byte pieces so each ``send`` carries as much as it can."""
    merged: list[RequestHead | bytes] = []
    for item in items:
        if isinstance(item, bytes):
            if not item:
                continue
            if merged and isinstance(merged[-1], bytes):
                merged[-1] = merged[-1] + item
                continue
        merged.append(item)
    return merged
