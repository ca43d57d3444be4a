"""Lab keys: a seeded Ed25519 host key, a seeded user key pair, ``known_hosts``.

Everything here is derived from the lab seed, so the fingerprint a lesson
prints is the same on every machine and every run. These are *lab*
credentials (the course publishes them); they are still written with
owner-only permissions, because that is the habit the lessons teach and what
OpenSSH's ``ssh``/``sftp`` insist on for a private key.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = ["LabKey", "derive_key", "fingerprint_sha256", "known_hosts_line", "write_private"]


@dataclass(frozen=True)
class LabKey:
    """An Ed25519 key pair in the two shapes the lab needs.

    ``pkey`` is what paramiko's server side signs with or compares against;
    ``openssh_private`` / ``openssh_public`` are the texts written to disk.
    """

    pkey: paramiko.Ed25519Key
    openssh_private: bytes
    openssh_public: str

    @property
    def fingerprint(self) -> str:
        """``SHA256:<base64 without padding>``, exactly as ``ssh-keygen -l`` prints it."""
        return fingerprint_sha256(self.pkey)


def derive_key(seed: int, label: str) -> LabKey:
    """Derive an Ed25519 key from ``(seed, label)``: same inputs, same key.

    The 32 private bytes are ``SHA-256("sftp-lab:<label>:<seed>")``; the
    label separates the host key, the alternative host key and the user key.
    """
    secret = hashlib.sha256(f"sftp-lab:{label}:{seed}".encode()).digest()
    private = Ed25519PrivateKey.from_private_bytes(secret)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    public = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    pkey = paramiko.Ed25519Key(file_obj=io.StringIO(pem.decode("ascii")))
    return LabKey(pkey=pkey, openssh_private=pem, openssh_public=public.decode("ascii"))


def fingerprint_sha256(key: paramiko.PKey) -> str:
    """OpenSSH's SHA-256 fingerprint of a public key blob."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def known_hosts_line(host: str, port: int, key: LabKey) -> str:
    """One ``known_hosts`` line; a non-22 port uses OpenSSH's ``[host]:port`` form."""
    name = host if port == 22 else f"[{host}]:{port}"
    return f"{name} {key.openssh_public}\n"


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` so that only the owner can read it, from the first byte.

    The file is created with mode 0600 (never world-readable, not even for an
    instant) and replaced if it exists.
    """
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
