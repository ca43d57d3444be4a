"""Pagination of the lab REST API: four styles, each returning the dataset exactly once."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import requests
from conftest import RestLab

Mutation = Callable[[int], None]  # called with the page number just read


def _noop(_: int) -> None:
    return None


def walk(
    lab: RestLab, style: str, *, order: str = "asc", size: int = 100,
    client: str = "requests", path: str = "/api/v1/orders", after_page: Mutation = _noop,
    headers: dict[str, str] | None = None,
) -> list[int]:
    """Read a whole collection as a client would in ``style``; returns the ids in order."""
    url = lab.base_url + path
    hdrs = headers or lab.headers()
    session: Any = requests.Session() if client == "requests" else httpx.Client(timeout=5)
    ids: list[int] = []
    params: dict[str, Any] | None = {"order": order}
    if style == "offset":
        params |= {"offset": 0, "limit": size}
    elif style == "page":
        params |= {"page": 1, "per_page": size}
    elif style == "cursor":
        params |= {"cursor": "", "limit": size}
    else:
        params |= {"style": "keyset", "limit": size}
    with session:
        for page_number in range(1, 1000):
            response = session.get(url, params=params, headers=hdrs)
            assert response.status_code == 200, response.text
            body = response.json()
            rows = body if style == "page" else body["data"]
            ids += [row["id"] for row in rows]
            after_page(page_number)
            if style == "offset":
                if body["offset"] + body["limit"] >= body["total"]:
                    break
                params["offset"] += size
            elif style == "page":
                links = requests.utils.parse_header_links(response.headers["Link"])
                nxt = [link["url"] for link in links if link["rel"] == "next"]
                if not nxt:
                    break
                url, params = nxt[0], None
            elif style == "cursor":
                if body["next_cursor"] is None:
                    break
                params = {"cursor": body["next_cursor"], "limit": size}
            else:
                if not body["has_more"]:
                    break
                params = {"starting_after": ids[-1], "limit": size, "order": order}
    return ids


STYLES = ["offset", "page", "cursor", "keyset"]


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize(("style", "client"), [
    ("offset", "requests"), ("page", "httpx"), ("cursor", "requests"), ("keyset", "httpx"),
])
def test_each_style_returns_every_order_exactly_once(
    rest_lab: RestLab, style: str, client: str, order: str
) -> None:
    """Walking the orders in any style and order yields all 1,200 ids once, in list order."""
    ids = walk(rest_lab, style, order=order, client=client, size=97)
    expected = sorted(o["id"] for o in rest_lab.state.data.orders)
    assert ids == (expected if order == "asc" else expected[::-1])


@pytest.mark.parametrize("path", ["/api/v1/customers", "/api/v1/products"])
@pytest.mark.parametrize("style", STYLES)
def test_customers_and_products_page_the_same_way(rest_lab: RestLab, path: str, style: str) -> None:
    """Customers and products accept the same four styles and return each record once."""
    records = rest_lab.state.data.customers if "customers" in path else rest_lab.state.data.products
    assert walk(rest_lab, style, path=path, size=13) == sorted(r["id"] for r in records)


@pytest.mark.parametrize("style", STYLES)
def test_deleting_seen_rows_makes_only_offset_styles_skip(rest_lab: RestLab, style: str) -> None:
    """Deleting 10 already-read orders mid-run: offset/page skip 10 rows, cursor/keyset none."""
    data = rest_lab.state.data

    def delete_after_first(page: int) -> None:
        if page == 1:
            data.delete_orders(list(range(1, 11)))

    ids = walk(rest_lab, style, after_page=delete_after_first)
    remaining = {o["id"] for o in data.orders}
    missing = remaining - set(ids)
    assert len(ids) == len(set(ids))
    assert len(missing) == (10 if style in ("offset", "page") else 0)


@pytest.mark.parametrize("style", STYLES)
def test_inserting_newest_first_makes_only_offset_styles_repeat(
    rest_lab: RestLab, style: str
) -> None:
    """With order=desc, 5 inserts mid-run repeat 5 rows for offset/page, none for cursors."""
    data, clock = rest_lab.state.data, rest_lab.clock
    original = [o["id"] for o in data.orders]

    def insert_after_first(page: int) -> None:
        if page == 1:
            data.insert_orders(5, created_at=clock.now())

    ids = walk(rest_lab, style, order="desc", after_page=insert_after_first)
    repeated = len(ids) - len(set(ids))
    assert repeated == (5 if style in ("offset", "page") else 0)
    assert set(original) <= set(ids)


def test_silent_cap_fault_returns_fewer_rows_than_asked(rest_lab: RestLab) -> None:
    """A cap=50 fault returns 50 rows while still echoing limit=100 and the true total."""
    r = requests.get(rest_lab.orders_url, params={"limit": 100},
                     headers=rest_lab.headers(**{"X-Mock-Fault": "cap=50"}), timeout=5)
    body = r.json()
    assert (len(body["data"]), body["limit"], body["total"]) == (50, 100, 1200)


def test_permanent_cap_rule_loses_rows_for_page_numbers_but_not_cursors(rest_lab: RestLab) -> None:
    """Under a permanent cap rule, page-number paging loses half the rows; cursors still get all."""
    rest_lab.state.faults.add("cap=50", path="/api/v1/orders", times=None)
    assert len(walk(rest_lab, "page", size=100)) == 600
    assert len(walk(rest_lab, "cursor", size=100)) == 1200


def test_link_header_on_first_last_and_past_the_end(rest_lab: RestLab) -> None:
    """Page 1 links next/first/last, the last page links prev, past the end is an empty list."""
    get = lambda page: requests.get(  # noqa: E731
        rest_lab.orders_url, params={"page": page, "per_page": 500},
        headers=rest_lab.headers(), timeout=5)
    first, last, beyond = get(1), get(3), get(4)
    assert set(first.links) == {"next", "first", "last"}
    assert "page=2" in first.links["next"]["url"]
    assert "page=3" in first.links["last"]["url"]
    assert set(last.links) == {"prev", "first", "last"}
    assert len(last.json()) == 200
    assert last.headers["X-Total-Count"] == "1200"
    assert beyond.status_code == 200
    assert beyond.json() == []


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(("query", "needle"), [
    ({"limit": 0}, "'limit' debe ser mayor o igual que 1"),
    ({"limit": 501}, "'limit' debe ser menor o igual que 500"),
    ({"limit": "diez"}, "'limit' debe ser un número entero"),
    ({"offset": -1}, "'offset' debe ser mayor o igual que 0"),
    ({"page": 0}, "'page' debe ser mayor o igual que 1"),
    ({"per_page": 1000}, "'per_page' debe ser menor o igual que 500"),
    ({"order": "arriba"}, "'order' debe ser uno de"),
    ({"style": "magia"}, "'style' debe ser uno de"),
    ({"starting_after": -5}, "'starting_after' debe ser mayor o igual que 0"),
    ({"cursor": "%%%no-es-base64"}, "El cursor no es válido"),
    ({"cursor": _b64(b"[1, 2]")}, "El cursor no es válido"),
    ({"cursor": _b64(b'{"v": 1, "after": "x", "order": "asc"}')}, "El cursor no es válido"),
    ({"cursor": _b64(b"\xff\xfe")}, "El cursor no es válido"),
    ({"cursor": "x" * 201}, "admite como máximo 200"),
    ({"offset": 10, "cursor": ""}, "no se admite offset"),
    ({"page": 2, "limit": 10}, "no se admite limit"),
    ({"style": "keyset", "offset": 5}, "no se admite offset"),
])
def test_bad_paging_parameters_get_a_spanish_400_problem(
    rest_lab: RestLab, query: dict[str, Any], needle: str
) -> None:
    """Every malformed paging parameter is a 400 problem+json saying what is wrong, in Spanish."""
    r = httpx.get(rest_lab.orders_url, params=query, headers=rest_lab.headers())
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    assert needle in r.json()["detail"]


def test_a_cursor_cannot_change_direction(rest_lab: RestLab) -> None:
    """A descending cursor sent with order=asc is refused instead of silently reinterpreted."""
    first = httpx.get(rest_lab.orders_url, params={"cursor": "", "order": "desc", "limit": 5},
                      headers=rest_lab.headers()).json()
    params = {"cursor": first["next_cursor"], "order": "asc"}
    r = httpx.get(rest_lab.orders_url, params=params, headers=rest_lab.headers())
    assert r.status_code == 400
    assert "desc" in r.json()["detail"]


@pytest.mark.parametrize(("path", "status"), [
    ("/api/v1/orders/57", 200), ("/api/v1/customers/13", 200), ("/api/v1/products/1", 200),
    ("/api/v1/orders/999999", 404), ("/api/v1/customers/0", 404),
])
def test_single_record_by_id(rest_lab: RestLab, path: str, status: int) -> None:
    """A record by id is 200 with that record (broken ones too), or a 404 problem."""
    r = requests.get(rest_lab.base_url + path, headers=rest_lab.headers(), timeout=5)
    assert r.status_code == status
    if status == 200:
        assert r.json()["id"] == int(path.rsplit("/", 1)[1])
    else:
        assert r.headers["content-type"] == "application/problem+json"
        assert "No hay ningún registro" in r.json()["detail"]


def test_entries_catalogue_is_public_and_pages_like_the_original_lesson(rest_lab: RestLab) -> None:
    """`/entries` needs no key; page/per_page=20 give 20 entries while count stays the total."""
    whole = requests.get(f"{rest_lab.base_url}/entries", timeout=5).json()
    pages = [requests.get(f"{rest_lab.base_url}/entries", params={"page": p, "per_page": 20},
                          timeout=5).json() for p in (1, 2, 3, 4)]
    assert whole["count"] == len(whole["entries"]) == 60
    assert [len(p["entries"]) for p in pages] == [20, 20, 20, 0]
    assert all(p["count"] == 60 for p in pages)
    assert [e for p in pages for e in p["entries"]] == whole["entries"]
    assert {"API", "Description", "HTTPS", "Auth", "Cors", "Link", "Category"} == set(
        whole["entries"][0])
