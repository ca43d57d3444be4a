"""The SFTP branch of the error tree (drawn in :mod:`connectors_lib.sftp`'s docstring).

Private module: import these names from :mod:`connectors_lib.sftp` or the
package. They live here, apart from the connector, so that the host-key,
transfer and pick-up modules can raise them without importing the connector.
Only :class:`SFTPConnectionError` is worth retrying (see ``DEFAULT_SFTP_RETRY``).
"""

from __future__ import annotations

from typing import Any

from connectors_lib.errors import SFTPError

__all__ = [
    "SFTPAuthError",
    "SFTPConnectionError",
    "SFTPFileChangedError",
    "SFTPHostKeyError",
    "SFTPIntegrityError",
    "SFTPNotFoundError",
    "SFTPPermissionError",
]


class SFTPHostKeyError(SFTPError):
    """The server's host key is unknown, changed, or not the pinned one.

    ``presented`` is the SHA-256 fingerprint the server showed; ``expected`` the
    one we trust (``None`` when the host is unknown); ``reason`` is
    ``"unknown"``, ``"changed"`` or ``"pinned"``.
    """

    def __init__(
        self, message: str, *, presented: str, expected: str | None, reason: str, **context: Any
    ) -> None:
        super().__init__(message, **context)
        self.presented = presented
        self.expected = expected
        self.reason = reason


class SFTPAuthError(SFTPError):
    """The server refused the user, password or key: fix the credentials, do not retry."""


class SFTPConnectionError(SFTPError):
    """Could not connect, or the connection dropped: retrying (and resuming) may help."""


class SFTPPermissionError(SFTPError):
    """The server answered PERMISSION_DENIED for ``path``."""


class SFTPNotFoundError(SFTPError):
    """``path`` does not exist on the server."""


class SFTPFileChangedError(SFTPError):
    """The file did not settle in time, or its size/mtime changed while it was read."""


class SFTPIntegrityError(SFTPError):
    """The transferred bytes do not match the expected size or SHA-256."""
