"""Specification of connectors_lib.tracing and of the error tree's messages."""

from __future__ import annotations

import importlib
import inspect
import math
import random
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest

import connectors_lib
from connectors_lib import errors
from connectors_lib.errors import (
    AuthError,
    ConnectorError,
    HTTPStatusError,
    PaginationError,
    RateLimitError,
    redact_url,
)
from connectors_lib.tracing import RequestTrace, latency_summary, percentile


@pytest.mark.parametrize("p", [0, 50, 95, 99, 100])
def test_percentile_matches_numpy(p: float) -> None:
    """Linear interpolation gives the same figure as numpy.percentile's default."""
    values = [random.Random(3).expovariate(10) for _ in range(257)]
    assert percentile(values, p) == pytest.approx(float(np.percentile(values, p)))


def test_latency_summary_and_empty_run() -> None:
    """P50/P95/P99 of 1..100 ms; an empty run gives NaN and a clear sentence."""
    summary = latency_summary([n / 1000 for n in range(1, 101)])
    assert summary.requests == 100
    assert (summary.p50, summary.p95, summary.p99) == pytest.approx((0.0505, 0.09505, 0.09901))
    assert "P95 95.0 ms" in summary.describe()
    empty = latency_summary([])
    assert empty.requests == 0
    assert math.isnan(empty.p50)
    assert empty.describe() == "sin peticiones medidas"
    with pytest.raises(ValueError, match="entre 0 y 100"):
        percentile([1.0], 101)


def test_trace_redacts_urls_and_keeps_no_headers() -> None:
    """The trace masks credential-like query values; records have no header field."""
    trace = RequestTrace()
    record = trace.add(
        request_id="req-000001", attempt=1, method="GET",
        url="http://h/x?api_key=SECRET&page=2", status=200, error=None, latency=0.01,
    )  # fmt: skip
    assert "SECRET" not in repr(record)
    assert "page=2" in record.url
    assert "headers" not in record._fields
    assert len(trace) == 1
    assert trace.latencies() == [0.01]
    trace.clear()
    assert trace.records == []


@pytest.mark.parametrize(
    ("url", "hidden", "kept"),
    [
        ("https://user:pw@h/p?x=1", "pw", "x=1"),
        ("https://h/p?access_token=abc&q=ok", "abc", "q=ok"),
        ("https://h/p?client_secret=s3&Signature=zz", "s3", "h/p"),
    ],
)
def test_redact_url(url: str, hidden: str, kept: str) -> None:
    """Passwords in user info and secret-looking query values never appear."""
    shown = redact_url(url)
    assert hidden not in shown
    assert kept in shown


def test_error_tree_is_drawn_and_complete() -> None:
    """Every public error class is a ConnectorError and appears in the docstring's tree."""
    doc = errors.__doc__ or ""
    for name in errors.__all__:
        value = getattr(errors, name)
        if isinstance(value, type):
            assert issubclass(value, ConnectorError)
            assert name in doc, name


def test_every_error_of_the_package_is_in_the_drawn_tree() -> None:
    """Errors defined beside their connector (graphql, sftp, validation) are drawn too."""
    import connectors_lib

    doc = errors.__doc__ or ""
    for name in connectors_lib.__all__:
        value = getattr(connectors_lib, name)
        if isinstance(value, type) and issubclass(value, ConnectorError):
            assert f"{name}" in doc, name


@pytest.mark.parametrize(
    ("status", "kind", "words"),
    [
        (429, RateLimitError, "Retry-After"),
        (401, AuthError, "credenciales"),
        (403, AuthError, "permiso"),
        (503, HTTPStatusError, "reinténtalo"),
        (404, HTTPStatusError, "revisa ruta"),
        (302, HTTPStatusError, "follow_redirects"),
    ],
)
def test_from_response_picks_the_specific_error(
    status: int, kind: type[HTTPStatusError], words: str
) -> None:
    """HTTP statuses map to the most specific class with a Spanish next step."""
    request = httpx.Request("GET", "https://h/orders?token=zzz")
    response = httpx.Response(
        status, headers={"Retry-After": "5", "Location": "/x"}, request=request
    )
    error = HTTPStatusError.from_response(response, page=3)
    assert type(error) is kind
    assert error.status == status
    assert error.retry_after_raw == "5"
    text = str(error)
    assert words in text
    assert "página 3" in text
    assert "zzz" not in text


def test_context_is_carried() -> None:
    """Errors keep page and path context and show them in str()."""
    error = PaginationError("mal", page=2, path="data")
    assert (error.page, error.path, error.request, error.response) == (2, "data", None, None)
    assert str(error) == "mal [página 2; ruta 'data']"


MODULES = ["errors", "retry", "ratelimit", "circuit", "pagination", "state", "tracing", "rest"]
#: Every public module, private helpers included (_sftp_*): each one's __all__ must be complete.
ALL_MODULES = sorted(
    p.stem for p in Path(connectors_lib.__file__).parent.glob("*.py") if p.stem != "__init__"
)


@pytest.mark.parametrize("name", ALL_MODULES)
def test_all_is_complete_and_resolves(name: str) -> None:
    """Each module's __all__ names exist, and every public class or function is listed."""
    module = importlib.import_module(f"connectors_lib.{name}")
    exported = set(module.__all__)
    assert all(hasattr(module, item) for item in exported)
    defined = {
        attr
        for attr, value in vars(module).items()
        if not attr.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and getattr(value, "__module__", None) == module.__name__
    }
    assert defined <= exported, defined - exported


def test_light_modules_do_not_import_heavy_dependencies() -> None:
    """Only rest.py may load httpx; none may load pandas, pandera, paramiko or gql."""
    light = ", ".join(f"connectors_lib.{m}" for m in MODULES if m != "rest")
    code = (
        f"import sys, {light}\n"
        "heavy = ['httpx', 'pandas', 'pandera', 'paramiko', 'gql']\n"
        "print([m for m in heavy if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
