"""One SFTP session: frames requests from an SSH channel and sends the answers.

The loop is written for throughput, because paramiko's stock ``SFTPServer``
answers OpenSSH's client at about a third of ``sshd``'s speed:

* it advertises ``limits@openssh.com``, so OpenSSH sends ~255 KiB WRITE/READ
  requests instead of 32 KiB ones (8x fewer requests to parse and answer);
* it reads the channel in large chunks and slices requests out of them
  without copying (``memoryview``), instead of one ``recv`` per field;
* it queues answers and sends them together as full SSH packets (see
  :meth:`SFTPSession._send`).

Robustness: every request is answered with a status, never with a crash.
Malformed fields get BAD_MESSAGE, unknown types OP_UNSUPPORTED, path problems
their precise code; an unexpected exception becomes FAILURE and the session
(and the server) keep going. Only an oversized length, which makes the stream
unparseable, ends this one session. The requests themselves are answered by
:class:`~mock_servers.sftp.handlers.Operations`.
"""

from __future__ import annotations

import contextlib
import struct
import threading
from collections.abc import Callable

import paramiko

from .faults import SFTPFaults, Throttle
from .handlers import EXTENSIONS, Cut, Operations
from .protocol import MAX_PACKET, MalformedPacket, Op, Reader, Status, status_reply, string, u32
from .vfs import StatusError, VirtualRoot, status_for_oserror

__all__ = ["SFTPSession"]

_HDR = struct.Struct(">IB")
#: Queued reply bytes that force a send even while requests keep arriving.
OUT_FLUSH = 512 * 1024


class SFTPSession(threading.Thread):
    """Serves one ``sftp`` subsystem channel until EOF, error or server stop."""

    def __init__(
        self,
        channel: paramiko.Channel,
        root: VirtualRoot,
        faults: SFTPFaults,
        stop: threading.Event,
        on_cut: Callable[[], None],
    ) -> None:
        super().__init__(name="sftp-lab-session", daemon=True)
        self._chan = channel
        self._faults = faults
        self._halt = stop
        self._on_cut = on_cut
        self._buf: bytes = b""
        self._pos = 0
        self._out: list[bytes] = []
        self._out_len = 0
        self._throttle = Throttle(stop)
        self._budget = faults.claim_disconnect()
        self._moved = 0
        self._ops = Operations(root, self)

    # -- the loop -----------------------------------------------------------------

    def run(self) -> None:
        cut = False
        try:
            self._serve()
        except Cut:
            cut = True
        except Exception:  # noqa: S110 - a lab thread must never print or die loudly
            pass  # EOF, a closed channel or a stopped server all end the session quietly
        finally:
            with contextlib.suppress(Exception):
                self._flush()  # what was answered before a cut still reaches the client
            self._ops.release()
            if cut:
                self._on_cut()
            else:
                # The client may already be gone: closing then raises EOFError.
                with contextlib.suppress(EOFError, OSError):
                    self._chan.close()

    def _serve(self) -> None:
        while not self._halt.is_set():
            (length,) = struct.unpack(">I", self._take(4))
            if length == 0:
                self._send(status_reply(0, Status.BAD_MESSAGE, "paquete vacío"))
                continue
            if length > MAX_PACKET + 1024:
                self._send(status_reply(0, Status.BAD_MESSAGE, "paquete demasiado grande"))
                self._flush()
                return  # the rest of the stream cannot be framed any more
            body = self._take(length)
            self._dispatch(body)

    def _dispatch(self, body: memoryview) -> None:
        kind = body[0]
        if kind == Op.INIT:
            ext = b"".join(string(name) + string(data) for name, data in EXTENSIONS)
            self._send(_HDR.pack(5 + len(ext), Op.VERSION) + u32(3) + ext)
            return
        if len(body) < 5:
            self._send(status_reply(0, Status.BAD_MESSAGE, "falta el id de petición"))
            return
        request_id = int.from_bytes(body[1:5], "big")
        handler = self._ops.table.get(kind)
        try:
            if handler is None:
                raise StatusError(Status.OP_UNSUPPORTED, f"operación {kind} no soportada")
            reply = handler(request_id, Reader(body, 5))
        except StatusError as exc:
            reply = status_reply(request_id, exc.code, exc.message)
        except MalformedPacket as exc:
            reply = status_reply(request_id, Status.BAD_MESSAGE, f"petición mal formada: {exc}")
        except OSError as exc:
            err = status_for_oserror(exc)
            reply = status_reply(request_id, err.code, err.message)
        except (OverflowError, ValueError):
            reply = status_reply(request_id, Status.BAD_MESSAGE, "valor fuera de rango")
        except Cut:
            raise
        except Exception:  # a server bug must cost one request, not the session
            reply = status_reply(request_id, Status.FAILURE, "error interno del servidor")
        self._send(reply)

    def _take(self, n: int) -> memoryview:
        """``n`` bytes from the channel, as a view into an immutable buffer."""
        have = len(self._buf) - self._pos
        if have < n:
            self._flush()  # about to wait for the client: it must have every answer first
            chunks = [self._buf[self._pos :]]
            while have < n:
                chunk = self._chan.recv(4 * MAX_PACKET)
                if not chunk:
                    raise EOFError
                chunks.append(chunk)
                have += len(chunk)
            self._buf, self._pos = b"".join(chunks), 0
        view = memoryview(self._buf)[self._pos : self._pos + n]
        self._pos += n
        return view

    def _send(self, data: bytes) -> None:
        """Queue a reply; replies leave together when the session needs more input.

        Coalescing matters: a 32 KiB READ answer is 32 KiB + 13 bytes, which
        sent alone becomes one full SSH packet plus a 13-byte one, doubling
        the packets the client decrypts. Queued answers go out as a stream of
        full packets, as OpenSSH's sshd sends them.
        """
        self._out.append(data)
        self._out_len += len(data)
        if self._out_len >= OUT_FLUSH or self._throttle.active:
            self._flush()

    def _flush(self) -> None:
        if not self._out:
            return
        view = memoryview(b"".join(self._out) if len(self._out) > 1 else self._out[0])
        self._out.clear()
        self._out_len = 0
        # Not Channel.sendall: it re-slices the remaining bytes after every
        # 32 KiB packet (s = s[sent:]), copying a 512 KiB buffer ~8 times over.
        while view:
            sent = self._chan.send(view)  # type: ignore[arg-type]  # any buffer works
            if sent == 0:
                raise EOFError("canal cerrado")
            view = view[sent:]

    # -- transfer faults: the Meter protocol of handlers.Operations ---------------

    def allow(self, nbytes: int) -> int:
        if self._budget is None:
            return nbytes
        return max(min(nbytes, self._budget - self._moved), 0)

    def account(self, nbytes: int) -> None:
        self._moved += nbytes
        self._throttle.pace(nbytes, self._faults.state.bandwidth_bytes_per_s)

    def exhausted(self) -> bool:
        return self._budget is not None and self._moved >= self._budget
