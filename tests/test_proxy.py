"""The TCP fault proxy in front of a real uvicorn server, with requests and httpx.

Which exception each client raises for each socket fault (checked below by
``test_socket_fault_raises_the_real_client_exception``)::

    fault                  requests                             httpx
    reset                  ConnectionError (reset by peer)      ReadError
    empty                  ConnectionError (RemoteDisconnected) RemoteProtocolError
    garbage                ConnectionError (BadStatusLine)      RemoteProtocolError
    hang                   ReadTimeout                          ReadTimeout
    latency > timeout      ReadTimeout                          ReadTimeout
    limit_data in head     ConnectionError (BadStatusLine)      RemoteProtocolError
    limit_data in body     ChunkedEncodingError (IncompleteRead) RemoteProtocolError
    down                   ConnectionError (connection refused) ConnectError
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
import requests

from connectors_lib.clock import DEFAULT_EPOCH, VirtualClock
from mock_servers.proxy import FaultProxy, ProxyEvent
from mock_servers.proxy_faults import FAULT_HEADER, parse_fault_header
from mock_servers.runner import ServerThread

#: Client timeout for faults that never answer: short, so the file stays fast.
TIMEOUT = 0.25
BIG = b"x" * 20_000

Scope = dict[str, Any]
Message = dict[str, Any]


class Upstream:
    """A tiny ASGI app that remembers the paths it served (to see what got through)."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.lock = threading.Lock()

    async def __call__(
        self,
        scope: Scope,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        with self.lock:
            self.seen.append(scope["path"])
        if scope["path"] == "/big":
            out = BIG
        elif scope["path"] == "/headers":
            out = b"\n".join(name for name, _ in scope["headers"])
        else:
            out = b"hola %d" % len(body)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/plain"),
                    (b"content-length", b"%d" % len(out)),
                ],
            }
        )
        await send({"type": "http.response.body", "body": out})


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[Upstream, int]]:
    app = Upstream()
    server = ServerThread(app)
    server.start()
    yield app, server.port
    server.stop()


@pytest.fixture
def proxy(upstream: tuple[Upstream, int]) -> Iterator[FaultProxy]:
    with FaultProxy("127.0.0.1", upstream[1]) as running:
        yield running


def get(
    client: str, url: str, *, headers: dict[str, str] | None = None, timeout: float = 2.0
) -> bytes:
    """One GET with a fresh client of the given library; returns the body."""
    if client == "requests":
        return requests.get(url, headers=headers, timeout=timeout).content
    return httpx.get(url, headers=headers, timeout=timeout).content


def add_rule(proxy: FaultProxy, text: str, count: int | None = None) -> None:
    """Schedule the fault written in header form as a rule."""
    fault = parse_fault_header(text)
    proxy.faults.add(
        fault.kind,
        count=count,
        ms=fault.ms if fault.kind in ("latency", "hang") and fault.ms else None,
        kbps=fault.kbps or None,
        bytes=fault.limit_bytes,
    )


CLIENTS = ["requests", "httpx"]

#: (fault in header form, path, requests exception + message, httpx exception + message)
OUTCOMES: list[tuple[str, str, type[Exception], str, type[Exception], str]] = [
    ("reset", "/x", requests.ConnectionError, "reset by peer", httpx.ReadError, "reset by peer"),
    (
        "empty",
        "/x",
        requests.ConnectionError,
        "RemoteDisconnected",
        httpx.RemoteProtocolError,
        "without sending a response",
    ),
    (
        "garbage",
        "/x",
        requests.ConnectionError,
        "BadStatusLine",
        httpx.RemoteProtocolError,
        "illegal status line",
    ),
    ("hang", "/x", requests.ReadTimeout, "Read timed out", httpx.ReadTimeout, "timed out"),
    (
        "latency;ms=600",
        "/x",
        requests.ReadTimeout,
        "Read timed out",
        httpx.ReadTimeout,
        "timed out",
    ),
    (
        "limit_data;bytes=10",
        "/big",
        requests.ConnectionError,
        "BadStatusLine",
        httpx.RemoteProtocolError,
        "without sending a response",
    ),
    (
        "limit_data;bytes=200",
        "/big",
        requests.exceptions.ChunkedEncodingError,
        "IncompleteRead",
        httpx.RemoteProtocolError,
        "without sending complete message body",
    ),
]


@pytest.mark.parametrize("client", CLIENTS)
def test_passthrough_without_faults(proxy: FaultProxy, client: str) -> None:
    """With no fault scheduled the proxy is invisible and journals an untouched request."""
    assert get(client, proxy.url + "/big") == BIG
    assert proxy.journal == [ProxyEvent(proxy.journal[0].at, 1, 1, "GET", "/big", (), "", "")]


@pytest.mark.parametrize("source", ["rule", "header"])
@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize(
    ("fault", "path", "requests_exc", "requests_msg", "httpx_exc", "httpx_msg"),
    OUTCOMES,
    ids=[case[0] for case in OUTCOMES],
)
def test_socket_fault_raises_the_real_client_exception(
    proxy: FaultProxy,
    client: str,
    source: str,
    fault: str,
    path: str,
    requests_exc: type[Exception],
    requests_msg: str,
    httpx_exc: type[Exception],
    httpx_msg: str,
) -> None:
    """Each fault makes each client raise the exact exception in the module table."""
    headers = {FAULT_HEADER: fault} if source == "header" else None
    if source == "rule":
        add_rule(proxy, fault, count=1)
    expected, message = (
        (requests_exc, requests_msg) if client == "requests" else (httpx_exc, httpx_msg)
    )
    with pytest.raises(expected, match=message) as caught:
        get(client, proxy.url + path, headers=headers, timeout=TIMEOUT)
    assert caught.type is expected
    assert proxy.journal[-1].faults == (str(parse_fault_header(fault)),)
    assert proxy.journal[-1].source == source
    assert proxy.faults.rules == ()


@pytest.mark.parametrize("client", CLIENTS)
def test_down_refuses_connections_until_cleared(proxy: FaultProxy, client: str) -> None:
    """``down`` refuses connections (requests ConnectionError, httpx ConnectError) until clear."""
    port = proxy.port
    proxy.faults.add("down")
    expected = requests.ConnectionError if client == "requests" else httpx.ConnectError
    with pytest.raises(expected, match=r"[Rr]efused") as caught:
        get(client, proxy.url + "/x", timeout=TIMEOUT)
    assert caught.type is expected
    proxy.faults.clear()
    assert proxy.port == port
    assert get(client, proxy.url + "/x") == b"hola 0"


def test_down_drops_pooled_connections(proxy: FaultProxy) -> None:
    """A keep-alive connection opened before ``down`` is not used to sneak a request through."""
    with requests.Session() as session:
        assert session.get(proxy.url + "/x", timeout=2).ok
        proxy.faults.add("down")
        with pytest.raises(requests.ConnectionError):
            session.get(proxy.url + "/x", timeout=TIMEOUT)
    assert len(proxy.journal) == 1


def test_counted_rule_hits_the_next_n_requests_then_stops(proxy: FaultProxy) -> None:
    """``add("reset", count=2)`` fails exactly two requests; the third goes through."""
    rule = proxy.faults.add("reset", count=2)
    assert proxy.faults.rules == (rule,)
    outcomes = []
    for _ in range(3):
        try:
            outcomes.append(requests.get(proxy.url + "/x", timeout=2).text)
        except requests.ConnectionError:
            outcomes.append("reset")
    assert outcomes == ["reset", "reset", "hola 0"]
    assert not proxy.faults.rules


def test_rule_hits_a_reused_keep_alive_connection(proxy: FaultProxy) -> None:
    """Rules count requests, not connections: a pooled connection is hit too."""
    with requests.Session() as session:
        assert session.get(proxy.url + "/x", timeout=2).ok
        proxy.faults.add("reset", count=1)
        with pytest.raises(requests.ConnectionError):
            session.get(proxy.url + "/x", timeout=2)
    assert [(e.connection, e.request, e.faults) for e in proxy.journal] == [
        (1, 1, ()),
        (1, 2, ("reset",)),
    ]


def test_permanent_rules_stack_until_removed(proxy: FaultProxy) -> None:
    """Latency and bandwidth rules both apply to every request until removed."""
    latency = proxy.faults.add("latency", ms=1)
    proxy.faults.add("bandwidth", kbps=10_000)
    for _ in range(2):
        assert get("httpx", proxy.url + "/big") == BIG
    assert proxy.faults.remove(latency.id) is True
    assert proxy.faults.remove(latency.id) is False
    assert get("httpx", proxy.url + "/x") == b"hola 0"
    assert [e.faults for e in proxy.journal] == [
        ("latency;ms=1", "bandwidth;kbps=10000"),
        ("latency;ms=1", "bandwidth;kbps=10000"),
        ("bandwidth;kbps=10000",),
    ]


def test_latency_below_the_timeout_delays_but_succeeds(proxy: FaultProxy) -> None:
    """A 80 ms latency with a 2 s timeout costs at least 80 ms and still answers."""
    started = time.monotonic()
    assert get("requests", proxy.url + "/x", headers={FAULT_HEADER: "latency;ms=80"}) == b"hola 0"
    assert time.monotonic() - started >= 0.08


def test_bandwidth_paces_the_response(proxy: FaultProxy) -> None:
    """20 kB at 100 kB/s takes at least ~0.2 s and arrives complete."""
    started = time.monotonic()
    assert get("httpx", proxy.url + "/big", headers={FAULT_HEADER: "bandwidth;kbps=100"}) == BIG
    assert time.monotonic() - started >= 0.18


def test_hang_with_ms_closes_after_the_delay(proxy: FaultProxy) -> None:
    """``hang;ms=100`` holds the request 100 ms, then closes without a reply."""
    started = time.monotonic()
    with pytest.raises(requests.ConnectionError, match="RemoteDisconnected"):
        get("requests", proxy.url + "/x", headers={FAULT_HEADER: "hang;ms=100"})
    assert time.monotonic() - started >= 0.1


@pytest.mark.parametrize(
    ("fault", "reached_server"),
    [("reset", False), ("empty", False), ("hang;ms=1", False), ("limit_data;bytes=0", True)],
)
def test_which_faults_reach_the_server(
    proxy: FaultProxy, upstream: tuple[Upstream, int], fault: str, reached_server: bool
) -> None:
    """Terminal faults never forward the request; limit_data loses the reply of done work."""
    path = f"/post-{fault.split(';')[0]}-{time.monotonic_ns()}"
    with pytest.raises(requests.ConnectionError):
        requests.post(proxy.url + path, data=b"abc", headers={FAULT_HEADER: fault}, timeout=2)
    assert (path in upstream[0].seen) is reached_server


def test_fault_header_is_removed_before_forwarding(proxy: FaultProxy) -> None:
    """The upstream server never sees the fault header, only the client's other headers."""
    body = get(
        "requests", proxy.url + "/headers", headers={FAULT_HEADER: "latency;ms=1", "X-Other": "1"}
    )
    names = body.split(b"\n")
    assert b"x-other" in names
    assert FAULT_HEADER.lower().encode() not in names


def test_header_wins_over_rules_and_leaves_them_unconsumed(proxy: FaultProxy) -> None:
    """A request with the fault header ignores the rules, which keep their count."""
    rule = proxy.faults.add("reset", count=1)
    assert get("requests", proxy.url + "/x", headers={FAULT_HEADER: "latency;ms=1"}) == b"hola 0"
    assert proxy.faults.rules == (rule,)


def test_chunked_upload_keeps_request_boundaries(proxy: FaultProxy) -> None:
    """After a chunked POST on a keep-alive connection, the next request's header is still read."""
    with requests.Session() as session:
        chunked = session.post(proxy.url + "/x", data=iter([b"abc", b"de"]), timeout=2)
        assert chunked.text == "hola 5"
        with pytest.raises(requests.ConnectionError):
            session.get(proxy.url + "/x", headers={FAULT_HEADER: "reset"}, timeout=2)
    assert [(e.request, e.method, e.faults) for e in proxy.journal] == [
        (1, "POST", ()),
        (2, "GET", ("reset",)),
    ]


@pytest.mark.parametrize(
    "value", ["nope", "latency", "latency;ms=abc", "bandwidth;rate=5", "down", "reset;ms=5"]
)
def test_invalid_fault_header_gets_a_spanish_400(proxy: FaultProxy, value: str) -> None:
    """A malformed fault header is answered 400 with a message that says what to write."""
    response = requests.get(proxy.url + "/x", headers={FAULT_HEADER: value}, timeout=2)
    assert response.status_code == 400
    assert response.text.startswith(f"El proxy de fallos no entiende la cabecera {FAULT_HEADER}")
    assert proxy.journal[-1].note


def test_journal_is_stamped_by_the_injected_clock(upstream: tuple[Upstream, int]) -> None:
    """Journal times come from the given clock, so a lesson's output is reproducible."""
    clock = VirtualClock()
    with FaultProxy("127.0.0.1", upstream[1], clock=clock) as proxy:
        get("httpx", proxy.url + "/x")
        clock.advance(5)
        get("httpx", proxy.url + "/x")
    assert [e.at for e in proxy.journal] == [DEFAULT_EPOCH, DEFAULT_EPOCH + 5]
    proxy.clear_journal()
    assert proxy.journal == []


def test_unreachable_upstream_closes_the_client_and_says_why() -> None:
    """With nothing listening upstream the client is closed and the journal notes it."""
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        dead_port = placeholder.getsockname()[1]  # bound, never listening: refuses
        with FaultProxy("127.0.0.1", dead_port) as proxy:
            with pytest.raises(requests.ConnectionError):
                requests.get(proxy.url + "/x", timeout=2)
            deadline = time.monotonic() + 2
            while not proxy.journal and time.monotonic() < deadline:
                threading.Event().wait(0.01)
    assert "no acepta conexiones" in proxy.journal[0].note


@pytest.mark.parametrize("fault", ["hang", "latency;ms=60000", "bandwidth;kbps=1"])
def test_stop_joins_every_thread_while_clients_wait(
    upstream: tuple[Upstream, int], fault: str
) -> None:
    """``stop()`` returns within 2 s with clients stuck in a long fault, leaving no thread."""
    proxy = FaultProxy("127.0.0.1", upstream[1]).start()
    request = f"GET /big HTTP/1.1\r\nHost: x\r\n{FAULT_HEADER}: {fault}\r\n\r\n".encode()
    clients = [socket.create_connection(("127.0.0.1", proxy.port)) for _ in range(3)]
    for client in clients:
        client.sendall(request)
        client.settimeout(2)
    deadline = time.monotonic() + 2
    while len(proxy.journal) < 3 and time.monotonic() < deadline:
        threading.Event().wait(0.01)
    started = time.monotonic()
    proxy.stop()
    assert time.monotonic() - started < 2
    assert not proxy.running
    mine = f"fault-proxy:{proxy.port}"
    assert [t.name for t in threading.enumerate() if t.name.startswith(mine)] == []
    for client in clients:
        received = b""
        while chunk := client.recv(65536):  # ends at the proxy's close, not by timeout
            received += chunk
        assert len(received) < len(BIG)
        client.close()


def test_start_is_idempotent_and_url_names_the_port(upstream: tuple[Upstream, int]) -> None:
    """Starting twice keeps one listener; the url carries the OS-chosen port."""
    proxy = FaultProxy("127.0.0.1", upstream[1])
    try:
        assert proxy.start() is proxy.start()
        assert proxy.port > 0
        assert proxy.url == f"http://127.0.0.1:{proxy.port}"
        assert "running" in repr(proxy)
    finally:
        proxy.stop()
    assert "stopped" in repr(proxy)
