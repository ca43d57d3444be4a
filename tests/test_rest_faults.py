"""REST lab: fault injection (header, counted, per key, seeded random), admin API, journal."""

from __future__ import annotations

import json

import httpx
import pytest
import requests
from conftest import KEY_ANA, KEY_BETO, RestLab

from connectors_lib.clock import DEFAULT_EPOCH
from mock_servers.faults import FaultController, FaultSpec, FaultSpecError, parse_fault_spec


@pytest.mark.parametrize(("text", "spec"), [
    ("status=503", FaultSpec(status=503)),
    ("status=503;retry_after=2", FaultSpec(status=503, retry_after=2.0)),
    (" STATUS = 429 , retry_after=0.5 ", FaultSpec(status=429, retry_after=0.5)),
    ("delay=1.5;truncate=10", FaultSpec(delay=1.5, truncate=10)),
    ("malformed;cap=50", FaultSpec(malformed=True, cap=50)),
])
def test_fault_grammar_parses_and_prints_back(text: str, spec: FaultSpec) -> None:
    """Valid specs parse to the expected FaultSpec, and str() gives a spec that parses the same."""
    assert parse_fault_spec(text) == spec
    assert parse_fault_spec(str(spec)) == spec


@pytest.mark.parametrize(("text", "needle"), [
    ("", "vacía"),
    ("status=200", "entre 400 y 599"),
    ("status=abc", "entero"),
    ("delay=-1", "entre 0 y 300"),
    ("delay=nan", "entre 0 y 300"),
    ("retry_after=2", "junto a 'status'"),
    ("explode", "desconocido"),
    ("malformed=yes", "desconocido"),
    ("cap=0", "entre 1"),
    ("status=500;status=503", "dos veces"),
])
def test_fault_grammar_rejects_bad_specs_in_spanish(text: str, needle: str) -> None:
    """Malformed specs raise FaultSpecError naming the problem."""
    with pytest.raises(FaultSpecError, match=needle):
        parse_fault_spec(text)


def test_counted_rule_fires_n_times_per_matching_request_only() -> None:
    """times=2 on one path affects its next two requests, not other paths, then expires."""
    faults = FaultController(seed=1)
    faults.add("status=503", path="/api/v1/orders", times=2)
    seen = [faults.resolve("GET", p, None) for p in
            ("/api/v1/customers", "/api/v1/orders", "/api/v1/orders", "/api/v1/orders")]
    assert [s.status if s else None for s in seen] == [None, 503, 503, None]
    assert faults.rules() == []


def test_probabilistic_rule_is_reproducible_per_seed_and_caller() -> None:
    """The same seed and caller give the same sequence, whatever another caller does."""
    def run(noise: int) -> list[bool]:
        faults = FaultController(seed=7)
        faults.add("status=500", times=None, probability=0.3)
        out = []
        for _ in range(50):
            for _ in range(noise):
                faults.resolve("GET", "/x", "otro")
            out.append(faults.resolve("GET", "/x", "ana") is not None)
        return out

    quiet, noisy = run(0), run(3)
    assert quiet == noisy
    assert 5 < sum(quiet) < 30


@pytest.mark.parametrize(("fault", "status", "check"), [
    ("status=503;retry_after=2", 503, "retry"),
    ("status=429", 429, "problem"),
    ("truncate=25", 200, "truncated"),
    ("malformed", 200, "malformed"),
])
def test_header_faults_over_http(rest_lab: RestLab, fault: str, status: int, check: str) -> None:
    """X-Mock-Fault changes only that request, as the spec says."""
    r = requests.get(rest_lab.orders_url, params={"limit": 3},
                     headers=rest_lab.headers(**{"X-Mock-Fault": fault}), timeout=5)
    assert r.status_code == status
    if check == "retry":
        assert r.headers["Retry-After"] == "2"
    if check == "problem":
        assert r.json()["type"].endswith("fallo-inyectado")
    if check == "truncated":
        assert len(r.content) == 25
        assert r.content.startswith(b'{"data":[{"id":1,')
    if check in ("truncated", "malformed"):
        with pytest.raises(json.JSONDecodeError):
            json.loads(r.content)
    ok = requests.get(rest_lab.orders_url, params={"limit": 3}, headers=rest_lab.headers(),
                      timeout=5)
    assert ok.status_code == 200
    assert len(ok.json()["data"]) == 3


def test_delay_fault_advances_the_lab_clock_not_the_wall_clock(rest_lab: RestLab) -> None:
    """delay=30 moves the virtual clock 30 s (no real wait, and not counted as a client wait)."""
    before = rest_lab.clock.now()
    r = httpx.get(rest_lab.orders_url, headers=rest_lab.headers(**{"X-Mock-Fault": "delay=30"}),
                  timeout=2)
    assert r.status_code == 200
    assert rest_lab.clock.now() - before == 30
    assert rest_lab.clock.waits == []


@pytest.mark.parametrize("header", ["status=200", "boom", "delay=9999"])
def test_bad_fault_header_is_a_400_problem(rest_lab: RestLab, header: str) -> None:
    """A malformed X-Mock-Fault is the client's mistake: 400 with an example of a valid one."""
    r = httpx.get(rest_lab.orders_url, headers=rest_lab.headers(**{"X-Mock-Fault": header}))
    assert r.status_code == 400
    assert "status=503;retry_after=2" in r.json()["detail"]


def test_counted_scenario_fail_twice_then_succeed(rest_lab: RestLab) -> None:
    """'The next 2 requests get 503, then success', as a client with retries would see it."""
    rest_lab.state.faults.add("status=503;retry_after=1", path="/api/v1/orders", times=2)
    codes = [httpx.get(rest_lab.orders_url, headers=rest_lab.headers()).status_code
             for _ in range(3)]
    assert codes == [503, 503, 200]


def test_scenarios_are_per_api_key(rest_lab: RestLab) -> None:
    """A rule for Ana's key leaves Beto's requests alone."""
    rest_lab.state.faults.add("status=500", key=KEY_ANA, times=None)
    ana = httpx.get(rest_lab.orders_url, headers=rest_lab.headers(KEY_ANA))
    beto = httpx.get(rest_lab.orders_url, headers=rest_lab.headers(KEY_BETO))
    assert (ana.status_code, beto.status_code) == (500, 200)


def test_journal_records_each_request_with_fault_and_lab_time(rest_lab: RestLab) -> None:
    """Every request lands in the journal with its status, fault, learner and lab-clock time."""
    rest_lab.state.faults.add("status=503", path="/api/v1/orders", times=1)
    httpx.get(rest_lab.orders_url, params={"limit": 2}, headers=rest_lab.headers())
    rest_lab.clock.sleep(5)
    httpx.get(rest_lab.orders_url, params={"limit": 2}, headers=rest_lab.headers(KEY_BETO))
    httpx.get(f"{rest_lab.base_url}/entries")
    rows = rest_lab.state.journal.to_records()
    assert [(r["status"], r["fault"], r["learner"], r["clock_time"]) for r in rows] == [
        (503, "status=503", "ana", DEFAULT_EPOCH),
        (200, None, "beto", DEFAULT_EPOCH + 5),
        (200, None, None, DEFAULT_EPOCH + 5),
    ]
    assert [r["request_id"] for r in rows] == ["req-000001", "req-000002", "req-000003"]
    assert rows[0]["query"] == "limit=2"
    assert rows[0]["latency_ms"] > 0


@pytest.mark.parametrize(("sent", "status", "echoed"), [
    (None, 200, "req-000001"),
    ("mi-id.42", 200, "mi-id.42"),
    ("x" * 65, 400, None),
    ("con espacios", 400, None),
])
def test_request_id_is_generated_or_echoed(
    rest_lab: RestLab, sent: str | None, status: int, echoed: str | None
) -> None:
    """X-Request-ID counts from req-000001, echoes a valid client id and refuses a bad one."""
    extra = {} if sent is None else {"X-Request-ID": sent}
    r = httpx.get(rest_lab.orders_url, headers=rest_lab.headers(**extra))
    assert r.status_code == status
    if echoed is not None:
        assert r.headers["X-Request-ID"] == echoed


@pytest.mark.parametrize("headers", [{}, {"X-Admin-Token": "mal"}, {"X-API-Key": KEY_ANA}])
def test_admin_api_needs_the_admin_token(rest_lab: RestLab, headers: dict[str, str]) -> None:
    """Learners' keys (or a wrong token) cannot touch /__admin/."""
    r = httpx.post(f"{rest_lab.base_url}/__admin/reset", headers=headers)
    assert r.status_code == 401
    assert "X-Admin-Token" in r.json()["detail"]


def test_admin_api_manages_faults_journal_and_data(rest_lab: RestLab) -> None:
    """The admin API adds/lists/removes rules, reads the journal, edits data and resets."""
    admin = httpx.Client(base_url=f"{rest_lab.base_url}/__admin", headers=rest_lab.admin_headers)
    with admin:
        rule = admin.post("/faults", json={"fault": "status=502", "path": "/api/v1/*",
                                           "times": 3, "key": KEY_BETO})
        assert rule.status_code == 201
        assert rule.json()["remaining"] == 3
        assert [r["id"] for r in admin.get("/faults").json()] == [rule.json()["id"]]
        assert httpx.get(rest_lab.orders_url, headers=rest_lab.headers(KEY_BETO)).status_code == 502
        assert admin.get("/faults").json()[0]["remaining"] == 2
        assert admin.delete(f"/faults/{rule.json()['id']}").status_code == 204
        assert admin.delete("/faults/999").status_code == 404
        bad = admin.post("/faults", json={"fault": "status=999"})
        assert bad.status_code == 400
        assert "599" in bad.json()["detail"]

        journal = admin.get("/requests").json()
        assert [(e["path"], e["status"], e["learner"]) for e in journal] == [
            ("/api/v1/orders", 502, "beto")]

        inserted = admin.post("/data/orders", json={"count": 2}).json()["inserted"]
        assert inserted == [1201, 1202]
        assert admin.post("/data/orders/delete", json={"ids": [1, 2, 3]}).json()["deleted"] == 3
        assert admin.get("/state").json()["orders"] == 1199
        assert admin.post("/data/orders", json={"count": 0}).status_code == 400

        assert admin.post("/reset").status_code == 204
        assert admin.get("/state").json()["orders"] == 1200
        assert admin.get("/requests").json() == []


@pytest.mark.parametrize(("retry_after", "header"), [("0.5", "1"), ("2", "2"), ("2.1", "3")])
def test_fault_retry_after_is_whole_seconds_rounded_up(
    rest_lab: RestLab, retry_after: str, header: str
) -> None:
    """Retry-After is delay-seconds, an integer: fractional specs round up, never down to 0."""
    fault = f"status=503;retry_after={retry_after}"
    r = httpx.get(rest_lab.orders_url, headers=rest_lab.headers(**{"X-Mock-Fault": fault}))
    assert r.headers["Retry-After"] == header


def test_server_thread_writes_nothing_to_the_cell(
    rest_lab: RestLab, capfd: pytest.CaptureFixture[str]
) -> None:
    """Errors, faults and 404s produce no output on stdout/stderr (nothing reaches a notebook)."""
    for headers in ({}, rest_lab.headers(**{"X-Mock-Fault": "status=500"}),
                    rest_lab.headers(**{"X-Mock-Fault": "malformed"})):
        httpx.get(rest_lab.orders_url, headers=headers)
    httpx.get(f"{rest_lab.base_url}/no-existe")
    httpx.post(rest_lab.orders_url, headers=rest_lab.headers())
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")
