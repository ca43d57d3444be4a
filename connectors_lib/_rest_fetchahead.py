"""Fetch-ahead for :meth:`RestConnector.aextract <connectors_lib.rest.RestConnector.aextract>`.

Private module. With a random-access paginator (offset, page number) the n-th
page can be requested before the previous ones arrive, so :class:`FetchAhead`
keeps up to ``width`` page requests of the planned grid (page 0, 1, 2, ...) in
flight and hands them out in order. Pages are still *judged* one at a time by
the caller's :class:`~connectors_lib.pagination.PageWalker`: the moment the
walker asks for something off the grid (the stop rule ended the run, or the
server's answer changed the plan) the speculative fetches are cancelled and
their outcome, errors included, is dropped, and the run goes on one page at a
time. Sequential styles (cursor, ``Link``, keyset) never speculate.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

from connectors_lib.pagination import Page, PageRequest, Paginator, RandomAccessPaginator

__all__ = ["FetchAhead", "PageFetch"]

#: Fetches one page; called once per request, its coroutine may be cancelled.
PageFetch = Callable[[PageRequest], Coroutine[Any, Any, Page]]


class FetchAhead:
    """Pages in order, up to ``width`` requests in flight when ``paginator`` allows it.

    ``max_pages`` (None: no limit) bounds how far ahead the grid is planned, so a
    capped run sends no request past its cap. Always call :meth:`cancel` when
    done (a ``finally``): it cancels and awaits whatever is still in flight.
    """

    def __init__(
        self, fetch: PageFetch, paginator: Paginator, *, width: int, max_pages: int | None
    ) -> None:
        self._fetch = fetch
        # None once the run leaves the grid (or from the start if it cannot speculate).
        self._grid: RandomAccessPaginator | None = (
            paginator if isinstance(paginator, RandomAccessPaginator) and width > 1 else None
        )
        self._width = width
        self._max_pages = max_pages
        self._next_index = 0  # grid position of the next speculative request
        self._ahead: deque[tuple[PageRequest, asyncio.Task[Page]]] = deque()

    async def page_for(self, expected: PageRequest) -> Page:
        """The page for ``expected``, the walker's next request; fetch errors propagate."""
        if self._grid is None:
            return await self._fetch(expected)
        while len(self._ahead) < self._width and (
            self._max_pages is None or self._next_index < self._max_pages
        ):
            request = self._grid.request_at(self._next_index)
            self._next_index += 1
            self._ahead.append((request, asyncio.ensure_future(self._fetch(request))))
        if self._ahead and self._ahead[0][0].token == expected.token:
            return await self._ahead.popleft()[1]
        # The run left the planned grid: what is in flight is not needed.
        self._grid = None
        await self.cancel()
        return await self._fetch(expected)

    async def cancel(self) -> None:
        """Cancel speculative fetches and swallow their outcome (they are not needed)."""
        tasks = [task for _, task in self._ahead]
        self._ahead.clear()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
