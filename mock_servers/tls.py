"""Throwaway TLS material for the lab: one private CA and one server certificate.

The lab serves ``https`` with a certificate signed by a CA that exists only for
this run (made with `trustme <https://trustme.readthedocs.io>`_). Clients then
*verify* against that CA instead of switching verification off::

    files = make_tls_files(tmp_dir)
    uvicorn.Config(app, ssl_certfile=files.cert_path, ssl_keyfile=files.key_path)
    requests.get(url, verify=files.ca_path)                       # requests
    httpx.get(url, verify=files.client_ssl_context())             # httpx
    FaultProxy(..., server_ssl=files.server_ssl_context())        # https faults

``verify=False`` is never the answer: it accepts any server, including an
attacker in the middle. The course teaches trusting *the right* CA.

Files written into ``directory`` (created if missing):

========== =========================================== ===========
file       contents                                    permissions
========== =========================================== ===========
ca.pem     the CA certificate (what clients trust)     0644
server.pem server certificate + chain (for uvicorn)    0644
server.key server private key (for uvicorn)            0600
========== =========================================== ===========
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import trustme

__all__ = ["DEFAULT_HOSTNAMES", "TLSFiles", "make_tls_files"]

#: Names the server certificate is valid for: the loopback address the lab
#: binds to and the name a learner is likely to type.
DEFAULT_HOSTNAMES: tuple[str, ...] = ("127.0.0.1", "localhost")

_PUBLIC_MODE = 0o644
#: Owner-only: a private key readable by others is a leaked key.
_SECRET_MODE = 0o600


@dataclass(frozen=True)
class TLSFiles:
    """Paths of the TLS files of one lab run (see the module docstring)."""

    #: The CA certificate in PEM: pass it to clients (``verify=ca_path``).
    ca_path: Path
    #: The server certificate followed by its chain: uvicorn's ``ssl_certfile``.
    cert_path: Path
    #: The server private key, owner-only: uvicorn's ``ssl_keyfile``.
    key_path: Path
    #: Host names and addresses the certificate is valid for.
    hostnames: tuple[str, ...]

    def client_ssl_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts only this run's CA.

        Hostname checking and certificate verification stay on (the defaults of
        :func:`ssl.create_default_context`); this is what ``httpx`` takes as
        ``verify=``.
        """
        return ssl.create_default_context(cafile=str(self.ca_path))

    def server_ssl_context(self) -> ssl.SSLContext:
        """A server context with this certificate and key (for the fault proxy)."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_path, self.key_path)
        return context


def make_tls_files(
    directory: str | os.PathLike[str],
    hostnames: Sequence[str] = DEFAULT_HOSTNAMES,
) -> TLSFiles:
    """Create a new CA and a server certificate for ``hostnames`` in ``directory``.

    Every call makes a fresh CA, so certificates of an earlier run stop being
    trusted. Existing files of the same names are replaced atomically; the key
    is never, even for an instant, readable by other users.

    Raises :class:`ValueError` if ``hostnames`` is empty.
    """
    names = tuple(hostnames)
    if not names:
        raise ValueError(
            "make_tls_files necesita al menos un nombre de host; "
            "usa por ejemplo ('127.0.0.1', 'localhost')"
        )
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)

    ca = trustme.CA()
    leaf = ca.issue_cert(*names)
    chain = b"".join(blob.bytes() for blob in leaf.cert_chain_pems)

    files = TLSFiles(
        ca_path=folder / "ca.pem",
        cert_path=folder / "server.pem",
        key_path=folder / "server.key",
        hostnames=names,
    )
    _write_atomically(files.key_path, leaf.private_key_pem.bytes(), _SECRET_MODE)
    _write_atomically(files.cert_path, chain, _PUBLIC_MODE)
    _write_atomically(files.ca_path, ca.cert_pem.bytes(), _PUBLIC_MODE)
    return files


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to ``path`` via a temporary file created with ``mode``.

    Creating the temporary file with its final mode (``O_EXCL``, so it is ours)
    and renaming it over the target means no reader ever sees a half-written
    file, and a key is never created with the umask's wider permissions.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)  # left over by a crashed run of this same process id
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        # The umask may have narrowed the mode at creation; set it exactly.
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
