"""Opening an SFTP session, and naming what goes wrong with one.

Private module (used by :mod:`connectors_lib.sftp`). :func:`open_session` does
what ``ssh`` does before the first command, in the same order: TCP connect,
SSH negotiation with our cipher preferences, host-key check (never skipped),
authentication, then the ``sftp`` subsystem. :func:`map_failure` turns a
paramiko or OS error on a remote path into our error tree, deciding which
failures mean "the connection is gone" (retryable) and which are answers.
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import paramiko

from connectors_lib._sftp_errors import (
    SFTPAuthError,
    SFTPConnectionError,
    SFTPNotFoundError,
    SFTPPermissionError,
)
from connectors_lib._sftp_hostkeys import HostKeyTrust
from connectors_lib._sftp_transfer import TransferTuning
from connectors_lib.errors import SFTPError

__all__ = ["REMOTE_FAILURES", "display_address", "map_failure", "open_session"]

#: paramiko's log channel for our sessions (applications may configure it).
_LOG_NAME = "connectors_lib.sftp.paramiko"
# paramiko logs handshake failures at ERROR; with no handler anywhere, Python's
# "last resort" handler would print them into the notebook cell. A NullHandler
# counts as a handler, and the records still propagate to the application's.
logging.getLogger(_LOG_NAME).addHandler(logging.NullHandler())

#: Hosts whose port is hidden in messages: the lab's loopback port changes every
#: run, and a port in a stored notebook output would break its comparison.
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})

#: What a remote operation can raise before we map it (see :func:`map_failure`).
REMOTE_FAILURES = (OSError, EOFError, paramiko.SSHException)


def display_address(host: str, port: int) -> str:
    """``host`` or ``[host]:port`` as in known_hosts; a loopback port is hidden (it varies)."""
    if port == 22:
        return host
    shown = "<puerto>" if host in _LOOPBACK else str(port)
    return f"[{host}]:{shown}"


def open_session(
    host: str,
    port: int,
    username: str,
    *,
    password: str | None,
    key_path: Path | None,
    trust: HostKeyTrust,
    tuning: TransferTuning,
    timeout: float,
) -> tuple[paramiko.Transport, paramiko.SFTPClient]:
    """Connect, verify the host key, authenticate and open the ``sftp`` subsystem.

    Exactly one of ``password`` and ``key_path`` is set. ``timeout`` bounds
    the TCP connect, the SSH negotiation and every later wait on the channel.
    Raises :class:`SFTPConnectionError` (unreachable, not SSH, no SFTP),
    :class:`~connectors_lib.sftp.SFTPHostKeyError` or :class:`SFTPAuthError`;
    on any failure nothing stays open.
    """
    where = display_address(host, port)
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as problem:
        raise SFTPConnectionError(
            f"No se pudo conectar con {where} ({problem.strerror or problem}). "
            "¿Está el servidor en marcha? Revisa host, puerto y cortafuegos."
        ) from problem
    # SFTP is request/reply; Nagle's algorithm would hold small requests back.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    transport = paramiko.Transport(
        sock,
        default_window_size=tuning.window_size,
        default_max_packet_size=tuning.max_packet_size,
    )
    transport.set_log_channel(_LOG_NAME)
    try:
        options = transport.get_security_options()
        offered = [c for c in tuning.ciphers if c in transport.preferred_ciphers]
        if offered:
            options.ciphers = offered
        expected = trust.expected_keys(host, port)
        if expected:  # ask first for the key type we can verify, as OpenSSH does
            known = [k for k in options.key_types if k in expected]
            options.key_types = known + [k for k in options.key_types if k not in expected]
        try:
            transport.start_client(timeout=timeout)
        except REMOTE_FAILURES as problem:
            raise SFTPConnectionError(
                f"Falló la negociación SSH con {where} ({problem}). ¿Es un servidor "
                "SSH? Si persiste, revisa la versión y los cifrados del servidor."
            ) from problem
        trust.check(transport.get_remote_server_key(), expected, where)
        _authenticate(transport, username, password, key_path, where)
        sftp = paramiko.SFTPClient.from_transport(
            transport, window_size=tuning.window_size, max_packet_size=tuning.max_packet_size
        )
        if sftp is None:
            raise SFTPConnectionError(
                f"El servidor {where} no abrió el subsistema sftp. ¿Tiene SFTP activo?"
            )
        channel = sftp.get_channel()
        if channel is not None:  # a stalled server must not hang us forever
            channel.settimeout(timeout)
    except BaseException:
        transport.close()
        raise
    return transport, sftp


def _authenticate(
    transport: paramiko.Transport,
    username: str,
    password: str | None,
    key_path: Path | None,
    where: str,
) -> None:
    """Log in with the key at ``key_path`` or else ``password``; map refusals to our tree."""
    try:
        if key_path is not None:
            key = paramiko.PKey.from_path(key_path)
            transport.auth_publickey(username, key)
        else:
            assert password is not None
            transport.auth_password(username, password)
    except (OSError, paramiko.SSHException, ValueError) as problem:
        if isinstance(problem, paramiko.AuthenticationException):
            how = "la clave privada" if key_path else "la contraseña"
            # from None: paramiko's chain adds nothing and is long in a notebook cell.
            raise SFTPAuthError(
                f"El servidor {where} rechazó al usuario {username!r} con "
                f"{how}. Revisa usuario y credencial (reintentar igual no lo arreglará)."
            ) from None
        if key_path is not None and not transport.is_active():
            raise SFTPConnectionError(
                f"Se cortó la conexión con {where} durante la autenticación."
            ) from problem
        # The key file itself is the problem: missing, unreadable, wrong format.
        raise SFTPAuthError(
            f"No se pudo usar la clave privada ({type(problem).__name__}: {problem}). "
            "Revisa la ruta, el formato (OpenSSH) y sus permisos (0600)."
        ) from problem


def map_failure(problem: BaseException, path: str, *, alive: bool, where: str) -> SFTPError:
    """The error of our tree for ``problem`` on remote ``path`` (the caller raises it).

    ``alive`` says whether the session still looked usable. Permission and
    not-found answers win (the server did answer); then a dead session, EOF,
    a timeout or an SSH-level error is an :class:`SFTPConnectionError`, after
    which the caller must drop the session; anything else is a plain
    :class:`~connectors_lib.errors.SFTPError` with the server's words.
    """
    if isinstance(problem, PermissionError):
        return SFTPPermissionError(
            "Permiso denegado por el servidor. Pide acceso al administrador o usa una "
            "ruta a la que tu usuario tenga derecho.",
            path=path,
        )
    if isinstance(problem, FileNotFoundError):
        return SFTPNotFoundError(
            "La ruta no existe en el servidor. Revisa mayúsculas y carpeta (lista con "
            "list('/carpeta/*')).",
            path=path,
        )
    if not alive or isinstance(problem, (EOFError, socket.timeout, paramiko.SSHException)):
        return SFTPConnectionError(
            f"Se perdió la conexión con {where} ({type(problem).__name__}). Se puede "
            "reintentar: las descargas continúan desde el .part.",
            path=path,
        )
    return SFTPError(f"El servidor SFTP respondió con un error: {problem}.", path=path)
