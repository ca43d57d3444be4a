"""mock_servers.start(): one line, idempotent, silent, and it stops cleanly."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import requests

import mock_servers
from connectors_lib.clock import SystemClock, VirtualClock

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def lab() -> mock_servers.Lab:
    lab = mock_servers.start(seed=42)
    yield lab
    lab.stop()


def test_start_is_idempotent_for_the_same_arguments(lab: mock_servers.Lab) -> None:
    """A second start() with the same arguments returns the very same running lab."""
    assert mock_servers.start(seed=42) is lab
    assert lab in mock_servers.running_labs()


def test_default_clock_is_a_virtual_clock_shared_with_the_lab(lab: mock_servers.Lab) -> None:
    """Without clock=, the lab runs on a VirtualClock exposed as lab.clock."""
    assert isinstance(lab.clock, VirtualClock)
    assert lab.state.clock is lab.clock


def test_first_request_with_requests_and_httpx(lab: mock_servers.Lab) -> None:
    """The REST API answers real clients on loopback with the seeded orders."""
    url = f"{lab.base_url}/api/v1/orders"
    r1 = requests.get(url, params={"limit": 5}, headers=lab.headers(), timeout=5)
    r2 = httpx.get(url, params={"limit": 5}, headers=lab.headers(), timeout=5)
    assert r1.status_code == r2.status_code == 200
    assert r1.json() == r2.json()
    assert r1.json()["total"] == 1200


def test_original_lesson_catalogue_is_public_at_the_root(lab: mock_servers.Lab) -> None:
    """The original lesson's `{API_BASE_URL}/entries` works without a key."""
    body = requests.get(f"{lab.base_url}/entries", timeout=5).json()
    assert body["count"] == len(body["entries"]) > 0
    assert {"API", "Description", "HTTPS"} <= set(body["entries"][0])


def test_env_gives_the_original_lesson_variables(lab: mock_servers.Lab) -> None:
    """lab.env() has the variables the original lesson reads."""
    env = lab.env()
    assert env["API_BASE_URL"] == lab.base_url
    assert env["API_KEY"] == lab.api_key
    assert env["GQL_URL"].endswith("/graphql")


def test_repr_and_describe_hide_credentials(lab: mock_servers.Lab) -> None:
    """Neither repr() nor describe() shows keys or tokens unless asked."""
    assert lab.api_key not in repr(lab)
    assert lab.api_key not in lab.describe()
    assert lab.admin_token not in lab.describe()
    assert lab.api_key in lab.describe(show_secrets=True)


def test_same_seed_gives_same_credentials_and_data() -> None:
    """Two labs with the same seed (different clocks) share keys and data."""
    a = mock_servers.start(seed=7, clock=VirtualClock(), sftp=False, proxy=False)
    b = mock_servers.start(seed=7, clock=VirtualClock(), sftp=False, proxy=False)
    try:
        assert a is not b
        assert a.api_key == b.api_key
        assert a.data.snapshot()[1] == b.data.snapshot()[1]
    finally:
        a.stop()
        b.stop()


def test_stop_joins_even_with_a_request_in_flight() -> None:
    """stop() returns within a few seconds while a slow request is being served."""
    lab = mock_servers.start(seed=3, clock=SystemClock(), sftp=False, proxy=False)
    url = f"{lab.base_url}/api/v1/orders"

    def slow() -> None:
        with contextlib.suppress(requests.RequestException):
            requests.get(url, headers={**lab.headers(), "X-Mock-Fault": "delay=30"}, timeout=40)

    worker = threading.Thread(target=slow, daemon=True)
    worker.start()
    time.sleep(0.3)  # real time on purpose: a request must really be in flight
    began = time.monotonic()
    lab.stop()
    assert time.monotonic() - began < 5
    assert not lab.running
    assert lab not in mock_servers.running_labs()


def test_lab_writes_nothing_to_stdout_or_stderr() -> None:
    """Starting the lab and serving requests prints nothing (nothing reaches a notebook cell)."""
    code = (
        "import mock_servers, requests\n"
        "lab = mock_servers.start(seed=42)\n"
        "requests.get(lab.base_url + '/api/v1/orders', headers=lab.headers(), timeout=5)\n"
        "requests.get(lab.base_url + '/api/v1/orders', timeout=5)\n"
        "lab.stop()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert (done.stdout, done.stderr) == ("", "")


def test_cli_help_is_in_spanish() -> None:
    """`python -m mock_servers serve --help` explains itself in Spanish."""
    done = subprocess.run([sys.executable, "-m", "mock_servers", "serve", "--help"],
                          capture_output=True, text=True, timeout=30, cwd=ROOT)
    assert done.returncode == 0
    assert "alumnos" in done.stdout
    assert "reloj real" in done.stdout


def test_cli_serves_and_prints_connection_details() -> None:
    """The classroom command starts, prints URLs and keys, answers HTTP, and stops on SIGTERM."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mock_servers", "serve", "--port", "0", "--learners", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env,
    )
    try:
        lines: list[str] = []
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "Ctrl+C" in line:
                break
        text = "".join(lines)
        rest = next(ln for ln in lines if ln.strip().startswith("REST"))
        base = rest.split()[1].removesuffix("/api/v1")
        keys = [ln.split()[-1] for ln in lines if ln.strip().startswith("alumno-")]
        assert len(set(keys)) == 2
        assert "GraphQL" in text
        assert "OAuth2" in text
        answer = requests.get(f"{base}/api/v1/orders", headers={"X-API-Key": keys[1]},
                              params={"limit": 1}, timeout=5)
        assert answer.status_code == 200
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "detenido" in out


def test_tls_lab_is_verified_with_its_own_ca() -> None:
    """start(tls=True) serves https that verifies against lab.ca_path and nothing else."""
    lab = mock_servers.start(seed=5, clock=VirtualClock(), tls=True, sftp=False)
    try:
        assert lab.base_url.startswith("https://")
        assert lab.ca_path is not None
        ok = requests.get(f"{lab.base_url}/entries", verify=str(lab.ca_path), timeout=5)
        assert ok.status_code == 200
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(f"{lab.base_url}/entries", timeout=5)
        assert lab.proxy_url is not None
        assert lab.proxy_url.startswith("https://")
        via_proxy = requests.get(f"{lab.proxy_url}/entries", verify=str(lab.ca_path), timeout=5)
        assert via_proxy.json() == ok.json()
    finally:
        lab.stop()


def test_socket_faults_through_the_lab_proxy(lab: mock_servers.Lab) -> None:
    """The proxied URL serves the same API and breaks connections on demand."""
    assert lab.proxy_url is not None
    url = f"{lab.proxy_url}/entries"
    assert requests.get(url, timeout=5).status_code == 200
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(url, headers={"X-Mock-Socket-Fault": "reset"}, timeout=5)
    lab.faults.socket.add("empty", count=1)
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(url, timeout=5)
    assert requests.get(url, timeout=5).status_code == 200


def test_faults_reset_clears_http_socket_and_sftp_faults(lab: mock_servers.Lab) -> None:
    """lab.faults.reset() leaves no HTTP rule, socket rule or SFTP fault behind."""
    lab.faults.add("status=503", path="/entries", times=None)
    lab.faults.socket.add("latency", ms=5)
    lab.faults.sftp.deny("/diario")
    lab.faults.reset()
    assert lab.faults.rules() == []
    assert lab.faults.socket.rules == ()
    assert lab.faults.sftp.state.denied_paths == frozenset()
    assert requests.get(f"{lab.base_url}/entries", timeout=5).status_code == 200


def test_sftp_details_are_on_the_lab(lab: mock_servers.Lab) -> None:
    """lab.sftp carries what a client needs, with a known_hosts file that pins the host key."""
    info = lab.sftp
    assert info is not None
    assert info.host == "127.0.0.1"
    assert info.host_key_fingerprint.startswith("SHA256:")
    assert info.known_hosts_path.read_text().startswith(f"[127.0.0.1]:{info.port} ")
    assert oct(info.private_key_path.stat().st_mode & 0o777) == "0o600"
