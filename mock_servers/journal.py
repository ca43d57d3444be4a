"""The request journal: one named tuple per request the lab HTTP app answered.

A lesson prints or plots it to show what a client *actually* did (how many
retries, how long it waited on the lab clock, which faults it met)::

    import pandas as pd
    pd.DataFrame(lab.journal.to_records())

Requests to the admin API (``/__admin/...``) are not journaled, so an
instructor's actions never pollute a learner's trace. The journal keeps the
last :data:`DEFAULT_CAPACITY` entries; ``seq`` keeps counting, so gaps show.
Request ids come from the same counter (``req-000001``...), which keeps
responses deterministic.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from typing import Any, NamedTuple

__all__ = ["DEFAULT_CAPACITY", "Journal", "JournalEntry"]

#: Enough for a whole lesson or benchmark; old entries drop off the front.
DEFAULT_CAPACITY = 50_000


class JournalEntry(NamedTuple):
    """One answered request. Times: ``clock_time`` on the lab clock, ``latency_ms`` real."""

    #: Position in the journal, from 1; also the number in the generated request id.
    seq: int
    #: ``X-Request-ID`` of the response (the client's own, if it sent one).
    request_id: str
    method: str
    path: str
    #: Raw query string, e.g. ``"offset=100&limit=100"`` (``""`` if none).
    query: str
    #: Learner name for an API key, client id for a bearer token, ``None`` if anonymous.
    learner: str | None
    status: int
    #: Injected fault in header grammar (``"status=503;retry_after=2"``), ``None`` if none.
    fault: str | None
    #: Lab-clock time (epoch seconds) when the request arrived.
    clock_time: float
    #: Real time the app spent on it, in milliseconds (varies run to run).
    latency_ms: float
    #: Lab-clock seconds from arrival to answer (injected delays included): the
    #: latency lessons print, the same every run on a virtual clock.
    clock_latency: float = 0.0


class Journal:
    """Thread-safe, bounded list of :class:`JournalEntry`; also hands out request ids."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._entries: deque[JournalEntry] = deque(maxlen=capacity)
        self._seq = 0
        self._lock = threading.Lock()

    def next_seq(self) -> int:
        """Reserve the next sequence number (one per request, at arrival)."""
        with self._lock:
            self._seq += 1
            return self._seq

    @staticmethod
    def request_id(seq: int) -> str:
        """The generated ``X-Request-ID`` for sequence number ``seq``."""
        return f"req-{seq:06d}"

    def record(self, entry: JournalEntry) -> None:
        """Append one entry (called by the app when the response is complete)."""
        with self._lock:
            self._entries.append(entry)

    def entries(
        self, *, path: str | None = None, learner: str | None = None, last: int | None = None
    ) -> list[JournalEntry]:
        """Entries in arrival order, optionally only one path / learner, or the ``last`` n."""
        with self._lock:
            # Sorted by seq: responses finish out of order under concurrency.
            rows = sorted(self._entries, key=lambda e: e.seq)
        if path is not None:
            rows = [e for e in rows if e.path == path]
        if learner is not None:
            rows = [e for e in rows if e.learner == learner]
        if last is not None:
            rows = rows[-last:] if last > 0 else []
        return rows

    def to_records(self, **filters: Any) -> list[dict[str, Any]]:
        """The same entries as dicts, ready for ``pandas.DataFrame(...)``."""
        return [e._asdict() for e in self.entries(**filters)]

    def clear(self) -> None:
        """Forget every entry and restart request ids at ``req-000001``."""
        with self._lock:
            self._entries.clear()
            self._seq = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __iter__(self) -> Iterator[JournalEntry]:
        return iter(self.entries())

    def __repr__(self) -> str:
        return f"Journal(entries={len(self)})"
