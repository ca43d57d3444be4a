"""A small TCP fault proxy: the socket failures an ASGI app cannot produce.

An ASGI app can answer 500 or answer late, but it cannot reset a connection,
close it without a reply or speak garbage: the server under it always frames a
proper HTTP response. :class:`FaultProxy` sits between the client and the lab's
HTTP server and does those things on demand, with toxiproxy's vocabulary (the
kinds and how to ask for them are in :mod:`mock_servers.proxy_faults`)::

    proxy = FaultProxy("127.0.0.1", app_port).start()
    proxy.faults.add("reset", count=1)       # the next request is reset
    requests.get(proxy.url + "/entries")     # -> requests.ConnectionError
    requests.get(proxy.url + "/entries",     # one request, by header
                 headers={"X-Mock-Socket-Fault": "hang"}, timeout=0.5)
    proxy.journal                            # one ProxyEvent per request
    proxy.stop()

Rules count *requests*, also on a reused keep-alive connection, so a pooled
``requests.Session`` cannot slip past a fault. Bytes are forwarded untouched
except for the fault header, which is removed. Traffic that is not HTTP/1.x
(TLS the proxy does not terminate, SSH...) is relayed as an opaque stream;
rules then apply once per connection and headers cannot be read.

Design: one accept thread, one thread per client connection, non-blocking
sockets and :mod:`selectors` polled every 50 ms. Every wait (latency,
bandwidth pacing, a hang, a client that does not read) is a wait on an
:class:`threading.Event`, so :meth:`FaultProxy.stop` ends all of them at once
and joins every thread within about two seconds, even with clients hanging.
Latency and bandwidth are socket effects and use real time; the injected clock
only stamps the journal. Threads never print: unexpected errors end up in
:attr:`FaultProxy.error` or as a journal ``note``.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import ssl
import struct
import threading
import time
from collections import deque
from types import TracebackType
from typing import NamedTuple, NoReturn

from connectors_lib.clock import Clock, SystemClock

from .proxy_faults import FAULT_HEADER, SocketFault, SocketFaults, parse_fault_header
from .proxy_framing import RequestHead, RequestSplitter

__all__ = ["GARBAGE", "FaultProxy", "ProxyEvent"]

#: What ``garbage`` sends: binary noise and no HTTP status line, ended by a
#: blank line so that line-based parsers fail on content, not on a short read.
GARBAGE = b"\x00\x17\xfe\xff<esto no es HTTP>\xde\xad\xbe\xef\r\n\r\n"

#: Read size per ``recv``; large enough that most lab responses pass in one.
_CHUNK = 64 * 1024
#: Longest a thread blocks before checking whether it must stop.
_POLL_S = 0.05
#: A client that has not finished its TLS handshake by then is dropped.
_HANDSHAKE_TIMEOUT_S = 5.0
#: The upstream is on loopback: it answers at once or is not there.
_CONNECT_TIMEOUT_S = 1.0
#: Bandwidth pacing granularity: bytes go out in slices of this much time.
_PACE_SLICE_S = 0.02
#: One thread per connection: cap them so a runaway client cannot exhaust threads.
_MAX_CONNECTIONS = 256
#: "Nothing to read/write right now" on a non-blocking socket, plain or TLS
#: (a TLS socket may have read only a session ticket, no application data).
_WOULD_BLOCK = (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError)
#: SO_LINGER on with a zero timeout: close() sends RST instead of FIN.
_LINGER_RESET = struct.pack("ii", 1, 0)


class ProxyEvent(NamedTuple):
    """One request (or one non-HTTP connection) that went through the proxy."""

    #: ``clock.now()`` when the request head arrived.
    at: float
    #: Client connection number, from 1, in order of arrival.
    connection: int
    #: Request number on that connection, from 1; 0 for a non-HTTP stream.
    request: int
    method: str
    target: str
    #: Faults applied, in header form (``"latency;ms=200"``); empty: untouched.
    faults: tuple[str, ...]
    #: ``"header"``, ``"rule"``, or ``""`` when nothing was applied.
    source: str
    #: Why the proxy itself ended the exchange (invalid header, upstream down).
    note: str = ""


class _Done(Exception):
    """Internal: this connection is finished; close both sides."""


class FaultProxy:
    """TCP proxy from ``host:port`` to ``upstream_host:upstream_port`` with faults.

    ``port=0`` lets the OS choose; after :meth:`start` the real one is in
    :attr:`port` and :attr:`url`, and it stays the same across ``down``/up.
    ``clock`` (default :class:`SystemClock`) stamps :attr:`journal` entries;
    the lab passes its shared clock. ``journal_size`` bounds memory for a
    long classroom session (oldest entries are dropped).

    TLS, two ways. Without contexts the proxy relays TLS as an opaque stream:
    connection faults work, header faults cannot be read. With
    ``server_ssl`` (say :meth:`TLSFiles.server_ssl_context
    <mock_servers.tls.TLSFiles.server_ssl_context>`) it terminates TLS itself,
    so every fault works over ``https`` and :attr:`url` says ``https``; with
    ``upstream_ssl`` (a verifying client context) it speaks TLS to an
    ``https`` upstream, checking its certificate for ``upstream_host``.
    Socket faults act on TCP under TLS: ``reset`` is a real RST (which
    Python's :mod:`ssl` reports as an end of stream, so clients see a
    disconnect), and ``garbage`` is sent inside the TLS session, so the client
    decrypts non-HTTP bytes.
    """

    def __init__(
        self,
        upstream_host: str,
        upstream_port: int,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock | None = None,
        journal_size: int = 10_000,
        server_ssl: ssl.SSLContext | None = None,
        upstream_ssl: ssl.SSLContext | None = None,
    ) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.server_ssl = server_ssl
        self.upstream_ssl = upstream_ssl
        self.host = host
        self.port = port
        self.clock: Clock = clock if clock is not None else SystemClock()
        #: The fault schedule; see :class:`~mock_servers.proxy_faults.SocketFaults`.
        self.faults = SocketFaults(on_change=self._faults_changed)
        self._journal: deque[ProxyEvent] = deque(maxlen=journal_size)
        self._lock = threading.Lock()
        self._links: dict[_Link, threading.Thread] = {}
        self._connections = 0
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._listener: socket.socket | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        # Changes to the fault schedule, and how many the accept loop has applied:
        # lets faults.add("down") return only once the port is really closed.
        self._changes = 0
        self._applied = 0
        self._applied_cond = threading.Condition()
        #: The exception that stopped the accept loop, if one ever did (never printed).
        self.error: BaseException | None = None

    # -- life cycle --------------------------------------------------------

    def start(self) -> FaultProxy:
        """Bind and start accepting; returns ``self``. A no-op if already running.

        Raises :class:`OSError` if the address is taken (say, a fixed ``port``).
        """
        if self.running:
            return self
        self._stopping = threading.Event()
        self._listener = self._listen()  # bind now, so .port is known on return
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._thread = threading.Thread(
            target=self._serve, name=f"fault-proxy:{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Close the listener and every connection; join all threads within ``timeout``."""
        thread = self._thread
        if thread is None:
            return
        deadline = time.monotonic() + timeout
        self._stopping.set()
        self._wake()
        thread.join(timeout)
        with self._lock:
            links = dict(self._links)
        for link in links:
            link.cancel.set()
        for link_thread in links.values():
            link_thread.join(max(deadline - time.monotonic(), 0.0))
        for sock in (self._wake_r, self._wake_w):
            if sock is not None:
                sock.close()
        self._wake_r = self._wake_w = None
        self._thread = None

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def url(self) -> str:
        """``http://host:port``, or ``https://`` when the proxy terminates TLS."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "https" if self.server_ssl is not None else "http"
        return f"{scheme}://{host}:{self.port}"

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- journal -----------------------------------------------------------

    @property
    def journal(self) -> list[ProxyEvent]:
        """A copy of the recorded events, oldest first."""
        with self._lock:
            return list(self._journal)

    def clear_journal(self) -> None:
        """Forget the recorded events (connection numbers keep counting)."""
        with self._lock:
            self._journal.clear()

    def _record(self, event: ProxyEvent) -> None:
        with self._lock:
            self._journal.append(event)

    # -- accept loop (its own thread) -------------------------------------

    def _listen(self) -> socket.socket:
        # create_server sets SO_REUSEADDR, so the port can be bound again after
        # "down" even with old connections in TIME_WAIT.
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.create_server((self.host, self.port), family=family, backlog=128)
        sock.setblocking(False)
        self.port = int(sock.getsockname()[1])
        return sock

    def _faults_changed(self) -> None:
        """Wake the accept loop and wait (1 s at most) until it has applied the change."""
        with self._applied_cond:
            self._changes += 1
            target = self._changes
        self._wake()
        if not self.running or threading.current_thread() is self._thread:
            return
        with self._applied_cond:
            self._applied_cond.wait_for(
                lambda: self._applied >= target or self._stopping.is_set(), timeout=1.0
            )

    def _wake(self) -> None:
        """Interrupt the accept loop so it sees a change (``down``) or a stop."""
        sock = self._wake_w
        if sock is not None:
            with contextlib.suppress(OSError):  # already full or closed: it is awake
                sock.send(b"!")

    def _serve(self) -> None:
        assert self._wake_r is not None
        selector = selectors.DefaultSelector()
        selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        registered: socket.socket | None = None
        try:
            while not self._stopping.is_set():
                with self._applied_cond:
                    seen = self._changes
                registered = self._follow_down_state(selector, registered)
                with self._applied_cond:
                    self._applied = seen
                    self._applied_cond.notify_all()
                for key, _ in selector.select(_POLL_S):
                    if key.data == "wake":
                        with contextlib.suppress(OSError):
                            self._wake_r.recv(4096)
                    else:
                        self._accept_all()
        except Exception as exc:  # a thread must not print to the notebook: keep it
            self.error = exc
        finally:
            if self._listener is not None:
                self._listener.close()
                self._listener = None
            selector.close()
            with self._applied_cond:
                self._applied_cond.notify_all()

    def _follow_down_state(
        self, selector: selectors.BaseSelector, registered: socket.socket | None
    ) -> socket.socket | None:
        """Close the listener while ``down`` is on; bind it again when it is off."""
        if self.faults.down:
            if self._listener is not None:
                if registered is not None:
                    selector.unregister(registered)
                self._listener.close()
                self._listener = None
                with self._lock:
                    links = list(self._links)
                for link in links:  # like toxiproxy: a disabled proxy drops its links
                    link.cancel.set()
            return None
        if self._listener is None:
            try:
                self._listener = self._listen()
            except OSError:
                return None  # port briefly unavailable: try again next round
        if registered is not self._listener:
            selector.register(self._listener, selectors.EVENT_READ, "listen")
        return self._listener

    def _accept_all(self) -> None:
        while self._listener is not None:
            try:
                client, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            with self._lock:
                if len(self._links) >= _MAX_CONNECTIONS:
                    client.close()
                    continue
                self._connections += 1
                link = _Link(self, self._connections, client)
                thread = threading.Thread(
                    target=link.run,
                    name=f"fault-proxy:{self.port}:link:{self._connections}",
                    daemon=True,
                )
                self._links[link] = thread
            thread.start()

    def _forget(self, link: _Link) -> None:
        with self._lock:
            self._links.pop(link, None)

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        upstream = f"{self.upstream[0]}:{self.upstream[1]}"
        return f"FaultProxy({self.url} -> {upstream}, {state}, {self.faults!r})"


class _Link:
    """One client connection and its upstream connection, run by one thread.

    Requests flow client to upstream through a :class:`RequestSplitter`, which
    reports each request head; that is where a fault is chosen (header first,
    else the rules). Responses flow back through :meth:`_from_upstream`, where
    latency, bandwidth and limit_data act.
    """

    def __init__(self, proxy: FaultProxy, number: int, client: socket.socket) -> None:
        self.proxy = proxy
        self.number = number
        self.client = client
        self.upstream: socket.socket | None = None
        #: Set to end this link now (proxy stopping or going down).
        self.cancel = threading.Event()
        self._splitter = RequestSplitter(FAULT_HEADER)
        self._selector = selectors.DefaultSelector()
        self._write_waiter = selectors.DefaultSelector()
        self._requests = 0
        self._raw_started = False
        self._reset = False
        self._hanging = False
        self._hang_until: float | None = None
        # Response shaping for the current request.
        self._latency_s = 0.0
        self._rate: float | None = None  # bytes per second
        self._paced_since: float | None = None  # set by the first paced byte
        self._paced_bytes = 0
        self._limit_left: int | None = None

    def run(self) -> None:
        try:
            self._run()
        except (_Done, OSError):
            pass
        except Exception as exc:  # never a traceback in the cell: say it in the journal
            self._record(None, (), "", note=f"error interno del proxy: {exc!r}")
        finally:
            self._close()
            self.proxy._forget(self)

    def _run(self) -> None:
        self.client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.proxy.server_ssl is not None:
            self.client = self._handshake(self.proxy.server_ssl)
        self.client.setblocking(False)
        try:
            self.upstream = socket.create_connection(self.proxy.upstream, _CONNECT_TIMEOUT_S)
        except OSError:
            self._record(None, (), "", note="el servidor de destino no acepta conexiones")
            raise _Done from None
        if self.proxy.upstream_ssl is not None:
            try:
                self.upstream = self.proxy.upstream_ssl.wrap_socket(
                    self.upstream, server_hostname=self.proxy.upstream[0]
                )
            except (ssl.SSLError, ssl.CertificateError) as exc:
                self._record(None, (), "", note=f"TLS con el servidor de destino: {exc}")
                raise _Done from None
        self.upstream.setblocking(False)
        self.upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._selector.register(self.client, selectors.EVENT_READ, "client")
        self._selector.register(self.upstream, selectors.EVENT_READ, "upstream")
        while not self.cancel.is_set():
            if self._hang_until is not None and time.monotonic() >= self._hang_until:
                return
            for key, _ in self._selector.select(_POLL_S):
                if self.cancel.is_set():
                    return  # going down or stopping: forward nothing more
                sock = self._socket(key.data)
                if sock is None:
                    continue  # upstream dropped by a fault earlier in this batch
                try:
                    data = _read(sock)
                except _WOULD_BLOCK:
                    continue
                if key.data == "client":
                    self._from_client(data)
                else:
                    self._from_upstream(data)

    def _socket(self, side: str) -> socket.socket | None:
        """The live socket of ``side``; the upstream one is gone after a fault."""
        return self.client if side == "client" else self.upstream

    def _handshake(self, context: ssl.SSLContext) -> ssl.SSLSocket:
        """Server-side TLS handshake, non-blocking so that stop() can interrupt it."""
        self.client.setblocking(False)
        tls = context.wrap_socket(self.client, server_side=True, do_handshake_on_connect=False)
        self.client = tls  # from here on, close the wrapper
        deadline = time.monotonic() + _HANDSHAKE_TIMEOUT_S
        with selectors.DefaultSelector() as waiter:
            while True:
                try:
                    tls.do_handshake()
                    return tls
                except ssl.SSLWantReadError:
                    event = selectors.EVENT_READ
                except ssl.SSLWantWriteError:
                    event = selectors.EVENT_WRITE
                except (ssl.SSLError, OSError) as exc:
                    # Typically a client that does not trust the CA: worth a line.
                    self._record(None, (), "", note=f"TLS con el cliente: {exc}")
                    raise _Done from None
                if self.cancel.is_set() or time.monotonic() > deadline:
                    raise _Done
                waiter.register(tls, event)
                waiter.select(_POLL_S)
                waiter.unregister(tls)

    # -- client to upstream ------------------------------------------------

    def _from_client(self, data: bytes) -> None:
        if not data:
            if self._hanging or self.upstream is None:
                raise _Done  # the client gave up
            # Half-close: pass the client's FIN on and keep relaying the answer.
            self._selector.unregister(self.client)
            with contextlib.suppress(OSError):
                self.upstream.shutdown(socket.SHUT_WR)
            return
        if self._hanging:
            return  # a hung server reads nothing
        pieces = self._splitter.feed(data)
        if self._splitter.passthrough and self._splitter.heads_seen == 0 and not self._raw_started:
            self._raw_started = True  # not HTTP: the whole connection is one exchange
            if not self._begin(None):
                return
        for piece in pieces:
            if isinstance(piece, RequestHead):
                if not self._begin(piece):
                    return  # hanging: this and any later bytes are swallowed
                piece = piece.forward
            assert self.upstream is not None
            self._send(self.upstream, piece)

    def _begin(self, head: RequestHead | None) -> bool:
        """Choose and start the faults of one request (or one opaque stream).

        Returns whether the request goes on to the upstream (False: hanging);
        the other terminal faults end the link by raising :class:`_Done`.
        """
        if head is not None:
            self._requests += 1
        faults: tuple[SocketFault, ...]
        if head is not None and head.fault is not None:
            try:
                faults = (parse_fault_header(head.fault),)
            except ValueError as exc:
                self._record(head, (), "header", note=str(exc))
                self._reply_bad_request(str(exc))
            source = "header"
        else:
            faults = self.proxy.faults.take()
            source = "rule" if faults else ""
        self._record(head, faults, source)

        self._latency_s = sum(f.ms for f in faults if f.kind == "latency") / 1000
        rates = [f.kbps * 1000 for f in faults if f.kind == "bandwidth"]
        self._rate = min(rates) if rates else None
        self._paced_since, self._paced_bytes = None, 0
        limits = [f.limit_bytes for f in faults if f.limit_bytes is not None]
        self._limit_left = min(limits) if limits else None

        terminal = next((f for f in faults if f.terminal), None)
        if terminal is not None:
            self._terminate(terminal)
        return not self._hanging

    def _terminate(self, fault: SocketFault) -> None:
        """Apply reset, empty, garbage or hang; the request is never forwarded."""
        if self.upstream is not None:
            self._selector.unregister(self.upstream)
            self.upstream.close()
            self.upstream = None
        if fault.kind == "reset":
            self._reset = True
            raise _Done
        if fault.kind == "garbage":
            self._send(self.client, GARBAGE)
            raise _Done
        if fault.kind == "empty":
            raise _Done
        self._hanging = True
        if fault.ms:
            self._hang_until = time.monotonic() + fault.ms / 1000

    def _reply_bad_request(self, message: str) -> NoReturn:
        body = f"El proxy de fallos no entiende la cabecera {FAULT_HEADER}: {message}\n".encode()
        head = (
            "HTTP/1.1 400 Bad Request\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        ).encode("ascii")
        self._send(self.client, head + body)
        raise _Done

    # -- upstream to client ------------------------------------------------

    def _from_upstream(self, data: bytes) -> None:
        if not data:
            raise _Done  # the server closed: HTTP servers close both ways
        if self._latency_s:
            self._wait(self._latency_s)
            self._latency_s = 0.0
        cut = False
        if self._limit_left is not None:
            data = data[: self._limit_left]
            self._limit_left -= len(data)
            cut = self._limit_left == 0
        if self._rate is None:
            self._send(self.client, data)
        else:
            step = max(1, int(self._rate * _PACE_SLICE_S))
            if self._paced_since is None:
                self._paced_since = time.monotonic()
            for start in range(0, len(data), step):
                piece = data[start : start + step]
                self._send(self.client, piece)
                self._paced_bytes += len(piece)
                due = self._paced_since + self._paced_bytes / self._rate
                self._wait(due - time.monotonic())
        if cut:
            raise _Done

    # -- helpers -----------------------------------------------------------

    def _send(self, sock: socket.socket, data: bytes) -> None:
        """``sendall`` on a non-blocking socket that gives up when the link is cancelled.

        A client that stops reading thus pins nothing: the wait for room in its
        buffer is checked against :attr:`cancel` every poll interval.
        """
        view = memoryview(data)
        while view:
            if self.cancel.is_set():
                raise _Done
            try:
                sent = sock.send(view)
            except _WOULD_BLOCK:
                self._write_waiter.register(sock, selectors.EVENT_WRITE)
                try:
                    self._write_waiter.select(_POLL_S)
                finally:
                    self._write_waiter.unregister(sock)
                continue
            view = view[sent:]

    def _wait(self, seconds: float) -> None:
        if seconds > 0 and self.cancel.wait(seconds):
            raise _Done

    def _record(
        self,
        head: RequestHead | None,
        faults: tuple[SocketFault, ...],
        source: str,
        note: str = "",
    ) -> None:
        self.proxy._record(
            ProxyEvent(
                at=self.proxy.clock.now(),
                connection=self.number,
                request=self._requests if head is not None else 0,
                method=head.method if head is not None else "",
                target=head.target if head is not None else "",
                faults=tuple(str(f) for f in faults),
                source=source,
                note=note,
            )
        )

    def _close(self) -> None:
        self._selector.close()
        self._write_waiter.close()
        if self.upstream is not None:
            self.upstream.close()
        client = self.client
        with contextlib.suppress(OSError):
            if self._reset:
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
            else:
                # Unread bytes at close() make the kernel send RST instead of
                # FIN; drain them so "empty" and "garbage" end cleanly.
                client.setblocking(False)
                with contextlib.suppress(OSError):
                    while client.recv(_CHUNK):
                        pass
                client.shutdown(socket.SHUT_WR)
        client.close()


def _read(sock: socket.socket) -> bytes:
    """One ``recv``, plus whatever TLS already decrypted and buffered.

    A TLS socket can hold decrypted bytes that no longer show as readable to
    the selector; leaving them would stall the stream until more data came.
    """
    data = sock.recv(_CHUNK)
    if isinstance(sock, ssl.SSLSocket):
        while data and sock.pending():
            data += sock.recv(sock.pending())
    return data
