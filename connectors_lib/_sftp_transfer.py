"""Moving bytes for :class:`~connectors_lib.sftp.SFTPConnector`: fast, resumable, verified.

Private module (the public names are re-exported by :mod:`connectors_lib.sftp`).

Speed (figures in ``benchmarks/README.md``, from ``bench_sftp_connector.py``):
paramiko's own ``get`` prefetches with a helper thread that, when bounded,
sleeps 10 ms each time the limit is reached (64 in flight: ~5 MB/s), and
unbounded queues a request for every 32 KiB of the file at once. Here a
download keeps a few large reads in flight from the calling thread
(:class:`TransferTuning`: 8 x 128 KiB), uploads pipeline 128 KiB writes, and
AES-GCM is preferred over AES-CTR + HMAC. The read pipeline needs three of
paramiko's internal methods (``_async_request``, ``_read_response`` and
``_convert_status``), wrapped in one small class (:class:`ReadPipeline`) so
that a paramiko change breaks one place.

Safety: a download is written to a ``.part`` file whose mtime records which
version of the remote file it holds; :func:`resume_offset` keeps its bytes only
for that same version, and :func:`verify_part` checks size and SHA-256 before
the connector gives it its final name.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol, cast

import paramiko
from paramiko.sftp import CMD_DATA, CMD_READ, CMD_STATUS, SFTP_EOF, int64

from connectors_lib._sftp_errors import SFTPIntegrityError
from connectors_lib._sftp_pickup import RemoteFile
from connectors_lib.retry import RetryDecision

__all__ = [
    "DEFAULT_TUNING",
    "DownloadResult",
    "ReadPipeline",
    "TransferTuning",
    "read_range",
    "resume_offset",
    "verify_part",
    "write_file",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferTuning:
    """paramiko settings for throughput; every default was measured (see module doc).

    ``window_size`` and ``max_packet_size`` are the SSH channel's flow-control
    window and largest packet; ``read_request_size`` the bytes asked per SFTP
    READ; ``max_requests`` how many READs are in flight at once;
    ``write_request_size`` the bytes per pipelined SFTP WRITE; ``ciphers`` the
    preference order (those paramiko lacks are skipped).
    """

    #: 2 MiB, paramiko's default. Larger windows gave nothing here, and 32 MiB
    #: made paramiko's own get() crawl (17-37 MB/s): its transport thread buffers
    #: more and fights the reader for the GIL.
    window_size: int = 2 * 1024 * 1024
    #: 32 KiB, what OpenSSH advertises; 64 KiB measured no faster.
    max_packet_size: int = 32 * 1024
    #: 128 KiB per READ: 2-2.5x the throughput of 32 KiB (fewer Python round
    #: trips per byte). A server that grants less answers short and the pipeline
    #: adapts to its cap, so this is safe with any server.
    read_request_size: int = 128 * 1024
    #: 8 READs in flight (1 MiB outstanding): fastest on loopback; 32 or 64 only
    #: queue replies in paramiko's thread (-25 to -45%). On a long link keep
    #: ``max_requests * read_request_size`` >= bandwidth x round-trip time.
    max_requests: int = 8
    #: 128 KiB per pipelined WRITE: ~1.5x 32 KiB. OpenSSH and the lab accept up
    #: to ~255 KiB (256 KiB made sshd drop the connection); the SFTP draft only
    #: guarantees 32 KiB, so for an unknown server that refuses, use 32 * 1024.
    write_request_size: int = 128 * 1024
    #: AES-GCM first: one C call per packet, where paramiko's first choice (AES-CTR)
    #: adds a per-packet HMAC in Python. No CBC or 3DES at all (weak, and slower).
    ciphers: tuple[str, ...] = (
        "aes128-gcm@openssh.com",
        "aes256-gcm@openssh.com",
        "aes128-ctr",
        "aes256-ctr",
    )

    def __post_init__(self) -> None:
        sizes = (self.window_size, self.max_packet_size, self.read_request_size)
        if min(*sizes, self.max_requests, self.write_request_size) < 1:
            raise ValueError("TransferTuning: todos los valores deben ser positivos")
        if not self.ciphers:
            raise ValueError("TransferTuning: indica al menos un cifrado")


DEFAULT_TUNING = TransferTuning()


@dataclass(frozen=True, slots=True)
class DownloadResult:
    """What :meth:`SFTPConnector.download <connectors_lib.sftp.SFTPConnector.download>` did.

    ``offsets`` holds the byte each attempt started from (``(0, 8388608)``: one
    drop, then a resume); ``sha256`` is the verified digest when one was asked;
    ``trace`` the retry loop's decisions.
    """

    remote: RemoteFile
    local: Path
    offsets: tuple[int, ...]
    sha256: str | None
    trace: tuple[RetryDecision, ...]

    @property
    def resumed(self) -> bool:
        """True when some bytes came from an earlier, interrupted attempt."""
        return any(offset > 0 for offset in self.offsets)


# --- the pipelined reader ----------------------------------------------------------------------


class _SFTPWire(Protocol):
    """The internal paramiko methods the pipeline needs (absent from the stubs)."""

    def _async_request(self, fileobj: object, t: int, *args: object) -> int: ...
    def _read_response(self, waitfor: int | None = None) -> tuple[int | None, Any]: ...
    def _convert_status(self, msg: paramiko.Message) -> None: ...


class ReadPipeline:
    """Keeps ``depth`` READ requests in flight on one open file, from the calling thread.

    paramiko calls :meth:`_async_response` for each reply while we pump
    ``_read_response``; replies are kept by request number and consumed in
    file order, so memory stays at ``depth * request_size`` bytes. A server
    that answers less than asked (its own read limit) makes :meth:`run` stop
    early and record that size in :attr:`limit`; the caller goes on with it.
    """

    def __init__(self, sftp: paramiko.SFTPClient, handle: bytes) -> None:
        self._wire = cast(_SFTPWire, sftp)
        self._handle = handle
        self._replies: dict[int, tuple[int, paramiko.Message]] = {}
        #: The largest read the server granted when it answered short (None = no cap seen).
        self.limit: int | None = None

    def _async_response(self, t: int, msg: paramiko.Message, num: int) -> None:
        # The callback paramiko's _read_response makes on the object passed to
        # _async_request (the name is paramiko's contract, as in SFTPFile).
        self._replies[num] = (t, msg)

    def run(
        self, start: int, end: int, request_size: int, depth: int, sink: Callable[[bytes], object]
    ) -> int:
        """Read ``[start, end)`` into ``sink`` in order; returns the next offset (EOF-aware).

        The result is below ``end`` when the file ended early, or when a short
        reply set :attr:`limit` (call again from the result with that size).
        A server error status is raised as paramiko maps it (``IOError``).
        """
        pending: deque[tuple[int, int, int]] = deque()
        offset, position = start, start
        while pending or offset < end:
            while offset < end and len(pending) < depth:
                length = min(request_size, end - offset)
                num = self._wire._async_request(
                    self, CMD_READ, self._handle, int64(offset), int(length)
                )
                pending.append((num, offset, length))
                offset += length
            num, at, length = pending.popleft()
            while num not in self._replies:
                self._wire._read_response()
            kind, msg = self._replies.pop(num)
            if kind == CMD_STATUS:
                if msg.get_int() == SFTP_EOF:  # paramiko already read the request id
                    self._drain(pending)
                    return position  # the file is shorter than announced
                msg.rewind()
                msg.get_int()
                self._drain(pending)
                self._wire._convert_status(msg)  # raises the mapped IOError
            if kind != CMD_DATA:
                raise paramiko.SSHException(f"respuesta SFTP inesperada {kind} a READ")
            data = msg.get_string()
            if at != position:  # an earlier short read left a gap: the caller asks again
                self._drain(pending)
                return position
            sink(data)
            position += len(data)
            if len(data) < length:  # the server's read cap: stop, the caller adapts
                self.limit = len(data)
                self._drain(pending)
                return position
        return position

    def _drain(self, pending: deque[tuple[int, int, int]]) -> None:
        """Collect the replies still owed, so the session stays in sync for the next call."""
        while pending:
            num = pending.popleft()[0]
            while num not in self._replies:
                self._wire._read_response()
            del self._replies[num]


def read_range(
    sftp: paramiko.SFTPClient,
    handle: paramiko.SFTPFile,
    start: int,
    end: int,
    tuning: TransferTuning,
    sink: Callable[[bytes], object],
) -> int:
    """Feed bytes ``[start, end)`` of the open remote ``handle`` to ``sink``, in order.

    Returns the offset reached: ``end``, or less when the file is shorter than
    announced (the caller's size check then refuses it). paramiko and OS errors
    propagate for the caller to map.
    """
    pipeline = ReadPipeline(sftp, cast(bytes, handle.handle))
    position = start
    while position < end:
        size = min(tuning.read_request_size, pipeline.limit or end)
        reached = pipeline.run(position, end, size, tuning.max_requests, sink)
        if reached == position:  # EOF before the announced size
            break
        position = reached
    return position


def write_file(sftp: paramiko.SFTPClient, reader: BinaryIO, remote: str, step: int) -> None:
    """Copy ``reader`` to ``remote`` (created or truncated) with pipelined WRITEs of ``step``.

    Pipelined: paramiko sends the writes without waiting for each status and
    checks them all on close, so a refused write raises there.
    """
    with sftp.open(remote, "wb") as writer:
        writer.set_pipelined(True)
        # paramiko splits writes at MAX_REQUEST_SIZE; the instance value overrides it.
        writer.MAX_REQUEST_SIZE = step
        while chunk := reader.read(step * 8):
            writer.write(chunk)


# --- the .part file ----------------------------------------------------------------------------


def resume_offset(part: Path, remote: RemoteFile) -> int:
    """Bytes of ``part`` we can keep: all of them if it is from this version and not too long.

    The version is the remote mtime the connector stamps on the ``.part``
    (whole seconds, as SFTP v3 reports them); no ``.part`` means 0.
    """
    try:
        local = part.stat()
    except FileNotFoundError:
        return 0
    same_version = int(local.st_mtime) == int(remote.mtime_epoch)
    return local.st_size if same_version and local.st_size <= remote.size else 0


def verify_part(part: Path, remote: RemoteFile, sha256: str | None, path: str) -> str | None:
    """Check size and (optionally) SHA-256 of ``part``; a mismatch deletes it (not resumable).

    Returns the verified hex digest, or ``None`` when no ``sha256`` was asked.
    ``path`` is the remote path named in the :class:`SFTPIntegrityError`.
    """
    size = part.stat().st_size
    if size != remote.size:
        part.unlink()
        raise SFTPIntegrityError(
            f"Tamaño descargado {size} B distinto del anunciado {remote.size} B. El .part "
            "se ha borrado; vuelve a descargar.",
            path=path,
        )
    if sha256 is None:
        return None
    digest = hashlib.sha256()
    with part.open("rb") as handle:
        while block := handle.read(1024 * 1024):
            digest.update(block)
    got = digest.hexdigest()
    if got != sha256.strip().lower():
        part.unlink()
        raise SFTPIntegrityError(
            f"La suma SHA-256 no coincide (esperada {sha256[:12]}…, obtenida {got[:12]}…). "
            "El .part se ha borrado; vuelve a descargar y, si se repite, avisa al emisor.",
            path=path,
        )
    return got
