"""The fault vocabulary of the proxy and its schedule, without any socket."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from mock_servers.proxy_faults import SocketFault, SocketFaults, parse_fault_header


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("reset", SocketFault("reset")),
        ("EMPTY", SocketFault("empty")),
        ("garbage", SocketFault("garbage")),
        ("hang", SocketFault("hang")),
        ("hang;ms=500", SocketFault("hang", ms=500)),
        ("latency; ms=200", SocketFault("latency", ms=200)),
        ("latency;ms=0.5", SocketFault("latency", ms=0.5)),
        ("bandwidth;kbps=5", SocketFault("bandwidth", kbps=5)),
        ("limit_data;bytes=0", SocketFault("limit_data", limit_bytes=0)),
        ("limit_data ; bytes = 100", SocketFault("limit_data", limit_bytes=100)),
    ],
)
def test_header_values_parse_to_faults(text: str, expected: SocketFault) -> None:
    """Every documented header form parses to the fault it names."""
    assert parse_fault_header(text) == expected


@pytest.mark.parametrize(
    "text",
    ["reset", "hang", "hang;ms=500", "latency;ms=200", "bandwidth;kbps=2.5", "limit_data;bytes=7"],
)
def test_text_form_round_trips(text: str) -> None:
    """``str(fault)`` is the header form, so a printed fault can be sent back as a header."""
    assert str(parse_fault_header(text)) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "desconocido"),
        ("boom", "desconocido"),
        ("down", "faults.add"),
        ("latency", "ms > 0"),
        ("latency;ms=0", "ms > 0"),
        ("latency;ms=-1", "ms > 0"),
        ("latency;ms=abc", "no es un número"),
        ("latency;ms=1;ms=2", "no válido"),
        ("latency;ms", "no válido"),
        ("latency;kbps=5", "no admite kbps"),
        ("hang;ms=-5", "ms >= 0"),
        ("bandwidth", "kbps > 0"),
        ("bandwidth;kbps=0", "kbps > 0"),
        ("limit_data", "bytes >= 0"),
        ("limit_data;bytes=-1", "bytes >= 0"),
        ("limit_data;bytes=1.5", "no es un número"),
        ("reset;bytes=3", "no lleva parámetros"),
        ("reset;rate=3", "no válido"),
    ],
)
def test_bad_header_values_are_explained_in_spanish(text: str, message: str) -> None:
    """Each malformed header raises ValueError with a hint of the right form."""
    with pytest.raises(ValueError, match=message):
        parse_fault_header(text)


@pytest.mark.parametrize(
    ("kind", "params", "message"),
    [
        ("boom", {}, "desconocido"),
        ("latency", {}, "ms > 0"),
        ("reset", {"count": 0}, "count"),
        ("reset", {"count": True}, "count"),
        ("down", {"count": 1}, "no admite count"),
        ("bandwidth", {"kbps": 1, "ms": 5}, "no admite ms"),
    ],
)
def test_add_rejects_wrong_parameters(kind: Any, params: dict[str, Any], message: str) -> None:
    """``add`` validates kind, parameters and count before scheduling anything."""
    faults = SocketFaults()
    with pytest.raises(ValueError, match=message):
        faults.add(kind, **params)
    assert faults.rules == ()


def test_counted_rules_are_used_up_and_permanent_ones_stay() -> None:
    """A rule with ``count=2`` serves two requests; one without count serves all."""
    faults = SocketFaults()
    faults.add("latency", ms=10)
    faults.add("reset", count=2)
    taken = [tuple(str(f) for f in faults.take()) for _ in range(3)]
    assert taken == [("latency;ms=10", "reset"), ("latency;ms=10", "reset"), ("latency;ms=10",)]
    assert [(r.fault.kind, r.remaining) for r in faults.rules] == [("latency", None)]


def test_down_is_a_state_not_a_request_fault() -> None:
    """``down`` shows in ``down`` and ``rules`` but never in what a request takes."""
    faults = SocketFaults()
    rule = faults.add("down")
    assert faults.down
    assert faults.take() == ()
    assert faults.remove(rule.id)
    assert not faults.down


def test_every_change_notifies_the_proxy() -> None:
    """add, remove and clear call ``on_change``; a failed remove does not."""
    calls: list[int] = []
    faults = SocketFaults(on_change=lambda: calls.append(1))
    rule = faults.add("reset")
    faults.remove(rule.id)
    faults.remove(rule.id)
    faults.clear()
    assert len(calls) == 3
    assert repr(faults) == "SocketFaults([])"


def test_counted_rule_is_taken_exactly_count_times_under_threads() -> None:
    """Eight threads racing for a ``count=100`` rule get exactly 100 hits between them."""
    faults = SocketFaults()
    faults.add("empty", count=100)
    hits: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        mine = sum(1 for _ in range(50) if faults.take())
        with lock:
            hits.append(mine)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(hits) == 100
    assert faults.rules == ()
