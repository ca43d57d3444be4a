"""RestConnector against the course lab (``mock_servers.start``): the lessons' own setting.

The lab serves 1,200 seeded orders in four pagination styles, limits each key
to 10 requests per 10 s of its virtual clock, and injects faults on demand.
Every check here is what lesson 01/02 shows: each style returns the dataset
exactly once, 429 and scripted 503 are ridden out with the waits in the trace,
and a crashed run resumes from its checkpoint to the exact dataset.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import mock_servers
from connectors_lib.clock import VirtualClock
from connectors_lib.errors import PaginationError, ResponseDecodeError
from connectors_lib.pagination import (
    CursorPaginator,
    KeysetPaginator,
    LinkHeaderPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    Paginator,
)
from connectors_lib.rest import RestConnector
from connectors_lib.state import CheckpointStore

ORDERS = "/api/v1/orders"
ALL_IDS = list(range(1, 1201))


@pytest.fixture(scope="module")
def module_lab() -> Iterator[Any]:
    """One lab for this module (own learner key, so no other module shares its windows)."""
    lab = mock_servers.start(seed=42, sftp=False, proxy=False, learners=("conector",))
    yield lab
    lab.stop()


@pytest.fixture
def lab(module_lab: Any) -> Any:
    """The lab reset to its seeded state: no faults, fresh rate windows, clock at start."""
    module_lab.state.reset()
    module_lab.clock.reset()
    return module_lab


def connector(lab: Any, paginator: Paginator, **kwargs: Any) -> RestConnector:
    """A connector on the lab's clock with its API key."""
    return RestConnector(
        lab.base_url, headers=lab.headers(), paginator=paginator, clock=lab.clock, seed=7, **kwargs
    )


STYLES = [
    ("offset", OffsetPaginator(limit=100, total_path="total"), None, "total_reached"),
    ("page", PageNumberPaginator(per_page=100), None, "no_next_link"),
    ("cursor", CursorPaginator(limit=100, initial_cursor=""), None, "no_next_token"),
    ("keyset", KeysetPaginator(limit=100), {"style": "keyset"}, "has_more_false"),
    ("link", LinkHeaderPaginator(page_size=100), {"page": 1, "per_page": 100}, "no_next_link"),
]


@pytest.mark.parametrize(("name", "paginator", "params", "stop"), STYLES)
def test_each_style_returns_the_dataset_exactly_once(
    lab: Any, name: str, paginator: Paginator, params: dict[str, Any] | None, stop: str
) -> None:
    """1,200 orders, in id order, once; the lab's 10-per-10-s limit is waited out, not hit."""
    with connector(lab, paginator) as conn:
        ids = [order["id"] for order in conn.extract(ORDERS, params)]
    assert ids == ALL_IDS, name
    assert conn.last_stop == stop
    assert [r.status for r in conn.trace.records] == [200] * len(conn.trace)
    assert lab.clock.total_waited == pytest.approx(10.0)  # one reset after 10 requests


def test_429_is_ridden_out_with_retry_after_in_the_trace(lab: Any) -> None:
    """Ignoring the rate headers hits 429; the retry loop waits its Retry-After and goes on."""
    paginator = OffsetPaginator(limit=100, total_path="total")
    with connector(lab, paginator, obey_rate_limit_headers=False) as conn:
        ids = [order["id"] for order in conn.extract(ORDERS)]
    assert ids == ALL_IDS
    limited = [d for d in conn.retry_log if d.status == 429]
    assert limited, "the lab should have answered 429 at least once"
    assert all(d.verdict == "retry" and d.retry_after is not None for d in limited)
    assert all(d.delay == d.retry_after for d in limited)
    statuses = [entry.status for entry in lab.journal]
    assert statuses.count(429) == len(limited)


def test_scripted_503_is_retried_after_its_retry_after(lab: Any) -> None:
    """Two scripted 503s with Retry-After: 2 cost two waits of 2 s, visible in the trace."""
    lab.faults.add("status=503;retry_after=2", path=ORDERS, times=2)
    clock: VirtualClock = lab.clock
    with connector(lab, OffsetPaginator(limit=100, total_path="total")) as conn:
        assert [o["id"] for o in conn.extract(ORDERS, max_pages=3)] == ALL_IDS[:300]
    assert clock.waits[:2] == [2.0, 2.0]
    first_two = conn.retry_log[:2]
    assert [(d.status, d.retry_after_raw, d.delay) for d in first_two] == [(503, "2", 2.0)] * 2
    journal = [(e.status, e.fault) for e in lab.journal][:3]
    assert journal == [(503, "status=503;retry_after=2")] * 2 + [(200, None)]


class Crash(Exception):
    """The consumer dies mid-run."""


def take(records: Iterator[Any], limit: int, out: list[int]) -> None:
    """Append ids to ``out`` and raise Crash when asked for record number ``limit + 1``."""
    for order in records:
        if len(out) == limit:
            raise Crash
        out.append(order["id"])


@pytest.mark.parametrize(
    ("paginator", "params"),
    [
        (OffsetPaginator(limit=100, total_path="total"), None),
        (CursorPaginator(limit=100, initial_cursor=""), None),
        (KeysetPaginator(limit=100), {"style": "keyset"}),
    ],
)
def test_crash_and_resume_gives_the_exact_dataset(
    lab: Any, tmp_path: Path, paginator: Paginator, params: dict[str, Any] | None
) -> None:
    """Crash after 537 orders, rerun with the same checkpoint: 1,200 orders, none twice."""
    store = CheckpointStore(tmp_path / "orders.checkpoint.json")
    got: list[int] = []
    with connector(lab, paginator) as conn:
        with pytest.raises(Crash):
            take(conn.extract(ORDERS, params, checkpoint=store), 537, got)
        assert store.path.exists()
    with connector(lab, paginator) as fresh:  # a new process would build a new connector
        got += [order["id"] for order in fresh.extract(ORDERS, params, checkpoint=store)]
        resumed_requests = len(fresh.trace)
    assert got == ALL_IDS
    assert resumed_requests == 7  # pages 6..12 only: the first five are not fetched again
    assert not store.path.exists()


def test_silent_page_size_cap_is_caught(lab: Any) -> None:
    """With the lab capping pages at 50 silently, offset pagination stops with the cause."""
    lab.faults.add("cap=50", path=ORDERS, times=None)
    conn = connector(lab, OffsetPaginator(limit=100, total_path="total"))
    with conn, pytest.raises(PaginationError, match="Tope silencioso"):
        list(conn.extract(ORDERS))


def test_malformed_body_is_a_clear_error(lab: Any) -> None:
    """A body that is not JSON raises ResponseDecodeError naming the page."""
    lab.faults.add("malformed", path=ORDERS, times=1)
    conn = connector(lab, OffsetPaginator(limit=100))
    with conn, pytest.raises(ResponseDecodeError, match="no es JSON") as caught:
        list(conn.extract(ORDERS))
    assert caught.value.page == 1


@pytest.mark.parametrize(
    "paginator",
    [OffsetPaginator(limit=100, total_path="total"), PageNumberPaginator(per_page=100)],
)
def test_aextract_matches_extract_on_the_lab(lab: Any, paginator: Paginator) -> None:
    """Concurrent pages give the same orders in the same order, riding out 429s."""

    async def collect(conn: RestConnector) -> list[int]:
        return [order["id"] async for order in conn.aextract(ORDERS)]

    with connector(lab, paginator, max_concurrency=4) as conn:
        assert asyncio.run(collect(conn)) == ALL_IDS
