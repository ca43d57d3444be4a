"""Host-key trust for :class:`~connectors_lib.sftp.SFTPConnector`: known_hosts or a pinned key.

Private module (the public names are re-exported by :mod:`connectors_lib.sftp`).
The rule is OpenSSH's ``StrictHostKeyChecking yes``: the key the server
presents must be listed for ``host`` / ``[host]:port`` in a known_hosts file,
or match a pinned SHA-256 fingerprint. There is deliberately no "accept the
first key" mode: trusting whatever key shows up is what a man in the middle
relies on. Every refusal names both fingerprints and how to check them out of
band.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import paramiko

from connectors_lib._sftp_errors import SFTPHostKeyError

__all__ = [
    "HostKeyTrust",
    "fingerprint_sha256",
    "normalise_fingerprint",
]


def fingerprint_sha256(key: paramiko.PKey) -> str:
    """OpenSSH's SHA-256 fingerprint (``SHA256:<base64 sin relleno>``), as ``ssh-keygen -l``."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def normalise_fingerprint(text: str) -> str:
    """``text`` as :func:`fingerprint_sha256` writes it: ``SHA256:`` prefix, no ``=`` padding.

    Accepts what people paste: with or without the prefix (any case), with
    padding, with surrounding blanks. The base64 body is case-sensitive and
    kept as given.
    """
    body = text.strip()
    if body.upper().startswith("SHA256:"):
        body = body[7:]
    return "SHA256:" + body.rstrip("=")


@dataclass(frozen=True, slots=True)
class HostKeyTrust:
    """What we trust: a pinned fingerprint, or else the keys in a known_hosts file.

    Exactly one of ``pinned`` (normalised) and ``known_hosts`` is set; build it
    with :meth:`choose`, which applies the connector's default.
    """

    pinned: str | None
    known_hosts: Path | None

    @classmethod
    def choose(
        cls, known_hosts_path: str | os.PathLike[str] | None, fingerprint: str | None
    ) -> HostKeyTrust:
        """The pinned ``fingerprint`` if given, else ``known_hosts_path`` (default ``~/.ssh``'s).

        Raises :class:`ValueError` when both are given: two sources of trust
        that could disagree is a configuration mistake, not a fallback.
        """
        if known_hosts_path is not None and fingerprint is not None:
            raise ValueError("SFTPConnector: da known_hosts_path o host_key_fingerprint, no ambos")
        if fingerprint is not None:
            return cls(normalise_fingerprint(fingerprint), None)
        if known_hosts_path is None:
            known_hosts_path = Path.home() / ".ssh" / "known_hosts"
        return cls(None, Path(known_hosts_path))

    def expected_keys(self, host: str, port: int) -> dict[str, paramiko.PKey]:
        """The known_hosts keys for ``host:port`` by type (``{}``: pinned, no file, or unlisted).

        A missing file is not an error here (the host is then simply unknown and
        :meth:`check` says so); an unreadable one raises :class:`SFTPHostKeyError`.
        """
        if self.known_hosts is None:
            return {}
        try:
            hosts = paramiko.HostKeys(str(self.known_hosts))
        except FileNotFoundError:
            return {}
        except (OSError, paramiko.SSHException) as problem:
            raise SFTPHostKeyError(
                f"No se puede leer known_hosts ({problem}). Revisa la ruta y sus permisos.",
                presented="?",
                expected=None,
                reason="unknown",
            ) from problem
        name = host if port == 22 else f"[{host}]:{port}"
        entry = hosts.lookup(name)
        return dict(entry) if entry is not None else {}

    def check(self, key: paramiko.PKey, expected: Mapping[str, paramiko.PKey], where: str) -> None:
        """Return if ``key`` is trusted; else raise :class:`SFTPHostKeyError`.

        ``expected`` is :meth:`expected_keys`' answer (fetched once per
        connection, because it also orders the key types offered);
        ``where`` names the server in messages.
        """
        presented = fingerprint_sha256(key)
        kind = key.get_name()
        if self.pinned is not None:
            if presented != self.pinned:
                raise SFTPHostKeyError(
                    f"La clave de host de {where} no es la fijada: se esperaba "
                    f"{self.pinned} y el servidor presenta {presented} ({kind}). Puede ser un "
                    "ataque de intermediario (MITM) o un servidor reinstalado. No continúes: "
                    "confirma la huella con el administrador por un canal aparte.",
                    presented=presented,
                    expected=self.pinned,
                    reason="pinned",
                )
            return
        if not expected:
            raise SFTPHostKeyError(
                f"Clave de host desconocida: {where} no figura en known_hosts. El "
                f"servidor presenta {presented} ({kind}). Compara esa huella por un canal "
                "aparte (el administrador la obtiene con ssh-keygen -lf en el servidor) y, "
                "solo si coincide, añade la línea a known_hosts o pásala como "
                "host_key_fingerprint. Aceptarla a ciegas es lo que aprovecha un MITM.",
                presented=presented,
                expected=None,
                reason="unknown",
            )
        known = expected.get(kind)
        if known is None or known.asbytes() != key.asbytes():
            # Same host, another key (or another type only): OpenSSH's "REMOTE HOST
            # IDENTIFICATION HAS CHANGED", never a reason to fall back to trusting it.
            shown = ", ".join(fingerprint_sha256(k) for k in expected.values())
            raise SFTPHostKeyError(
                f"¡La clave de host de {where} ha CAMBIADO! known_hosts espera {shown} y "
                f"el servidor presenta {presented} ({kind}). Puede ser un ataque de "
                "intermediario (MITM) o una reinstalación. No te conectes: confirma la huella "
                "nueva con el administrador por un canal aparte y solo entonces actualiza "
                "known_hosts (ssh-keygen -R).",
                presented=presented,
                expected=shown,
                reason="changed",
            )
