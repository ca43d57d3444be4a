"""REST lab: API-key and bearer authentication, per-key rate limits, ETag and 304."""

from __future__ import annotations

import email.utils
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
from conftest import KEY_ANA, KEY_BETO, RestLab

from connectors_lib.clock import DEFAULT_EPOCH
from mock_servers.state import BearerCheck

TOKENS: dict[str, dict[str, Any]] = {
    "tok-all": {"client_id": "etl", "scope": "orders:read customers:read products:read"},
    "tok-customers": {"client_id": "crm", "scope": "customers:read"},
}


@pytest.fixture
def bearer_lab(rest_lab: RestLab) -> Iterator[RestLab]:
    """The lab with a bearer checker that knows TOKENS (as the OAuth2 server would install)."""
    previous: BearerCheck | None = rest_lab.state.bearer_check
    rest_lab.state.bearer_check = TOKENS.get
    yield rest_lab
    rest_lab.state.bearer_check = previous


@pytest.mark.parametrize(("headers", "slug"), [
    ({}, "no-autenticado"),
    ({"X-API-Key": "clave-falsa"}, "clave-invalida"),
    ({"X-API-Key": ""}, "clave-invalida"),
    ({"Authorization": "Basic YWxhZGRpbjpvcGVu"}, "no-autenticado"),
])
def test_missing_or_wrong_api_key_is_a_spanish_401_problem(
    rest_lab: RestLab, headers: dict[str, str], slug: str
) -> None:
    """Without a valid key the API answers 401 problem+json with a challenge and advice."""
    r = requests.get(rest_lab.orders_url, headers=headers, timeout=5)
    body = r.json()
    assert r.status_code == 401
    assert r.headers["Content-Type"] == "application/problem+json"
    assert body["type"].endswith(slug)
    assert body["status"] == 401
    assert "X-API-Key" in body["detail"]
    assert "ApiKey" in r.headers["WWW-Authenticate"]


@pytest.mark.parametrize(("token", "path", "status", "error"), [
    ("tok-all", "/api/v1/orders", 200, None),
    ("tok-customers", "/api/v1/customers", 200, None),
    ("tok-customers", "/api/v1/orders", 403, 'error="insufficient_scope", scope="orders:read"'),
    ("tok-desconocido", "/api/v1/orders", 401, 'error="invalid_token"'),
    ("", "/api/v1/orders", 401, 'error="invalid_token"'),
])
def test_bearer_tokens_follow_rfc_6750(
    bearer_lab: RestLab, token: str, path: str, status: int, error: str | None
) -> None:
    """Bearer callers need the resource scope: 401 invalid_token, 403 insufficient_scope."""
    r = httpx.get(bearer_lab.base_url + path, headers={"Authorization": f"Bearer {token}".strip()})
    assert r.status_code == status
    if error is None:
        assert "WWW-Authenticate" not in r.headers
    else:
        assert error in r.headers["WWW-Authenticate"]
        assert r.headers["content-type"] == "application/problem+json"


def test_bearer_without_an_oauth_server_is_an_invalid_token(rest_lab: RestLab) -> None:
    """If no OAuth2 server installed a checker, every bearer token is refused with 401."""
    rest_lab.state.bearer_check, previous = None, rest_lab.state.bearer_check
    try:
        r = httpx.get(rest_lab.orders_url, headers={"Authorization": "Bearer tok-all"})
    finally:
        rest_lab.state.bearer_check = previous
    assert r.status_code == 401
    assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]


def test_journal_names_the_bearer_client_as_learner(bearer_lab: RestLab) -> None:
    """A bearer request is journaled under its OAuth2 client id."""
    httpx.get(bearer_lab.orders_url, headers={"Authorization": "Bearer tok-all"})
    assert bearer_lab.state.journal.entries()[-1].learner == "etl"


def test_rate_limit_429_then_sleeping_on_the_lab_clock_gets_through(make_rest_lab: Any) -> None:
    """The 11th request in a window is 429 with Retry-After; sleeping it on lab.clock works."""
    lab: RestLab = make_rest_lab()
    with httpx.Client(headers=lab.headers()) as client:
        statuses = [client.get(lab.orders_url, params={"limit": 1}).status_code for _ in range(10)]
        refused = client.get(lab.orders_url, params={"limit": 1})
        assert statuses == [200] * 10
        assert refused.status_code == 429
        wait = int(refused.headers["Retry-After"])
        assert wait == 10
        assert "lab.clock.sleep(10)" in refused.json()["detail"]
        assert refused.headers["X-RateLimit-Remaining"] == "0"
        lab.clock.sleep(wait - 1)
        assert client.get(lab.orders_url).status_code == 429
        lab.clock.sleep(1)
        assert client.get(lab.orders_url).status_code == 200


def test_rate_limit_headers_on_every_response(make_rest_lab: Any) -> None:
    """Each answer carries X-RateLimit-* and the IETF RateLimit/RateLimit-Policy headers."""
    lab: RestLab = make_rest_lab()
    lab.clock.sleep(3)
    requests.get(lab.orders_url, headers=lab.headers(), timeout=5)
    lab.clock.sleep(4)
    r = requests.get(lab.orders_url, headers=lab.headers(), timeout=5)
    assert r.headers["X-RateLimit-Limit"] == "10"
    assert r.headers["X-RateLimit-Remaining"] == "8"
    assert r.headers["X-RateLimit-Reset"] == str(int(DEFAULT_EPOCH) + 3 + 10)
    assert r.headers["RateLimit-Policy"] == '"default";q=10;w=10'
    assert r.headers["RateLimit"] == '"default";r=8;t=6'


def test_rate_limit_is_per_key(make_rest_lab: Any) -> None:
    """Ana exhausting her window does not touch Beto's."""
    lab: RestLab = make_rest_lab(rate_limit=2)
    ana = [httpx.get(lab.orders_url, headers=lab.headers(KEY_ANA)).status_code for _ in range(3)]
    beto = httpx.get(lab.orders_url, headers=lab.headers(KEY_BETO))
    assert ana == [200, 200, 429]
    assert beto.status_code == 200


def test_retry_after_as_http_date_from_the_lab_clock(make_rest_lab: Any) -> None:
    """With retry_after_format='http-date', Retry-After is the lab-clock instant of the reset."""
    lab: RestLab = make_rest_lab(rate_limit=1, retry_after_format="http-date")
    httpx.get(lab.orders_url, headers=lab.headers())
    refused = httpx.get(lab.orders_url, headers=lab.headers())
    when = email.utils.parsedate_to_datetime(refused.headers["Retry-After"]).timestamp()
    assert refused.status_code == 429
    assert when == DEFAULT_EPOCH + 10


def test_etag_304_does_not_spend_quota(make_rest_lab: Any) -> None:
    """If-None-Match with the current ETag is 304 with no body, and the quota stays put."""
    lab: RestLab = make_rest_lab(rate_limit=3)
    url, hdrs = lab.orders_url + "?limit=5", lab.headers()
    first = httpx.get(url, headers=hdrs)
    etag = first.headers["ETag"]
    again = [httpx.get(url, headers={**hdrs, "If-None-Match": etag}) for _ in range(5)]
    assert {r.status_code for r in again} == {304}
    assert all(r.content == b"" and r.headers["ETag"] == etag for r in again)
    assert again[-1].headers["X-RateLimit-Remaining"] == "2"
    assert httpx.get(url, headers={**hdrs, "If-None-Match": '"otro"'}).status_code == 200


def test_etag_changes_when_the_data_changes(rest_lab: RestLab) -> None:
    """After an insert the old ETag no longer matches, so the client gets fresh data."""
    hdrs = rest_lab.headers()
    url = rest_lab.orders_url + "?order=desc&limit=3"
    etag = httpx.get(url, headers=hdrs).headers["ETag"]
    rest_lab.state.data.insert_orders(1, created_at=rest_lab.clock.now())
    fresh = httpx.get(url, headers={**hdrs, "If-None-Match": etag})
    assert fresh.status_code == 200
    assert fresh.headers["ETag"] != etag
    assert fresh.json()["data"][0]["id"] == 1201
