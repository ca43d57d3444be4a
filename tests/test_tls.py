"""Throwaway TLS for the lab: clients verify against the run's CA, never ``verify=False``."""

from __future__ import annotations

import dataclasses
import ssl
import stat
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests

from mock_servers.proxy import FaultProxy
from mock_servers.runner import ServerThread
from mock_servers.tls import DEFAULT_HOSTNAMES, TLSFiles, make_tls_files

Message = dict[str, Any]


async def hello(
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    """Plain ASGI app: ``hola`` over whatever transport uvicorn gives it."""
    assert scope["type"] == "http"
    body = f"hola {scope['scheme']}".encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", b"%d" % len(body))],
        }
    )
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def https_port(tls: TLSFiles) -> Iterator[int]:
    server = ServerThread(hello, ssl_certfile=tls.cert_path, ssl_keyfile=tls.key_path)
    server.start()
    yield server.port
    server.stop()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_are_written_with_owner_only_key(tls: TLSFiles) -> None:
    """ca.pem and server.pem are public PEM certificates; server.key is 0600."""
    assert (tls.ca_path.name, tls.cert_path.name, tls.key_path.name) == (
        "ca.pem",
        "server.pem",
        "server.key",
    )
    assert tls.ca_path.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    assert tls.cert_path.read_bytes().count(b"BEGIN CERTIFICATE") >= 1
    assert b"PRIVATE KEY-----" in tls.key_path.read_bytes()
    assert mode(tls.key_path) == 0o600
    assert mode(tls.ca_path) == mode(tls.cert_path) == 0o644
    assert tls.hostnames == DEFAULT_HOSTNAMES
    assert sorted(p.name for p in tls.ca_path.parent.iterdir()) == [
        "ca.pem",
        "server.key",
        "server.pem",
    ]


def test_paths_are_frozen(tls: TLSFiles) -> None:
    """The returned record cannot be repointed to other files by accident."""
    with pytest.raises(dataclasses.FrozenInstanceError):
        tls.ca_path = Path("/elsewhere")  # type: ignore[misc]


def test_each_call_makes_a_new_ca_and_tightens_an_old_key(tmp_path: Path) -> None:
    """A second run replaces the CA, and a previously world-readable key becomes 0600."""
    first = make_tls_files(tmp_path / "nested" / "dir")
    old_ca = first.ca_path.read_bytes()
    first.key_path.chmod(0o644)
    second = make_tls_files(first.ca_path.parent)
    assert second.ca_path.read_bytes() != old_ca
    assert mode(second.key_path) == 0o600


def test_no_hostnames_is_refused(tmp_path: Path) -> None:
    """A certificate for no name would verify nowhere, so it is refused with a hint."""
    with pytest.raises(ValueError, match="al menos un nombre"):
        make_tls_files(tmp_path, hostnames=())


@pytest.mark.parametrize("host", DEFAULT_HOSTNAMES)
def test_requests_verifies_with_the_lab_ca(tls: TLSFiles, https_port: int, host: str) -> None:
    """requests with ``verify=ca_path`` trusts the lab under each certified name."""
    response = requests.get(f"https://{host}:{https_port}/", verify=str(tls.ca_path), timeout=5)
    assert response.text == "hola https"


@pytest.mark.parametrize("host", DEFAULT_HOSTNAMES)
def test_httpx_verifies_with_an_ssl_context(tls: TLSFiles, https_port: int, host: str) -> None:
    """httpx with ``verify=ssl.create_default_context(cafile=...)`` trusts the lab."""
    context = ssl.create_default_context(cafile=str(tls.ca_path))
    assert httpx.get(f"https://{host}:{https_port}/", verify=context).text == "hola https"
    assert httpx.get(f"https://{host}:{https_port}/", verify=tls.client_ssl_context()).is_success


def test_without_the_lab_ca_verification_fails(https_port: int) -> None:
    """The system trust store lacks the throwaway CA: requests SSLError, httpx ConnectError."""
    url = f"https://127.0.0.1:{https_port}/"
    with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        requests.get(url, timeout=5)
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(url)


def test_another_runs_ca_is_not_trusted(tmp_path: Path, https_port: int) -> None:
    """A CA from another run (a stale ca.pem) is rejected like any stranger."""
    stale = make_tls_files(tmp_path)
    url = f"https://127.0.0.1:{https_port}/"
    with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        requests.get(url, verify=str(stale.ca_path), timeout=5)
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(url, verify=stale.client_ssl_context())


def test_the_hostname_is_checked_too(tmp_path: Path) -> None:
    """A certificate only for ``localhost`` is refused at ``127.0.0.1`` even with the right CA."""
    only_name = make_tls_files(tmp_path, hostnames=("localhost",))
    server = ServerThread(hello, ssl_certfile=only_name.cert_path, ssl_keyfile=only_name.key_path)
    server.start()
    try:
        with pytest.raises(httpx.ConnectError, match="IP address mismatch"):
            httpx.get(f"https://127.0.0.1:{server.port}/", verify=only_name.client_ssl_context())
    finally:
        server.stop()


def test_tls_passes_through_the_fault_proxy(tls: TLSFiles, https_port: int) -> None:
    """The proxy relays TLS untouched (opaque stream) and can still reset the connection."""
    with FaultProxy("127.0.0.1", https_port) as proxy:
        url = f"https://127.0.0.1:{proxy.port}/"
        assert requests.get(url, verify=str(tls.ca_path), timeout=5).text == "hola https"
        proxy.faults.add("reset", count=1)
        with pytest.raises(requests.ConnectionError, match="reset by peer"):
            requests.get(url, verify=str(tls.ca_path), timeout=5)
        assert httpx.get(url, verify=tls.client_ssl_context()).is_success
    assert [(e.request, e.method, e.faults) for e in proxy.journal] == [
        (0, "", ()),
        (0, "", ("reset",)),
        (0, "", ()),
    ]


#: Over TLS terminated by the proxy, what each client raises (a RST under TLS
#: reads as a plain EOF in Python's ssl module with OpenSSL 3).
TLS_OUTCOMES: list[tuple[str, type[Exception], str, type[Exception], str]] = [
    (
        "reset",
        requests.ConnectionError,
        "RemoteDisconnected",
        httpx.RemoteProtocolError,
        "without sending a response",
    ),
    (
        "garbage",
        requests.ConnectionError,
        "BadStatusLine",
        httpx.RemoteProtocolError,
        "illegal status line",
    ),
    ("hang", requests.ReadTimeout, "Read timed out", httpx.ReadTimeout, "timed out"),
    (
        "limit_data;bytes=10",
        requests.ConnectionError,
        "BadStatusLine",
        httpx.RemoteProtocolError,
        "without sending a response",
    ),
]


def fetch(client: str, url: str, headers: dict[str, str], tls: TLSFiles) -> bytes:
    """One verified https GET with a fresh client of the given library."""
    if client == "requests":
        return requests.get(url, headers=headers, verify=str(tls.ca_path), timeout=0.25).content
    return httpx.get(url, headers=headers, verify=tls.client_ssl_context(), timeout=0.25).content


@pytest.fixture(scope="module")
def tls_proxy(tls: TLSFiles, https_port: int) -> Iterator[FaultProxy]:
    with FaultProxy(
        "127.0.0.1",
        https_port,
        server_ssl=tls.server_ssl_context(),
        upstream_ssl=tls.client_ssl_context(),
    ) as proxy:
        yield proxy


@pytest.mark.parametrize("client", ["requests", "httpx"])
@pytest.mark.parametrize(
    ("fault", "requests_exc", "requests_msg", "httpx_exc", "httpx_msg"),
    TLS_OUTCOMES,
    ids=[case[0] for case in TLS_OUTCOMES],
)
def test_header_faults_work_when_the_proxy_terminates_tls(
    tls: TLSFiles,
    tls_proxy: FaultProxy,
    client: str,
    fault: str,
    requests_exc: type[Exception],
    requests_msg: str,
    httpx_exc: type[Exception],
    httpx_msg: str,
) -> None:
    """With ``server_ssl`` the proxy reads the header over https and each client fails as listed."""
    url = tls_proxy.url + "/"
    headers = {"X-Mock-Socket-Fault": fault}
    assert url.startswith("https://")
    expected = requests_exc if client == "requests" else httpx_exc
    message = requests_msg if client == "requests" else httpx_msg
    with pytest.raises(expected, match=message) as caught:
        fetch(client, url, headers, tls)
    assert caught.type is expected
    assert tls_proxy.journal[-1].faults == (fault,)


def test_tls_proxy_serves_https_in_front_of_a_plain_server(tls: TLSFiles) -> None:
    """``server_ssl`` alone turns a plain-HTTP upstream into a verified https endpoint."""
    plain = ServerThread(hello)
    plain.start()
    try:
        with FaultProxy("127.0.0.1", plain.port, server_ssl=tls.server_ssl_context()) as proxy:
            answer = requests.get(proxy.url + "/", verify=str(tls.ca_path), timeout=5)
    finally:
        plain.stop()
    assert answer.text == "hola http"  # the upstream hop was plain; the client's was TLS


def test_tls_proxy_journals_a_client_that_does_not_trust_it(tls_proxy: FaultProxy) -> None:
    """A client without the lab CA fails its handshake, and the journal says why."""
    with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        requests.get(tls_proxy.url + "/", timeout=5)
    deadline = time.monotonic() + 2
    while "TLS con el cliente" not in tls_proxy.journal[-1].note and time.monotonic() < deadline:
        threading.Event().wait(0.01)
    assert "TLS con el cliente" in tls_proxy.journal[-1].note


def test_proxy_verifies_the_upstream_certificate(
    tmp_path: Path, tls: TLSFiles, https_port: int
) -> None:
    """``upstream_ssl`` with a stranger's CA refuses the upstream and closes the client."""
    stranger = make_tls_files(tmp_path)
    with (
        FaultProxy(
            "127.0.0.1",
            https_port,
            server_ssl=tls.server_ssl_context(),
            upstream_ssl=stranger.client_ssl_context(),
        ) as proxy,
        pytest.raises(requests.ConnectionError, match="RemoteDisconnected"),
    ):
        requests.get(proxy.url + "/", verify=str(tls.ca_path), timeout=5)
    assert "TLS con el servidor de destino" in proxy.journal[-1].note
    assert "CERTIFICATE_VERIFY_FAILED" in proxy.journal[-1].note
