"""Specification of connectors_lib.pagination: each style, its stop rule, cycles and caps.

The paginators are pure, so these tests feed them pages built in memory; the
real HTTP path is covered by test_lib_rest.py and test_lib_rest_lab.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from connectors_lib.errors import PaginationError
from connectors_lib.pagination import (
    CursorPaginator,
    KeysetPaginator,
    LinkHeaderPaginator,
    OffsetPaginator,
    Page,
    PageNumberPaginator,
    PageRequest,
    PageWalker,
    Paginator,
    RandomAccessPaginator,
    SinglePage,
    json_path,
    parse_link_header,
)

Responder = Callable[[PageRequest], tuple[Any, Mapping[str, str], str]]
ROWS = [{"id": n} for n in range(1, 26)]  # 25 records
BASE = "http://api.test/items"


def walk(paginator: Paginator, respond: Responder, **kwargs: Any) -> tuple[list[Any], PageWalker]:
    """Drive a PageWalker to the end with an in-memory server; return records and walker."""
    walker = PageWalker(paginator, **kwargs)
    out: list[Any] = []
    guard = 0
    while walker.next_request is not None:
        guard += 1
        assert guard < 100, "the walker did not stop"
        request = walker.next_request
        body, headers, url = respond(request)
        out.extend(walker.feed(Page(body, headers, url, request)))
    return out, walker


def offset_server(total: bool = True, cap: int | None = None) -> Responder:
    """``{"data", "total"}`` by offset/limit, optionally capping the page size silently."""

    def respond(request: PageRequest) -> tuple[Any, Mapping[str, str], str]:
        offset, limit = int(request.params["offset"]), int(request.params["limit"])
        size = min(limit, cap) if cap else limit
        body: dict[str, Any] = {"data": ROWS[offset : offset + size]}
        if total:
            body["total"] = len(ROWS)
        return body, {}, BASE

    return respond


def page_server(link: bool = True, cap: int | None = None) -> Responder:
    """A JSON list body with a GitHub-style Link header (or none)."""

    def respond(request: PageRequest) -> tuple[Any, Mapping[str, str], str]:
        page, per_page = int(request.params["page"]), int(request.params["per_page"])
        size = min(per_page, cap) if cap else per_page
        start = (page - 1) * per_page
        rows = ROWS[start : start + size]
        headers = {}
        if link:
            last = -(-len(ROWS) // per_page)
            rels = [f'<{BASE}?page=1&per_page={per_page}>; rel="first"']
            if page < last:
                rels.append(f'<{BASE}?page={page + 1}&per_page={per_page}>; rel="next"')
            headers["Link"] = ", ".join(rels)
        return rows, headers, BASE

    return respond


def cursor_server(tokens: list[str | None] | None = None) -> Responder:
    """``{"data", "next_cursor"}``; ``tokens`` overrides the cursors handed out, in order."""
    handed = list(tokens) if tokens is not None else None

    def respond(request: PageRequest) -> tuple[Any, Mapping[str, str], str]:
        start = int(str(request.params.get("cursor", "c0"))[1:])
        limit = int(request.params["limit"])
        rows = ROWS[start : start + limit]
        after = start + len(rows)
        nxt: str | None = f"c{after}" if after < len(ROWS) else None
        if handed is not None:
            nxt = handed.pop(0)
        return {"data": rows, "next_cursor": nxt}, {}, BASE

    return respond


def link_server(cap: int | None = None) -> Responder:
    """Follows URLs: the page number travels inside the URL, relative links on purpose."""

    def respond(request: PageRequest) -> tuple[Any, Mapping[str, str], str]:
        url = request.url or f"{BASE}?page=1&per_page=10"
        query = parse_qs(urlsplit(url).query)
        page, per_page = int(query["page"][0]), int(query["per_page"][0])
        size = min(per_page, cap) if cap else per_page
        rows = ROWS[(page - 1) * per_page : (page - 1) * per_page + size]
        headers = {}
        if page * per_page < len(ROWS):
            headers["Link"] = f'</items?page={page + 1}&per_page={per_page}>; rel="next"'
        return rows, headers, url

    return respond


def keyset_server(has_more: bool = True) -> Responder:
    """``{"data", "has_more"}`` after a given id."""

    def respond(request: PageRequest) -> tuple[Any, Mapping[str, str], str]:
        after = int(request.params.get("starting_after", 0))
        limit = int(request.params["limit"])
        rows = [r for r in ROWS if r["id"] > after][:limit]
        body: dict[str, Any] = {"data": rows}
        if has_more:
            body["has_more"] = bool(rows) and rows[-1]["id"] < len(ROWS)
        return body, {}, BASE

    return respond


@pytest.mark.parametrize(
    ("paginator", "server", "stop", "pages"),
    [
        (OffsetPaginator(limit=10, total_path="total"), offset_server(), "total_reached", 3),
        (OffsetPaginator(limit=10), offset_server(total=False), "short_page", 3),
        (OffsetPaginator(limit=5), offset_server(total=False), "empty_page", 6),
        (PageNumberPaginator(per_page=10), page_server(), "no_next_link", 3),
        (PageNumberPaginator(per_page=10), page_server(link=False), "short_page", 3),
        (PageNumberPaginator(per_page=5), page_server(link=False), "empty_page", 6),
        (CursorPaginator(limit=10), cursor_server(), "no_next_token", 3),
        (LinkHeaderPaginator(page_size=10), link_server(), "no_next_link", 3),
        (KeysetPaginator(limit=10), keyset_server(), "has_more_false", 3),
        (KeysetPaginator(limit=10, has_more_path=None), keyset_server(False), "short_page", 3),
        (KeysetPaginator(limit=5, has_more_path=None), keyset_server(False), "empty_page", 6),
    ],
)
def test_every_style_returns_each_record_once_and_names_its_stop_rule(
    paginator: Paginator, server: Responder, stop: str, pages: int
) -> None:
    """All 25 records, in order, once; the run ends by the expected rule after N pages."""
    records, walker = walk(paginator, server)
    assert records == ROWS
    assert walker.stop == stop
    assert walker.pages == pages
    assert walker.records == 25


def test_link_paginator_resolves_relative_links_against_the_page_url() -> None:
    """A relative ``</items?page=2>`` is followed as an absolute URL on the same host."""
    walker = PageWalker(LinkHeaderPaginator(page_size=10))
    request = walker.next_request
    assert request is not None
    body, headers, url = link_server()(request)
    walker.feed(Page(body, headers, url, request))
    assert walker.next_request is not None
    assert walker.next_request.url == "http://api.test/items?page=2&per_page=10"


def test_single_page() -> None:
    """SinglePage fetches once; a dict body counts as one record."""
    records, walker = walk(SinglePage(), lambda r: ({"id": 1}, {}, BASE))
    assert records == [{"id": 1}]
    assert walker.stop == "single_page"


def test_max_pages_stops_early() -> None:
    """max_pages ends the run with its own stop rule."""
    records, walker = walk(CursorPaginator(limit=10), cursor_server(), max_pages=2)
    assert len(records) == 20
    assert walker.stop == "max_pages"


@pytest.mark.parametrize(
    "tokens",
    [
        ["A", "A"],  # the same token twice in a row
        ["A", "B", "A"],  # a longer cycle: only a memory of all tokens catches it
    ],
)
def test_repeated_cursor_anywhere_in_the_run_is_a_cycle(tokens: list[str | None]) -> None:
    """A cursor seen earlier in the run raises PaginationError instead of looping."""
    paginator = CursorPaginator(limit=10)

    def respond(request: PageRequest) -> tuple[Any, Mapping[str, str], str]:
        rows = ROWS[request.number - 1 :][:10]  # different records on every page
        return {"data": rows, "next_cursor": tokens.pop(0) if tokens else None}, {}, BASE

    with pytest.raises(PaginationError, match="Ciclo") as caught:
        walk(paginator, respond)
    assert caught.value.page is not None


def test_server_that_ignores_the_offset_is_caught() -> None:
    """A server returning page 1 whatever the offset raises instead of repeating it."""

    def respond(request: PageRequest) -> tuple[Any, Mapping[str, str], str]:
        return {"data": ROWS[:10], "total": len(ROWS)}, {}, BASE

    with pytest.raises(PaginationError, match="idéntica a la anterior") as caught:
        walk(OffsetPaginator(limit=10, total_path="total"), respond)
    assert caught.value.page == 2


def test_link_that_points_back_is_a_cycle() -> None:
    """A ``next`` link to an already visited URL is detected."""

    def respond(request: PageRequest) -> tuple[Any, Mapping[str, str], str]:
        rows = ROWS[request.number - 1 :][:10]
        return rows, {"Link": f'<{BASE}?page=1>; rel="next"'}, BASE

    paginator = LinkHeaderPaginator()
    with pytest.raises(PaginationError, match="Ciclo"):
        walk(paginator, respond)


@pytest.mark.parametrize(
    ("paginator", "server"),
    [
        (OffsetPaginator(limit=10, total_path="total"), offset_server(cap=4)),
        (PageNumberPaginator(per_page=10), page_server(cap=4)),
        (LinkHeaderPaginator(page_size=10), link_server(cap=4)),
        (CursorPaginator(limit=10), cursor_server(["c4", "c8", None])),
    ],
)
def test_silent_page_size_cap_is_detected(paginator: Paginator, server: Responder) -> None:
    """A server that returns 4 when asked for 10 while announcing more is caught."""
    if isinstance(paginator, CursorPaginator):
        # A bare cursor cannot announce "more": the cap shows when a short page is not last.
        full = server

        def capped(request: PageRequest) -> tuple[Any, Mapping[str, str], str]:
            body, headers, url = full(request)
            body["data"] = body["data"][:4]
            return body, headers, url

        server = capped
    with pytest.raises(PaginationError, match="Tope silencioso") as caught:
        walk(paginator, server)
    assert "4" in str(caught.value)


def test_short_last_page_with_a_trailing_cursor_is_not_a_cap() -> None:
    """A short page followed by an empty one is simply the end, not a cap."""
    tokens: list[str | None] = ["x1", "x2", "x3"]
    pages = [ROWS[:10], ROWS[10:14], []]

    def respond(request: PageRequest) -> tuple[Any, Mapping[str, str], str]:
        return {"data": pages.pop(0), "next_cursor": tokens.pop(0) if tokens else None}, {}, BASE

    records, walker = walk(CursorPaginator(limit=10), respond)
    assert len(records) == 14
    assert walker.stop == "empty_page"


@pytest.mark.parametrize(
    ("paginator", "body", "message"),
    [
        (OffsetPaginator(), {"items": []}, "no tiene el campo de registros 'data'"),
        (OffsetPaginator(), {"data": {"a": 1}}, "no es una lista"),
        (OffsetPaginator(total_path="meta.total"), {"data": [], "meta": {}}, "meta.total"),
        (OffsetPaginator(total_path="total"), {"data": [], "total": "12"}, "no es un entero"),
        (CursorPaginator(), {"data": []}, "next_cursor"),
        (CursorPaginator(), {"data": [1], "next_cursor": {"x": 1}}, "no es texto"),
        (KeysetPaginator(), {"data": [{"id": 1}]}, "has_more"),
        (KeysetPaginator(), {"data": [{"id": 1}], "has_more": "yes"}, "true/false"),
        (KeysetPaginator(limit=1), {"data": [{"x": 1}], "has_more": True}, "clave 'id'"),
        (PageNumberPaginator(), {"data": []}, "no es una lista"),
    ],
)
def test_pages_without_the_expected_field_raise_in_spanish(
    paginator: Paginator, body: Any, message: str
) -> None:
    """A page missing the field the paginator needs raises PaginationError naming it."""
    with pytest.raises(PaginationError, match=message) as caught:
        walk(paginator, lambda r: (body, {}, BASE))
    assert caught.value.page == 1


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('<https://a/x?page=2>; rel="next"', [("https://a/x?page=2", {"next"})]),
        (
            '<https://a/?p=2>; rel="next", <https://a/?p=9>; rel="last"',
            [("https://a/?p=2", {"next"}), ("https://a/?p=9", {"last"})],
        ),
        ('<https://a/x,y>; rel="next prev"', [("https://a/x,y", {"next", "prev"})]),
        ('<https://a/x>;rel=next;title="a;b,c"', [("https://a/x", {"next"})]),
        (' , <https://a/x>; REL="Next" ,', [("https://a/x", {"next"})]),
        ("", []),
    ],
)
def test_parse_link_header(header: str, expected: list[tuple[str, set[str]]]) -> None:
    """RFC 8288 links parse, including commas in URLs and quoted parameters."""
    assert [(link.url, set(link.rel)) for link in parse_link_header(header)] == expected


@pytest.mark.parametrize(
    "header",
    ['https://a/x; rel="next"', '<https://a/x; rel="next"', '<https://a/x> rel="next"',
     '<https://a/x>; rel="next', "<https://a/x>; =next"],
)  # fmt: skip
def test_malformed_link_headers(header: str) -> None:
    """Malformed Link headers raise ValueError in the parser and PaginationError in a run."""
    with pytest.raises(ValueError, match=r"se esperaba|falta|sin nombre|vacío|comillas"):
        parse_link_header(header)
    with pytest.raises(PaginationError, match="RFC 8288"):
        walk(LinkHeaderPaginator(), lambda r: (ROWS[:3], {"Link": header}, BASE))


@pytest.mark.parametrize(
    ("path", "expected"),
    [("", {"a": {"b": [1, {"c": 2}]}}), ("$", {"a": {"b": [1, {"c": 2}]}}), ("a.b[0]", 1),
     ("$.a.b[1].c", 2), ("a.b", [1, {"c": 2}])],
)  # fmt: skip
def test_json_path(path: str, expected: Any) -> None:
    """Dotted paths with indexes reach nested values."""
    assert json_path({"a": {"b": [1, {"c": 2}]}}, path) == expected


@pytest.mark.parametrize("path", ["x", "a.x", "a.b[5]", "a.b[0].c"])
def test_json_path_missing(path: str) -> None:
    """A missing segment raises LookupError."""
    with pytest.raises(LookupError):
        json_path({"a": {"b": [1]}}, path)


def test_random_access_styles_are_declared() -> None:
    """Offset and page-number paginators can jump to page n; cursor styles cannot."""
    assert isinstance(OffsetPaginator(), RandomAccessPaginator)
    assert isinstance(PageNumberPaginator(), RandomAccessPaginator)
    assert not isinstance(CursorPaginator(), RandomAccessPaginator)
    assert OffsetPaginator(limit=10).request_at(3).params == {"offset": 30, "limit": 10}


def test_resume_with_a_seen_token_is_a_cycle() -> None:
    """A walker resumed from a checkpoint remembers tokens of the previous run."""
    start = PageRequest({"cursor": "c10", "limit": 10}, None, "cursor:c10", 10, 2)
    walker = PageWalker(CursorPaginator(limit=10), start=start, seen=["cursor:<inicio>"])

    def respond(request: PageRequest) -> tuple[Any, Mapping[str, str], str]:
        return {"data": ROWS[:10], "next_cursor": "c10"}, {}, BASE

    request = walker.next_request
    assert request is not None
    with pytest.raises(PaginationError, match="Ciclo"):
        walker.feed(Page(*respond(request), request))


@pytest.mark.parametrize("size", [0, -1])
def test_page_sizes_must_be_positive(size: int) -> None:
    """A zero or negative page size is refused before any request."""
    with pytest.raises(ValueError, match="limit"):
        OffsetPaginator(limit=size)
