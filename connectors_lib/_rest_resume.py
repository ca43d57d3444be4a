"""Checkpoint bookkeeping for :meth:`~connectors_lib.rest.RestConnector.extract`.

Private module. A checkpoint records where a run must resume:

* ``next``: the :class:`~connectors_lib.pagination.PageRequest` to fetch first;
* ``seen``: the page tokens already visited before it (the walker's cycle check
  must survive a restart);
* ``done_keys``: the keys delivered just before ``next`` (the previous page's,
  plus those of ``next`` itself if the run stopped mid-page), so a record that
  shifted across the page boundary meanwhile is not delivered twice;
* ``skip``: how many records of that page to drop (positional resume, when
  there is no ``record_key``);
* ``pages`` / ``records``: counters, for people reading the file.

The state is plain JSON (no pickle) written atomically by
:class:`~connectors_lib.state.CheckpointStore`; it loads without httpx.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from connectors_lib.clock import Clock
from connectors_lib.errors import CheckpointError, ValidationError
from connectors_lib.pagination import PageRequest, PageWalker, json_path
from connectors_lib.state import CheckpointStore

__all__ = ["Resume", "ResumeLedger", "record_key_of"]


class Resume:
    """Where a checkpoint says to resume: request, seen tokens, delivered keys, skip.

    ``Resume()`` (no checkpoint) means "start from the paginator's first page".
    """

    def __init__(
        self,
        request: PageRequest | None = None,
        seen: tuple[str, ...] = (),
        done_keys: tuple[Any, ...] = (),
        skip: int = 0,
    ) -> None:
        self.request, self.seen, self.done_keys, self.skip = request, seen, done_keys, skip

    @classmethod
    def load(cls, store: CheckpointStore | None) -> Resume:
        """Read ``store`` (None or empty: start from scratch).

        Raises :class:`~connectors_lib.errors.CheckpointError` if the file does not
        have the shape :meth:`save_at` writes.
        """
        state = store.load() if store is not None else None
        if not state:
            return cls()
        try:
            raw = state["next"]
            request = PageRequest(
                params=dict(raw["params"]), url=raw["url"], token=str(raw["token"]),
                page_size=raw["page_size"], number=int(raw["number"]),
            )  # fmt: skip
            return cls(
                request,
                tuple(str(t) for t in state["seen"]),
                tuple(state["done_keys"]),
                int(state["skip"]),
            )
        except (KeyError, TypeError, ValueError) as problem:
            raise CheckpointError(
                f"El checkpoint no tiene la forma esperada ({problem!r}). Bórralo (clear()) "
                "para empezar de cero.",
                path=str(store.path) if store else None,
            ) from None

    @staticmethod
    def save(
        store: CheckpointStore, walker: PageWalker, keys: set[Any], skip: int, clock: Clock
    ) -> None:
        """Save "resume at the walker's next page" (nothing once the run is complete)."""
        if walker.next_request is None:
            return  # the run is complete; the caller clears the file
        Resume.save_at(store, walker, walker.next_request, keys, skip, clock)

    @staticmethod
    def save_at(
        store: CheckpointStore,
        walker: PageWalker,
        request: PageRequest,
        keys: set[Any],
        skip: int,
        clock: Clock,
    ) -> None:
        """Save "resume at ``request``, dropping ``keys`` (or the first ``skip`` records)"."""
        state = {
            "next": {
                "params": dict(request.params), "url": request.url, "token": request.token,
                "page_size": request.page_size, "number": request.number,
            },
            # Only tokens of pages before ``request``: it is remembered again on start, and
            # the walker may already have looked one page ahead of it.
            "seen": [t for t, number in walker.seen.items() if number < request.number],
            # Sorted by (type, value) so that the file is stable and mixed int/str keys compare.
            "done_keys": sorted(keys, key=lambda k: (str(type(k)), k)),
            "skip": skip,
            "pages": walker.pages,
            "records": walker.records,
        }  # fmt: skip
        store.save(state, saved_at=clock.now())


class ResumeLedger:
    """What the consumer has taken so far, kept in step with one checkpoint file.

    A record counts as delivered once the consumer asks for the next one. After
    each fully delivered page the checkpoint says "resume at the next page,
    dropping these keys" (a page that shifted meanwhile may repeat its last
    records at the start of the next one); :meth:`save_partial` records a page
    left half-way. Without ``record_key`` resume is positional (skip the first
    n records of the page).
    """

    def __init__(
        self, store: CheckpointStore, resume: Resume, record_key: str | None, clock: Clock
    ) -> None:
        self._store = store
        self._record_key = record_key
        self._clock = clock
        self._done_keys = set(resume.done_keys)  # keys delivered just before this page
        self._skip = resume.skip  # positional resume when there are no keys
        self._delivered: list[Any] = []  # keys (or positions) of this page the consumer took

    def deliver(self, records: Iterable[Any], walker: PageWalker, number: int) -> Iterator[Any]:
        """Yield the records of page ``number`` not delivered before; save once all are taken.

        ``walker`` must already have been fed this page, so that its next request
        is where a rerun resumes.
        """
        record_key = self._record_key
        page_keys: list[Any] = []
        self._delivered = delivered = []
        for position, record in enumerate(records):
            if record_key is not None:
                key = record_key_of(record, record_key, number)
                page_keys.append(key)
                if key in self._done_keys:
                    continue
            elif position < self._skip:
                continue
            yield record  # resumes only when the consumer asks for the next one
            delivered.append(key if record_key is not None else position)
        # The whole page is delivered: its keys guard the next page's start.
        self._skip = 0
        self._done_keys = set(page_keys)
        Resume.save(self._store, walker, self._done_keys, 0, self._clock)
        self._delivered = []

    def save_partial(self, walker: PageWalker, current: PageRequest | None) -> None:
        """The run was closed mid-page (consumer raised or broke): keep what it already took.

        Does nothing when no record of ``current`` was taken: the last full-page
        save already says where to resume.
        """
        delivered = self._delivered
        if not delivered or current is None:
            return
        keyed = self._record_key is not None
        keys = (self._done_keys | set(delivered)) if keyed else set()
        count = 0 if keyed else int(delivered[-1]) + 1
        Resume.save_at(self._store, walker, current, keys, count, self._clock)


def record_key_of(record: Any, path: str, page: int) -> Any:
    """The key at JSON path ``path`` of ``record``, in a form that survives a JSON round trip.

    Strings and integers are returned as they are; any other value (a float, a
    compound key) as its canonical JSON text, so that the key read back from the
    checkpoint compares equal to the one computed on the rerun. A record without
    the key raises :class:`~connectors_lib.errors.ValidationError`.
    """
    try:
        key = json_path(record, path)
    except LookupError:
        raise ValidationError(
            f"Un registro de la página {page} no tiene la clave {path!r}, "
            "necesaria para reanudar sin duplicados. Indica record_key=<ruta> o None.",
            page=page,
        ) from None
    if isinstance(key, str | int) and not isinstance(key, bool):
        return key
    return json.dumps(key, sort_keys=True, default=str)
