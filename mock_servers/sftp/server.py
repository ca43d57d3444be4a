"""``SFTPLabServer``: the lab's SFTP server on a loopback port, in threads.

>>> server = SFTPLabServer(tmp_path, clock=VirtualClock(), seed=42)  # doctest: +SKIP
>>> server.start()                                                   # doctest: +SKIP
>>> server.info.port, server.info.host_key_fingerprint               # doctest: +SKIP

``workdir`` receives two folders: ``raiz/`` (what clients see as ``/``) and
``cliente/`` (the user's private key and a ``known_hosts`` for this server,
both owner-only). Nothing is printed or logged to the console: paramiko's log
goes to a silent logger.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path

import paramiko

from connectors_lib.clock import Clock

from .auth import LabAuthServer, LabUsers
from .faults import SFTPFaults
from .keys import LabKey, derive_key, known_hosts_line, write_private
from .seed import BIG_FILE, GROWING_FILE, SeededTree, seed_tree
from .session import SFTPSession
from .vfs import VirtualRoot

__all__ = ["SFTPInfo", "SFTPLabServer"]

_LOG_NAME = "mock_servers.sftp.paramiko"
# paramiko logs handshake errors at ERROR level; without a handler Python's
# "last resort" handler would print them into the notebook cell.
_log = logging.getLogger(_LOG_NAME)
_log.addHandler(logging.NullHandler())
_log.propagate = False

#: Channel window for uploads: 2 MiB, as OpenSSH's sshd. Measured on this
#: machine, 4 and 8 MiB were not faster (often slower: the transport thread
#: buffers more and competes with the session thread for the GIL).
WINDOW_SIZE = 2 * 1024 * 1024
#: Largest SSH packet we accept; 32 KiB is what OpenSSH itself advertises.
MAX_PACKET_SIZE = 32 * 1024
#: Ciphers offered: AES-GCM only. The client's preference decides, and OpenSSH
#: ranks aes-ctr before aes-gcm, so offering CTR would get CTR + a per-packet
#: Python HMAC (profiled: ~11% of the server's time on uploads). GCM is one
#: C call per packet and halves the server's CPU per byte. Every OpenSSH since
#: 6.2 and paramiko >= 3.5 speak it (paramiko has no chacha20-poly1305).
CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com")
#: MACs, in case CTR is ever offered again (GCM carries its own tag).
MACS = (
    "hmac-sha2-256-etm@openssh.com",
    "hmac-sha2-512-etm@openssh.com",
    "hmac-sha2-256",
    "hmac-sha2-512",
)


@dataclass(frozen=True)
class SFTPInfo:
    """How to connect: what ``lab.sftp`` shows to a lesson.

    ``password`` is a published lab credential; it is still kept out of
    ``repr`` so that printing the object never shows it.
    """

    host: str
    port: int
    username: str
    password: str = field(repr=False)
    key_username: str
    private_key_path: Path
    known_hosts_path: Path
    host_key_fingerprint: str
    #: The big file's path on the server; its SHA-256 is in ``<path>.sha256``.
    big_file: str = BIG_FILE
    #: The file "still being written" (grows one slice per lab-clock second).
    growing_file: str = GROWING_FILE


class SFTPLabServer:
    """A paramiko-based SFTP server over a seeded, confined virtual root.

    ``clock`` is the lab clock (dates of the seeded files, growth of the file
    still being written); ``seed`` fixes content and keys; ``alt_host_key``
    starts the server presenting its *other* host key.
    """

    USERNAME = "alumno"
    PASSWORD = "laboratorio-sftp"  # noqa: S105 - a published lab credential
    KEY_USERNAME = "robot"

    def __init__(
        self,
        workdir: Path,
        *,
        clock: Clock,
        seed: int = 42,
        host: str = "127.0.0.1",
        port: int = 0,
        alt_host_key: bool = False,
        window_size: int = WINDOW_SIZE,
        max_packet_size: int = MAX_PACKET_SIZE,
    ) -> None:
        self._workdir = Path(workdir)
        self._clock = clock
        self._seed = seed
        self._host = host
        self._port = port
        self._window = window_size
        self._max_packet = max_packet_size
        self.faults = SFTPFaults(other_host_key=alt_host_key)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._transports: list[paramiko.Transport] = []
        self._sessions: list[SFTPSession] = []
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._info: SFTPInfo | None = None
        self._tree: SeededTree | None = None
        self._host_key: LabKey = derive_key(seed, "host")
        self._alt_key: LabKey = derive_key(seed, "host-alternativa")
        self._user_key: LabKey = derive_key(seed, "usuario")
        self._root: VirtualRoot | None = None
        self._seeded_at = 0.0

    # -- public -------------------------------------------------------------------

    @property
    def info(self) -> SFTPInfo:
        """Connection details (after :meth:`start`)."""
        if self._info is None:
            raise RuntimeError("el servidor SFTP no está arrancado; llama antes a start()")
        return self._info

    @property
    def root_path(self) -> Path:
        """The real folder clients see as ``/`` (for tests and the instructor)."""
        return self._workdir / "raiz"

    @property
    def host_key_fingerprint(self) -> str:
        return self._host_key.fingerprint

    @property
    def other_host_key_fingerprint(self) -> str:
        """Fingerprint of the key presented when the host-key fault is on."""
        return self._alt_key.fingerprint

    def big_file_sha256(self) -> str:
        """Published SHA-256 of :attr:`SFTPInfo.big_file` (generates it on first call)."""
        if self._tree is None:
            raise RuntimeError("el servidor SFTP no está arrancado; llama antes a start()")
        return self._tree.big.sha256()

    def restart_growing_file(self) -> None:
        """Make the file "still being written" start over now (on the lab clock).

        For a lesson that reaches the stability check after earlier cells have
        already moved the clock past the end of the writing.
        """
        if self._tree is None:
            raise RuntimeError("el servidor SFTP no está arrancado; llama antes a start()")
        self._tree.growing.restart(self._clock.monotonic())

    def reset_files(self) -> None:
        """Put the served tree back as seeded: uploads gone, same dates and bytes.

        The file "still being written" starts over at the current lab time; the
        big file is generated again on its next access. Open handles of
        connected clients keep pointing at the removed files.
        """
        if self._root is None:
            raise RuntimeError("el servidor SFTP no está arrancado; llama antes a start()")
        root = self.root_path
        for child in root.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
        self._tree = seed_tree(
            root, self._seed, now=self._seeded_at, monotonic=self._clock.monotonic()
        )
        self._root.rebind((self._tree.big, self._tree.growing), self._tree.growing)

    def start(self) -> SFTPInfo:
        """Seed the root, write the client files, listen; idempotent."""
        if self._info is not None:
            return self._info
        root = self.root_path
        client = self._workdir / "cliente"
        root.mkdir(parents=True, exist_ok=True)
        client.mkdir(parents=True, exist_ok=True)
        client.chmod(0o700)
        self._seeded_at = self._clock.now()
        self._tree = seed_tree(
            root, self._seed, now=self._seeded_at, monotonic=self._clock.monotonic()
        )
        self._root = VirtualRoot(
            root,
            self.faults,
            monotonic=self._clock.monotonic,
            dynamic=(self._tree.big, self._tree.growing),
            growing=self._tree.growing,
        )
        sock = socket.create_server((self._host, self._port))
        sock.settimeout(0.2)
        self._sock = sock
        host, port = sock.getsockname()[:2]
        key_path = client / "id_ed25519"
        write_private(key_path, self._user_key.openssh_private)
        (client / "id_ed25519.pub").write_text(self._user_key.openssh_public + "\n")
        known_hosts = client / "known_hosts"
        write_private(known_hosts, known_hosts_line(host, port, self._host_key).encode())
        self._info = SFTPInfo(
            host=host,
            port=port,
            username=self.USERNAME,
            password=self.PASSWORD,
            key_username=self.KEY_USERNAME,
            private_key_path=key_path,
            known_hosts_path=known_hosts,
            host_key_fingerprint=self._host_key.fingerprint,
        )
        self._thread = threading.Thread(
            target=self._accept_loop, name="sftp-lab-accept", daemon=True
        )
        self._thread.start()
        return self._info

    def stop(self) -> None:
        """Close the port, every connection and every session; joins within ~2 s."""
        self._stop.set()
        if self._sock is not None:
            self._sock.close()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        with self._lock:
            transports, sessions = list(self._transports), list(self._sessions)
        for transport in transports:
            transport.close()
        for session in sessions:
            session.join(timeout=0.5)
        for transport in transports:
            transport.join(timeout=0.5)

    def __enter__(self) -> SFTPLabServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = f"{self._info.host}:{self._info.port}" if self._info else "sin arrancar"
        return f"SFTPLabServer({where}, seed={self._seed})"

    # -- internals ----------------------------------------------------------------

    def _accept_loop(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # listening socket closed by stop()
            try:
                self._serve(conn)
            except Exception:  # one bad handshake must not stop the lab
                conn.close()
                continue

    def _serve(self, conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport = paramiko.Transport(
            conn, default_window_size=self._window, default_max_packet_size=self._max_packet
        )
        transport.set_log_channel(_LOG_NAME)
        options = transport.get_security_options()
        options.ciphers = CIPHERS
        options.digests = MACS
        other = self.faults.state.other_host_key
        transport.add_server_key((self._alt_key if other else self._host_key).pkey)
        users = LabUsers(self.USERNAME, self.PASSWORD, self.KEY_USERNAME, self._user_key.pkey)

        def open_sftp(channel: paramiko.Channel) -> None:
            assert self._root is not None
            session = SFTPSession(
                channel,
                self._root,
                self.faults,
                self._stop,
                on_cut=lambda: _cut(conn, transport),
            )
            with self._lock:
                self._sessions = [s for s in self._sessions if s.is_alive()]
                self._sessions.append(session)
            session.start()

        with self._lock:
            self._transports = [t for t in self._transports if t.is_alive()]
            self._transports.append(transport)
        transport.start_server(
            event=threading.Event(),
            server=LabAuthServer(users, self.faults, self._stop, open_sftp),
        )


def _cut(conn: socket.socket, transport: paramiko.Transport) -> None:
    """Drop the TCP connection like a network failure would (no SSH goodbye)."""
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RDWR)
    transport.close()
