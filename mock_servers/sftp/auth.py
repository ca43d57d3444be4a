"""Who may log in to the SFTP lab, and what a logged-in client may open.

Two users share the same virtual root: one logs in with a password, the
other with the lab's Ed25519 key. Anything else is an ordinary SSH
authentication failure, so clients raise their usual "auth failed" error.
Only the ``sftp`` subsystem is offered: no shell, no exec, no forwarding.
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable
from dataclasses import dataclass

import paramiko
from paramiko.common import (
    AUTH_FAILED,
    AUTH_SUCCESSFUL,
    OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED,
    OPEN_SUCCEEDED,
)

from .faults import SFTPFaults

__all__ = ["LabAuthServer", "LabUsers"]


@dataclass(frozen=True)
class LabUsers:
    """The two lab accounts (published lab credentials, not secrets)."""

    username: str
    password: str
    key_username: str
    public_key: paramiko.PKey

    def __repr__(self) -> str:  # keep the password out of logs and tracebacks
        return f"LabUsers(username={self.username!r}, key_username={self.key_username!r})"


class LabAuthServer(paramiko.ServerInterface):
    """paramiko's server-side policy for one connection.

    ``open_sftp`` is called with the channel once a client asks for the
    ``sftp`` subsystem; it starts the session thread.
    """

    def __init__(
        self,
        users: LabUsers,
        faults: SFTPFaults,
        stop: threading.Event,
        open_sftp: Callable[[paramiko.Channel], None],
    ) -> None:
        self._users = users
        self._faults = faults
        self._stop = stop
        self._open_sftp = open_sftp

    def _delay(self) -> None:
        delay = self._faults.state.auth_delay_s
        if delay > 0:
            self._stop.wait(delay)

    def get_allowed_auths(self, username: str) -> str:
        return "publickey,password"

    def check_auth_none(self, username: str) -> int:
        return AUTH_FAILED

    def check_auth_password(self, username: str, password: str) -> int:
        self._delay()
        ok_user = hmac.compare_digest(username.encode(), self._users.username.encode())
        ok_pass = hmac.compare_digest(password.encode(), self._users.password.encode())
        return AUTH_SUCCESSFUL if ok_user and ok_pass else AUTH_FAILED

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        self._delay()
        ok_user = hmac.compare_digest(username.encode(), self._users.key_username.encode())
        ok_key = hmac.compare_digest(key.asbytes(), self._users.public_key.asbytes())
        return AUTH_SUCCESSFUL if ok_user and ok_key else AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == "session":
            return OPEN_SUCCEEDED
        return OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_subsystem_request(self, channel: paramiko.Channel, name: str) -> bool:
        if name != "sftp" or self._stop.is_set():
            return False
        self._open_sftp(channel)
        return True
