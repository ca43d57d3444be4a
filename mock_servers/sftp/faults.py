"""Faults the instructor can switch on in the SFTP lab, live, from Python.

``server.faults`` (later ``lab.faults.sftp``) is one :class:`SFTPFaults`; each
session reads a consistent :class:`FaultState` snapshot when it needs one, so
changing a fault mid-transfer takes effect at the next request. Waits here are
real time (a slow link is slow for the client too) but every wait is cut short
when the server stops.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace

__all__ = ["FaultState", "SFTPFaults", "Throttle"]


@dataclass(frozen=True)
class FaultState:
    """One consistent view of the active faults (all off by default)."""

    #: Cap on file bytes per second for each session (reads and writes), or None.
    bandwidth_bytes_per_s: int | None = None
    #: Drop the connection once a session moved this many file bytes, or None.
    disconnect_after_bytes: int | None = None
    #: How many more sessions the disconnect fault may hit (None = every one).
    disconnects_left: int | None = None
    #: Virtual paths (and everything below them) answered with PERMISSION_DENIED.
    denied_paths: frozenset[str] = field(default_factory=frozenset)
    #: Seconds to wait before answering each authentication attempt.
    auth_delay_s: float = 0.0
    #: Present the alternative host key to new connections.
    other_host_key: bool = False


class SFTPFaults:
    """Thread-safe switches for the SFTP lab; :meth:`reset` turns all off.

    >>> faults = SFTPFaults()
    >>> faults.bandwidth_limit(64 * 1024)          # 64 KiB/s per session
    >>> faults.disconnect_after(1_000_000, times=1)
    >>> faults.deny("/exportes/2024-12-30")
    >>> faults.reset()
    """

    def __init__(self, *, other_host_key: bool = False) -> None:
        self._lock = threading.Lock()
        self._initial = FaultState(other_host_key=other_host_key)
        self._state = self._initial

    @property
    def state(self) -> FaultState:
        with self._lock:
            return self._state

    def _update(self, **changes: object) -> None:
        with self._lock:
            self._state = replace(self._state, **changes)  # type: ignore[arg-type]

    def bandwidth_limit(self, bytes_per_s: int | None) -> None:
        """Cap each session's file transfer rate; ``None`` removes the cap."""
        if bytes_per_s is not None and bytes_per_s <= 0:
            raise ValueError("el límite de ancho de banda debe ser positivo (bytes por segundo)")
        self._update(bandwidth_bytes_per_s=bytes_per_s)

    def disconnect_after(self, nbytes: int | None, *, times: int | None = None) -> None:
        """Cut each session after ``nbytes`` file bytes; ``times`` bounds how many sessions."""
        if nbytes is not None and nbytes < 0:
            raise ValueError("el número de bytes antes del corte no puede ser negativo")
        self._update(disconnect_after_bytes=nbytes, disconnects_left=times)

    def deny(self, *paths: str) -> None:
        """Answer PERMISSION_DENIED for these virtual paths and everything below."""
        cleaned = {"/" + p.strip("/") for p in paths}
        with self._lock:
            self._state = replace(self._state, denied_paths=self._state.denied_paths | cleaned)

    def auth_delay(self, seconds: float) -> None:
        """Wait ``seconds`` (real time) before answering each login attempt."""
        if seconds < 0:
            raise ValueError("el retraso de autenticación no puede ser negativo")
        self._update(auth_delay_s=float(seconds))

    def present_other_host_key(self, enabled: bool = True) -> None:
        """Make new connections see a different host key (the MITM lesson)."""
        self._update(other_host_key=enabled)

    def reset(self) -> None:
        """Back to the state the server started with."""
        with self._lock:
            self._state = self._initial

    def claim_disconnect(self) -> int | None:
        """For a new session: the byte budget it gets, consuming one of ``times``."""
        with self._lock:
            state = self._state
            if state.disconnect_after_bytes is None:
                return None
            if state.disconnects_left is not None:
                if state.disconnects_left <= 0:
                    return None
                self._state = replace(state, disconnects_left=state.disconnects_left - 1)
            return state.disconnect_after_bytes

    def __repr__(self) -> str:
        return f"SFTPFaults({self.state!r})"


class Throttle:
    """Per-session pacing: after ``n`` bytes, wait until ``n / rate`` seconds passed.

    Uses the real monotonic clock (a capped link is slow in real time) and
    waits on ``stop`` so that shutting the server down never hangs on it.
    """

    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop
        self._start = 0.0
        self._sent = 0
        self._rate: int | None = None

    @property
    def active(self) -> bool:
        """True while a cap is in force (then replies are sent one by one)."""
        return self._rate is not None

    def pace(self, nbytes: int, rate: int | None) -> None:
        """Account ``nbytes`` and block as long as the cap ``rate`` requires."""
        now = time.monotonic()
        if rate != self._rate:  # a new cap starts a new budget window
            self._rate, self._start, self._sent = rate, now, 0
        if rate is None:
            return
        self._sent += nbytes
        due = self._start + self._sent / rate
        if due > now:
            self._stop.wait(due - now)
