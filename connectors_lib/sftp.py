"""``SFTPConnector``: SFTP on paramiko, strict about host keys, safe about files, fast.

Three lines for the common case::

    sftp = SFTPConnector(host, port, "robot", private_key_path=key, known_hosts_path=kh)
    for remote in sftp.new_files("/exportes/*.csv", since=store):
        sftp.download(remote.path, destino / remote.name); sftp.commit(store, [remote])

What it promises, and why:

* **Host keys are checked, always.** The key the server presents must be in a
  ``known_hosts`` file (``~/.ssh/known_hosts`` unless told otherwise) or match
  a pinned SHA-256 fingerprint (``ssh-keygen -lf`` format). An unknown or
  changed key raises :class:`SFTPHostKeyError` with both fingerprints and what
  to check; there is no ``AutoAddPolicy`` (trusting the first key you see is
  exactly what a man in the middle relies on).
* **A file is never half-written under its final name.** Downloads go to
  ``local + ".part"``, are checked (size, optional SHA-256) and only then
  ``os.replace``-d; a failed download keeps the ``.part`` to resume from, and
  the ``.part``'s mtime records which version of the remote file it holds, so
  a file that changed meanwhile is fetched again from byte 0. Uploads go to a
  hidden temporary name in the target folder and are ``posix_rename``-d over
  the final name (plain SFTP ``rename`` refuses to overwrite).
* **Dropped connections resume.** A transfer that loses its connection is
  retried by :func:`~connectors_lib.retry.run_with_retry` (the trace is in the
  result): reconnect, then continue from the bytes already on disk.
* **Files still being written are not read.** :meth:`SFTPConnector.wait_until_stable`
  polls size and mtime on the injected clock until they settle; a download
  also compares them after reading and refuses a file that changed meanwhile.
* **Incremental pick-up** by ``(mtime, path)``: :class:`Watermark` remembers the
  newest mtime handled and the paths handled at exactly that mtime, so ties
  are neither skipped nor repeated; it lives in a
  :class:`~connectors_lib.state.CheckpointStore`.
* **Fast.** A download keeps a few large reads in flight from the calling
  thread, uploads pipeline their writes, and AES-GCM is preferred; every knob
  is in :class:`TransferTuning`, measured in ``benchmarks/README.md``.

This module is the connector and the public surface; the parts it is built
from live in private modules, one concept each, and their public names are
re-exported here:

* ``_sftp_errors``: the error classes below;
* ``_sftp_hostkeys``: known_hosts lookup, pinned fingerprints, :func:`fingerprint_sha256`;
* ``_sftp_session``: connect, verify, authenticate; paramiko failures mapped to the tree;
* ``_sftp_pickup``: :class:`RemoteFile`, :class:`StabilityCheck`, :class:`Watermark`;
* ``_sftp_transfer``: :class:`TransferTuning`, the read pipeline, ``.part`` resume and checks.

The error tree (all :class:`~connectors_lib.errors.SFTPError`)::

    SFTPError
    ├── SFTPHostKeyError        unknown, changed or non-matching host key (never retried)
    ├── SFTPAuthError           wrong user, password or key (never retried)
    ├── SFTPConnectionError     could not connect, or the connection dropped (retried)
    ├── SFTPPermissionError     the server refused the path (PERMISSION_DENIED)
    ├── SFTPNotFoundError       no such remote path
    ├── SFTPFileChangedError    the file did not settle, or changed while being read
    └── SFTPIntegrityError      size or SHA-256 of the transfer does not match
"""

from __future__ import annotations

import builtins
import contextlib
import os
import posixpath
import random
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import paramiko

from connectors_lib._sftp_errors import (
    SFTPAuthError,
    SFTPConnectionError,
    SFTPFileChangedError,
    SFTPHostKeyError,
    SFTPIntegrityError,
    SFTPNotFoundError,
    SFTPPermissionError,
)
from connectors_lib._sftp_hostkeys import HostKeyTrust, fingerprint_sha256
from connectors_lib._sftp_pickup import (
    DEFAULT_STABILITY,
    RemoteFile,
    StabilityCheck,
    Watermark,
    matching,
    poll_until_stable,
)
from connectors_lib._sftp_session import (
    REMOTE_FAILURES,
    display_address,
    map_failure,
    open_session,
)
from connectors_lib._sftp_transfer import (
    DEFAULT_TUNING,
    DownloadResult,
    TransferTuning,
    read_range,
    resume_offset,
    verify_part,
    write_file,
)
from connectors_lib.clock import Clock, SystemClock
from connectors_lib.retry import RetryPolicy, run_with_retry
from connectors_lib.state import CheckpointStore

__all__ = [
    "DEFAULT_SFTP_RETRY",
    "DEFAULT_STABILITY",
    "DEFAULT_TUNING",
    "DownloadResult",
    "RemoteFile",
    "SFTPAuthError",
    "SFTPConnectionError",
    "SFTPConnector",
    "SFTPFileChangedError",
    "SFTPHostKeyError",
    "SFTPIntegrityError",
    "SFTPNotFoundError",
    "SFTPPermissionError",
    "StabilityCheck",
    "TransferTuning",
    "Watermark",
    "fingerprint_sha256",
]

#: Retry only lost connections (host key, auth, permissions never heal by waiting).
#: No total deadline: a long transfer is legitimate; ``attempts`` bounds the loop.
DEFAULT_SFTP_RETRY = RetryPolicy(
    retry_on_status=frozenset(),
    retry_on_exceptions=(SFTPConnectionError,),
    attempts=5,
    initial_wait=1.0,
    max_wait=30.0,
    deadline=None,
)


class SFTPConnector:
    """An SFTP client that checks host keys, resumes, verifies and never half-writes.

    Give ``password`` or ``private_key_path`` (not both), and ``known_hosts_path``
    or ``host_key_fingerprint`` (not both; neither = ``~/.ssh/known_hosts``).
    ``clock`` paces stability polls and retry waits (inject the lab's
    ``VirtualClock`` in lessons); ``retry`` says which failures are retried;
    ``tuning`` sets transfer sizes and ciphers; ``timeout`` bounds connecting
    and each wait for the server (seconds); ``rng`` draws the retry jitter.
    The connection opens on first use and is reused; ``close()`` or a ``with``
    block ends it. Not thread-safe: one connector per thread.
    """

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        *,
        password: str | None = None,
        private_key_path: str | os.PathLike[str] | None = None,
        known_hosts_path: str | os.PathLike[str] | None = None,
        host_key_fingerprint: str | None = None,
        clock: Clock | None = None,
        retry: RetryPolicy = DEFAULT_SFTP_RETRY,
        tuning: TransferTuning = DEFAULT_TUNING,
        timeout: float = 30.0,
        rng: random.Random | None = None,
    ) -> None:
        if not username:
            raise ValueError("SFTPConnector: indica el usuario (username)")
        if (password is None) == (private_key_path is None):
            raise ValueError(
                "SFTPConnector: da password o private_key_path (uno de los dos, no ambos)"
            )
        self._trust = HostKeyTrust.choose(known_hosts_path, host_key_fingerprint)
        self.host, self.port, self.username = host, port, username
        self._password = password
        self._key_path = None if private_key_path is None else Path(private_key_path)
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.retry = retry
        self.tuning = tuning
        self.timeout = timeout
        self._rng = rng if rng is not None else random.Random()
        self._transport: paramiko.Transport | None = None
        self._sftp: paramiko.SFTPClient | None = None

    # -- connection -----------------------------------------------------------------------------

    @property
    def _where(self) -> str:
        """The server as messages name it (``[host]:port``, loopback port hidden)."""
        return display_address(self.host, self.port)

    def connect(self) -> None:
        """Open the connection now (otherwise the first operation does it); no-op if open.

        Raises :class:`SFTPConnectionError` (unreachable, not SSH, no SFTP
        subsystem), :class:`SFTPHostKeyError` or :class:`SFTPAuthError`; on any
        failure nothing stays open.
        """
        if self._sftp is not None and self._transport is not None and self._transport.is_active():
            return
        self.close()
        self._transport, self._sftp = open_session(
            self.host,
            self.port,
            self.username,
            password=self._password,
            key_path=self._key_path,
            trust=self._trust,
            tuning=self.tuning,
            timeout=self.timeout,
        )

    def close(self) -> None:
        """Close the connection (idempotent)."""
        if self._sftp is not None:
            with contextlib.suppress(Exception):
                self._sftp.close()
        if self._transport is not None:
            self._transport.close()
        self._sftp, self._transport = None, None

    def __enter__(self) -> SFTPConnector:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:  # never the password
        trust = "huella fijada" if self._trust.pinned else "known_hosts"
        return f"SFTPConnector({self.username}@{self._where}, {trust})"

    def _client(self) -> paramiko.SFTPClient:
        """The open SFTP session, connecting (or reconnecting after a drop) first."""
        self.connect()
        assert self._sftp is not None
        return self._sftp

    def _fail(self, problem: BaseException, path: str) -> NoReturn:
        """Map a paramiko/OS failure on ``path`` to our tree (the original as ``__cause__``).

        A lost connection is closed here, so the next operation (the retry)
        reconnects instead of reusing a dead session.
        """
        alive = (
            self._transport is not None
            and self._transport.is_active()
            and self._sftp is not None
            and not self._sftp.sock.closed  # "Socket is closed": the server ended the session
        )
        error = map_failure(problem, path, alive=alive, where=self._where)
        if isinstance(error, SFTPConnectionError):
            self.close()
        raise error from problem

    # -- listing and state ----------------------------------------------------------------------

    def stat(self, path: str) -> RemoteFile:
        """Size and UTC mtime of one remote file."""
        try:
            attrs = self._client().stat(path)
        except REMOTE_FAILURES as problem:
            self._fail(problem, path)
        return RemoteFile.from_attributes(path, attrs)

    def list(self, pattern: str = "/*") -> builtins.list[RemoteFile]:
        """Regular files matching ``pattern`` (a glob on the last component), by (mtime, path).

        ``"/exportes/*.csv"`` lists ``/exportes`` and keeps the names matching
        ``*.csv``. Hidden names (starting with ``.``, like our upload temporaries)
        are skipped unless the glob itself starts with a dot.
        """
        folder, glob = posixpath.split(pattern)
        folder = folder or "."
        try:
            entries = self._client().listdir_attr(folder)
        except REMOTE_FAILURES as problem:
            self._fail(problem, folder)
        return matching(folder, entries, glob)

    def new_files(
        self, pattern: str = "/*", *, since: Watermark | CheckpointStore | None = None
    ) -> builtins.list[RemoteFile]:
        """Files matching ``pattern`` not handled yet according to ``since``, by (mtime, path).

        Nothing is recorded here: call :meth:`commit` after handling each file,
        so a crash in between re-delivers that file instead of losing it.
        """
        if since is None:
            mark = Watermark()
        elif isinstance(since, Watermark):
            mark = since
        else:
            mark = Watermark.from_state(since.load())
        return [remote for remote in self.list(pattern) if mark.is_new(remote)]

    def commit(self, store: CheckpointStore, handled: Sequence[RemoteFile]) -> Watermark:
        """Advance the watermark saved in ``store`` past ``handled``; returns the new one."""
        mark = Watermark.from_state(store.load()).advance(handled)
        store.save(mark.to_state(), saved_at=self.clock.now())
        return mark

    def wait_until_stable(self, path: str, check: StabilityCheck = DEFAULT_STABILITY) -> RemoteFile:
        """Poll ``path`` until size and mtime stay equal for ``check.polls`` polls.

        Waits on the connector's clock; raises :class:`SFTPFileChangedError`
        after ``check.timeout`` seconds without settling.
        """
        return poll_until_stable(self.stat, path, check, self.clock)

    def published_sha256(self, path: str, *, suffix: str = ".sha256") -> str:
        """The hex digest published beside ``path`` (``sha256sum`` format: ``<hex>  name``).

        Reads ``path + suffix`` (first 4 KiB); a file that does not start with
        64 hex digits raises :class:`SFTPIntegrityError`.
        """
        try:
            with self._client().open(path + suffix, "rb") as handle:
                head = handle.read(4096)
        except REMOTE_FAILURES as problem:
            self._fail(problem, path + suffix)
        text = head.decode("ascii", "replace").split()
        digest = text[0].lower() if text else ""
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise SFTPIntegrityError(
                "El fichero de suma no tiene el formato de sha256sum ('<64 hex>  nombre').",
                path=path + suffix,
            )
        return digest

    # -- download -------------------------------------------------------------------------------

    def download(
        self,
        remote: str,
        local: str | os.PathLike[str],
        *,
        sha256: str | None = None,
        stability: StabilityCheck | None = DEFAULT_STABILITY,
    ) -> DownloadResult:
        """Fetch ``remote`` into ``local`` safely; resume from ``local + '.part'`` if present.

        ``stability`` (``None`` = skip) waits for the file to settle first;
        ``sha256`` (hex) is checked before the final name appears. On failure
        the final name is untouched and the ``.part`` stays for the next call
        (except after a size or SHA-256 mismatch, when it is deleted: those
        bytes are not worth resuming from). A local disk error (full disk,
        quota) raises its own ``OSError``, unretried, and keeps the ``.part``.
        """
        target = Path(local)
        part = target.with_name(target.name + ".part")
        target.parent.mkdir(parents=True, exist_ok=True)
        if stability is not None:
            self.wait_until_stable(remote, stability)
        offsets: builtins.list[int] = []

        def attempt(_: int) -> RemoteFile:
            before = self.stat(remote)
            start = resume_offset(part, before)
            offsets.append(start)
            self._fetch(remote, part, before, start)
            after = self.stat(remote)
            if (after.size, after.mtime) != (before.size, before.mtime):
                raise SFTPFileChangedError(
                    f"El fichero cambió mientras se leía ({before.size} → {after.size} B). "
                    "Espera a que el emisor termine (StabilityCheck) y vuelve a descargar; "
                    "lo leído no se da por bueno.",
                    path=remote,
                )
            return before

        result = run_with_retry(attempt, self.retry, clock=self.clock, rng=self._rng)
        info = result.value
        digest = verify_part(part, info, sha256, remote)
        os.replace(part, target)
        return DownloadResult(info, target, tuple(offsets), digest, result.trace)

    def _fetch(self, remote: str, part: Path, info: RemoteFile, start: int) -> None:
        """Append bytes ``[start, size)`` of ``remote`` to ``part``, stamping its version.

        Remote failures are mapped by :meth:`_fail`; a local disk error (full
        disk, quota) stays the ``OSError`` it is, and is not retried.
        """
        local_failed = False

        def write(data: bytes) -> None:
            nonlocal local_failed
            try:
                sink.write(data)
            except OSError:
                local_failed = True
                raise

        try:
            with part.open("r+b" if start else "wb") as sink:
                sink.seek(start)
                sink.truncate()
                try:
                    client = self._client()
                    with client.open(remote, "rb") as handle:
                        read_range(client, handle, start, info.size, self.tuning, write)
                except REMOTE_FAILURES as problem:
                    if local_failed:  # our disk, not the server: "the server said" would mislead
                        raise
                    self._fail(problem, remote)
        finally:
            # The mtime of the .part says which version of the remote it holds (see module doc).
            with contextlib.suppress(OSError):
                os.utime(part, (info.mtime_epoch, info.mtime_epoch))

    # -- upload ---------------------------------------------------------------------------------

    def upload(self, local: str | os.PathLike[str], remote: str) -> RemoteFile:
        """Send ``local`` to ``remote`` atomically: hidden temp name, size check, rename.

        A concurrent reader sees the old file or the whole new one, never a
        part. A dropped connection is retried from the start under a new temp
        name; the previous temp is removed once reconnected. A local problem
        (missing or unreadable ``local``) raises its own ``OSError``, unretried.
        """
        source = Path(local)
        size = source.stat().st_size
        folder, name = posixpath.split(remote)
        leftovers: builtins.list[str] = []

        def attempt(_: int) -> RemoteFile:
            client = self._client()
            for stale in leftovers:
                with contextlib.suppress(*REMOTE_FAILURES):
                    client.remove(stale)
            leftovers.clear()
            # Random per attempt: neither a concurrent upload of the same file nor
            # writes the server still drains from a dropped session share our temp.
            temp = posixpath.join(folder, f".{name}.{secrets.token_hex(4)}.part")
            # Opened outside the mapping below: a local problem (a folder, no read
            # permission) is the caller's OSError, not "the server refused".
            with source.open("rb") as reader:
                leftovers.append(temp)
                try:
                    write_file(client, reader, temp, self.tuning.write_request_size)
                    sent = client.stat(temp).st_size
                    if sent != size:
                        raise SFTPIntegrityError(
                            f"La subida quedó incompleta ({sent} de {size} B); no se publica. "
                            "Vuelve a intentarlo.",
                            path=remote,
                        )
                    client.posix_rename(temp, remote)
                    leftovers.clear()
                    return RemoteFile.from_attributes(remote, client.stat(remote))
                except REMOTE_FAILURES as problem:
                    self._fail(problem, remote)

        try:
            return run_with_retry(attempt, self.retry, clock=self.clock, rng=self._rng).value
        finally:
            # Best effort, and only on a live connection (never a new connect that could
            # hang for ``timeout``): a leftover temp is hidden from list() anyway.
            client = self._sftp
            if client is not None:
                for stale in leftovers:
                    with contextlib.suppress(Exception):
                        client.remove(stale)
