"""Property test: no input the OpenAPI document allows, or breaks, makes the lab answer 5xx.

Schemathesis reads the app's own ``/openapi.json`` and generates valid and
invalid requests for every REST, catalogue and admin operation; hypothesis
keeps it bounded (a handful of examples per operation, no shrinking database).
"""

from __future__ import annotations

import hypothesis
import pytest
import requests
import schemathesis
from conftest import ADMIN_TOKEN, KEY_ANA, RestLab
from hypothesis import HealthCheck, Phase, given
from hypothesis import strategies as st
from schemathesis.generation.modes import GenerationMode

#: Our operations only: OAuth2 and GraphQL have their own tests and owners.
OURS = r"^/(api/v1/|entries$|__admin/)"
EXAMPLES_PER_OPERATION = 5


def test_no_generated_request_gets_a_server_error(rest_lab: RestLab) -> None:
    """Generated valid and invalid requests never get a 5xx; every 4xx is problem+json."""
    schema = schemathesis.openapi.from_url(f"{rest_lab.base_url}/openapi.json")
    operations = [r.ok() for r in schema.include(path_regex=OURS).get_all_operations()]
    assert len(operations) >= 10
    session = requests.Session()
    # Real credentials, so generated requests reach the parameter checks behind auth.
    session.headers.update({"X-API-Key": KEY_ANA, "X-Admin-Token": ADMIN_TOKEN})
    seen: set[int] = set()

    for operation in operations:
        cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                          operation.as_strategy(GenerationMode.NEGATIVE))

        @hypothesis.settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                             phases=[Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=cases)
        def check(case: schemathesis.Case) -> None:
            if case.path == "/__admin/reset" or case.path.startswith("/__admin/data"):
                # Keep the shared lab's data as seeded for the rest of the run.
                case.headers = {**(case.headers or {}), "X-Admin-Token": "no"}
            response = case.call(base_url=rest_lab.base_url, session=session, timeout=5)
            seen.add(response.status_code)
            assert response.status_code < 500, (case.method, case.formatted_path, response.text)
            if response.status_code >= 400:
                # schemathesis keeps every header as a list of values
                assert response.headers["content-type"] == ["application/problem+json"]
                assert response.json()["detail"]

        check()
    assert any(code < 300 for code in seen)
    assert any(400 <= code < 500 for code in seen)


@pytest.mark.parametrize("query", [
    "limit=1e3", "limit=", "offset=NaN", "page=%FF", "cursor=%00", "order=", "per_page=-0",
    "starting_after=99999999999999999999999", "style=cursor&cursor=" + "A" * 200,
])
def test_hand_picked_hostile_queries_are_4xx(rest_lab: RestLab, query: str) -> None:
    """Odd encodings and huge numbers in the query are a 400 problem, never a 500."""
    r = requests.get(f"{rest_lab.orders_url}?{query}", headers=rest_lab.headers(), timeout=5)
    assert 400 <= r.status_code < 500, r.text
    assert r.headers["content-type"] == "application/problem+json"
