"""The SFTP lab server seen through paramiko's client, on a real loopback port."""

from __future__ import annotations

import hashlib
import socket
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest

from connectors_lib.clock import DEFAULT_EPOCH, VirtualClock
from mock_servers.sftp import BIG_SIZE, GROWING_FILE, SFTPLabServer


@pytest.fixture(scope="module")
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, clock: VirtualClock
) -> Iterator[SFTPLabServer]:
    lab = SFTPLabServer(tmp_path_factory.mktemp("sftp"), clock=clock, seed=42)
    lab.start()
    yield lab
    lab.stop()


@pytest.fixture(autouse=True)
def _no_faults(server: SFTPLabServer) -> Iterator[None]:
    yield
    server.faults.reset()


def connect(
    server: SFTPLabServer, *, key: bool = False, password: str | None = None
) -> paramiko.SSHClient:
    """A client that trusts only the lab's known_hosts file."""
    info = server.info
    client = paramiko.SSHClient()
    client.load_host_keys(str(info.known_hosts_path))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    if key:
        client.connect(
            info.host,
            info.port,
            username=info.key_username,
            key_filename=str(info.private_key_path),
            look_for_keys=False,
            allow_agent=False,
            timeout=5,
        )
    else:
        client.connect(
            info.host,
            info.port,
            username=info.username,
            password=info.password if password is None else password,
            look_for_keys=False,
            allow_agent=False,
            timeout=5,
        )
    return client


@pytest.fixture
def sftp(server: SFTPLabServer) -> Iterator[paramiko.SFTPClient]:
    client = connect(server)
    yield client.open_sftp()
    client.close()


def test_start_is_fast_and_reports_connection_details(tmp_path: Path) -> None:
    """``start`` returns in well under a second with host, port and fingerprint."""
    lab = SFTPLabServer(tmp_path, clock=VirtualClock())
    began = time.perf_counter()
    info = lab.start()
    elapsed = time.perf_counter() - began
    lab.stop()
    assert elapsed < 0.5
    assert info.port > 0
    assert info.host_key_fingerprint.startswith("SHA256:")
    assert f"[127.0.0.1]:{info.port} ssh-ed25519 " in info.known_hosts_path.read_text()


def test_listing_is_deterministic_with_utc_mtimes(sftp: paramiko.SFTPClient) -> None:
    """The exports folder lists seven daily files dated the days before the start."""
    entries = sorted(sftp.listdir_attr("/exportes"), key=lambda a: a.filename)
    names = [a.filename for a in entries]
    assert names == [f"ventas_2024-12-{d}.csv" for d in range(25, 32)]
    assert entries[-1].st_mtime == DEFAULT_EPOCH - 300  # 2024-12-31T23:55:00Z
    assert all(a.st_size and a.st_size > 1000 for a in entries)
    assert sorted(sftp.listdir("/")) == [
        "edi",
        "entrantes",
        "eventos",
        "exportes",
        "grande",
        "privado",
        "subidas",
    ]


def test_key_user_logs_in(server: SFTPLabServer) -> None:
    """The key user authenticates with the lab's Ed25519 private key."""
    client = connect(server, key=True)
    try:
        assert "ventas_2024-12-31.csv" in client.open_sftp().listdir("/exportes")
    finally:
        client.close()


@pytest.mark.parametrize("password", ["", "incorrecta", "laboratorio-sftp "])
def test_wrong_password_is_an_auth_failure(server: SFTPLabServer, password: str) -> None:
    """A wrong password raises paramiko's AuthenticationException, not a crash."""
    with pytest.raises(paramiko.AuthenticationException):
        connect(server, password=password)


def test_other_key_is_refused(server: SFTPLabServer) -> None:
    """A key the server does not know cannot log in as the key user."""
    info = server.info
    client = paramiko.SSHClient()
    client.load_host_keys(str(info.known_hosts_path))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    stranger = paramiko.ECDSAKey.generate()
    with pytest.raises(paramiko.AuthenticationException):
        client.connect(
            info.host,
            info.port,
            username=info.key_username,
            pkey=stranger,
            look_for_keys=False,
            allow_agent=False,
            timeout=5,
        )
    client.close()


def test_changed_host_key_is_refused_by_the_client(server: SFTPLabServer) -> None:
    """With the host-key fault on, a strict client refuses the connection."""
    server.faults.present_other_host_key()
    with pytest.raises(paramiko.BadHostKeyException):
        connect(server)
    server.faults.reset()
    connect(server).close()


def test_put_get_roundtrip_and_atomic_rename(sftp: paramiko.SFTPClient) -> None:
    """Upload to a temp name, rename into place, download the same bytes."""
    payload = bytes(range(256)) * 1000
    with sftp.open("/subidas/.informe.csv.part", "wb") as handle:
        handle.write(payload)
    sftp.rename("/subidas/.informe.csv.part", "/subidas/informe.csv")
    with sftp.open("/subidas/informe.csv", "rb") as handle:
        assert handle.read() == payload
    assert "informe.csv" in sftp.listdir("/subidas")
    sftp.remove("/subidas/informe.csv")


def test_plain_rename_never_overwrites_but_posix_rename_does(sftp: paramiko.SFTPClient) -> None:
    """SFTP v3 rename refuses an existing target; posix-rename replaces it atomically."""
    for name, text in (("a.txt", b"nuevo"), ("b.txt", b"viejo")):
        with sftp.open(f"/subidas/{name}", "wb") as handle:
            handle.write(text)
    with pytest.raises(OSError, match="ya existe"):
        sftp.rename("/subidas/a.txt", "/subidas/b.txt")
    sftp.posix_rename("/subidas/a.txt", "/subidas/b.txt")
    with sftp.open("/subidas/b.txt", "rb") as handle:
        assert handle.read() == b"nuevo"
    sftp.remove("/subidas/b.txt")


def test_resume_reads_and_writes_at_offsets(sftp: paramiko.SFTPClient) -> None:
    """Reads and writes honour offsets, so an interrupted transfer can resume."""
    with sftp.open("/subidas/parcial.bin", "wb") as handle:
        handle.write(b"A" * 1000)
    with sftp.open("/subidas/parcial.bin", "r+b") as handle:
        handle.seek(1000)
        handle.write(b"B" * 500)
    with sftp.open("/subidas/parcial.bin", "rb") as handle:
        handle.seek(990)
        assert handle.read(20) == b"A" * 10 + b"B" * 10
        handle.seek(10_000)
        assert handle.read(10) == b""
    assert sftp.stat("/subidas/parcial.bin").st_size == 1500
    sftp.remove("/subidas/parcial.bin")


def test_mkdir_listdir_rmdir(sftp: paramiko.SFTPClient) -> None:
    """Folders can be created, listed with attributes and removed."""
    sftp.mkdir("/subidas/lote")
    with sftp.open("/subidas/lote/x.csv", "wb") as handle:
        handle.write(b"id\n1\n")
    (entry,) = sftp.listdir_attr("/subidas/lote")
    assert (entry.filename, entry.st_size) == ("x.csv", 5)
    assert stat.S_ISREG(entry.st_mode or 0)
    with pytest.raises(OSError, match="no está vacía"):
        sftp.rmdir("/subidas/lote")
    sftp.remove("/subidas/lote/x.csv")
    sftp.rmdir("/subidas/lote")
    with pytest.raises(FileNotFoundError):
        sftp.stat("/subidas/lote")


@pytest.mark.parametrize(
    ("call", "path"),
    [
        ("listdir", "/privado"),
        ("open", "/privado/nominas_2024-12.csv"),
        ("stat", "/privado/nominas_2024-12.csv"),
        ("listdir", "/../../etc"),
        ("open", "/../etc/passwd"),
        ("stat", "../../../../etc/shadow"),
    ],
)
def test_forbidden_paths_are_permission_denied(
    sftp: paramiko.SFTPClient, call: str, path: str
) -> None:
    """The private folder and traversal attempts raise PermissionError (SFTP code 3)."""
    with pytest.raises(PermissionError):
        getattr(sftp, call)(path)


@pytest.mark.parametrize("path", ["/etc/passwd", "/exportes/nada.csv", "/nada/dentro"])
def test_missing_paths_are_no_such_file(sftp: paramiko.SFTPClient, path: str) -> None:
    """Absolute host paths do not exist inside the root: NO_SUCH_FILE, not a leak."""
    with pytest.raises(FileNotFoundError):
        sftp.stat(path)


def test_symlink_pointing_outside_is_refused(
    server: SFTPLabServer, sftp: paramiko.SFTPClient, tmp_path: Path
) -> None:
    """A symlink planted in the root that leads outside cannot be followed or listed."""
    (tmp_path / "secreto.txt").write_text("no")
    link = server.root_path / "subidas" / "atajo"
    link.symlink_to(tmp_path)
    try:
        for call in (sftp.listdir, sftp.stat):
            with pytest.raises(PermissionError):
                call("/subidas/atajo")
        with pytest.raises(PermissionError):
            sftp.open("/subidas/atajo/secreto.txt")
        with pytest.raises(PermissionError):
            sftp.symlink("/etc", "/subidas/otro")
    finally:
        link.unlink()


def test_big_file_download_matches_published_sha256(
    server: SFTPLabServer, sftp: paramiko.SFTPClient, tmp_path: Path
) -> None:
    """Downloading the 32 MiB file yields the digest published in its .sha256 file."""
    target = tmp_path / "volcado.bin"
    sftp.get(server.info.big_file, str(target))
    with sftp.open(server.info.big_file + ".sha256", "rb") as handle:
        published = handle.read().decode().split()[0]
    assert target.stat().st_size == BIG_SIZE
    assert hashlib.sha256(target.read_bytes()).hexdigest() == published
    assert published == server.big_file_sha256()


def test_growing_file_follows_the_lab_clock(
    server: SFTPLabServer, sftp: paramiko.SFTPClient, clock: VirtualClock
) -> None:
    """The file still being written grows per lab second and refuses changes until done."""
    clock.advance(100)  # whatever earlier tests did, restart from the first slice
    server.restart_growing_file()
    start = clock.monotonic()
    first = sftp.stat(GROWING_FILE)
    clock.advance(3)
    second = sftp.stat(GROWING_FILE)
    assert first.st_size is not None
    assert second.st_size is not None
    assert second.st_size > first.st_size
    assert second.st_mtime == DEFAULT_EPOCH + start + 3
    with pytest.raises(PermissionError, match="escribiendo"):
        sftp.remove(GROWING_FILE)
    with sftp.open(GROWING_FILE, "rb") as handle:
        visible = handle.read()
        clock.advance(60)
        assert len(visible + handle.read()) > len(visible)
    final = sftp.stat(GROWING_FILE)
    clock.advance(10)
    assert sftp.stat(GROWING_FILE).st_size == final.st_size
    assert final.st_mtime == DEFAULT_EPOCH + start + 9


def test_denied_path_fault(server: SFTPLabServer, sftp: paramiko.SFTPClient) -> None:
    """A path denied by the instructor answers PermissionError until reset."""
    server.faults.deny("/exportes/ventas_2024-12-30.csv")
    with pytest.raises(PermissionError, match="inyectado"):
        sftp.open("/exportes/ventas_2024-12-30.csv")
    sftp.stat("/exportes/ventas_2024-12-31.csv")
    server.faults.reset()
    sftp.stat("/exportes/ventas_2024-12-30.csv")


def test_disconnect_fault_and_resume_to_a_full_copy(server: SFTPLabServer) -> None:
    """With cuts every 4 KB, a resuming reader reconnects and still gets every byte."""
    path = "/exportes/ventas_2024-12-31.csv"
    expected = (server.root_path / path.lstrip("/")).read_bytes()
    server.faults.disconnect_after(4096)
    got, cuts = b"", 0
    while len(got) < len(expected) and cuts < 20:
        client = connect(server)
        try:
            with client.open_sftp().open(path, "rb") as handle:
                handle.seek(len(got))
                while chunk := handle.read(1024):
                    got += chunk
        except (OSError, EOFError, paramiko.SSHException):
            cuts += 1
        finally:
            client.close()
    assert got == expected
    assert cuts == len(expected) // 4096


def test_bandwidth_cap_slows_transfers(server: SFTPLabServer, sftp: paramiko.SFTPClient) -> None:
    """With a 1 MB/s cap, reading 300 KB takes at least about 0.3 s."""
    server.faults.bandwidth_limit(1_000_000)
    began = time.perf_counter()
    with sftp.open(server.info.big_file, "rb") as handle:
        assert len(handle.read(300_000)) == 300_000
    assert time.perf_counter() - began >= 0.25


def test_auth_delay_fault(server: SFTPLabServer) -> None:
    """The auth-delay fault holds each login for the configured time."""
    server.faults.auth_delay(0.3)
    began = time.perf_counter()
    connect(server).close()
    assert time.perf_counter() - began >= 0.3


def test_stop_joins_with_a_transfer_in_flight(tmp_path: Path) -> None:
    """``stop`` returns within 2 s while a throttled download is running."""
    before = set(threading.enumerate())
    lab = SFTPLabServer(tmp_path, clock=VirtualClock())
    lab.start()
    lab.faults.bandwidth_limit(50_000)
    client = connect(lab)
    client_side = client.get_transport()  # paramiko's client thread is not ours to join
    opened = threading.Event()
    errors: list[BaseException] = []

    def download() -> None:
        try:
            with client.open_sftp().open(lab.info.big_file, "rb") as handle:
                opened.set()
                handle.read(10_000_000)
        except Exception as exc:
            errors.append(exc)

    worker = threading.Thread(target=download, daemon=True)
    worker.start()
    assert opened.wait(5)
    began = time.perf_counter()
    lab.stop()
    assert time.perf_counter() - began < 2.0
    worker.join(5)
    client.close()
    assert not worker.is_alive()
    assert errors, "the download should have been cut by stop()"
    assert [t for t in threading.enumerate() if t not in before and t is not client_side] == []


def test_garbage_handshake_prints_nothing_and_server_survives(
    server: SFTPLabServer, capfd: pytest.CaptureFixture[str]
) -> None:
    """Bytes that are not SSH are dropped silently and the next client is served."""
    with socket.create_connection((server.info.host, server.info.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\n\r\n" + bytes(range(256)))
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(5)
        try:
            while sock.recv(4096):
                pass
        except OSError:
            pass
    client = connect(server)
    client.open_sftp().stat("/")
    client.close()
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")


def test_setstat_changes_mode_and_times(sftp: paramiko.SFTPClient) -> None:
    """chmod and utime through SFTP are applied and read back by stat."""
    with sftp.open("/subidas/permisos.txt", "wb") as handle:
        handle.write(b"x")
    sftp.chmod("/subidas/permisos.txt", 0o600)
    sftp.utime("/subidas/permisos.txt", (DEFAULT_EPOCH, DEFAULT_EPOCH - 3600))
    attrs = sftp.stat("/subidas/permisos.txt")
    assert stat.S_IMODE(attrs.st_mode or 0) == 0o600
    assert attrs.st_mtime == DEFAULT_EPOCH - 3600
    sftp.remove("/subidas/permisos.txt")


def test_server_can_start_with_the_other_host_key(tmp_path: Path) -> None:
    """``alt_host_key=True`` presents a key the published known_hosts rejects."""
    lab = SFTPLabServer(tmp_path, clock=VirtualClock(), alt_host_key=True)
    lab.start()
    try:
        assert lab.other_host_key_fingerprint != lab.info.host_key_fingerprint
        with pytest.raises(paramiko.BadHostKeyException):
            connect(lab)
    finally:
        lab.stop()


def test_reset_files_restores_the_seeded_tree(tmp_path: Path) -> None:
    """After uploads and deletions, ``reset_files`` brings back the seeded bytes only."""
    lab = SFTPLabServer(tmp_path, clock=VirtualClock())
    lab.start()
    client = connect(lab)
    try:
        sftp = client.open_sftp()
        before = sorted(sftp.listdir_attr("/exportes"), key=lambda a: a.filename)
        sftp.remove("/exportes/ventas_2024-12-31.csv")
        with sftp.open("/subidas/nuevo.csv", "wb") as handle:
            handle.write(b"a\n")
        lab.reset_files()
        after = sorted(sftp.listdir_attr("/exportes"), key=lambda a: a.filename)
        assert [(a.filename, a.st_size, a.st_mtime) for a in after] == [
            (a.filename, a.st_size, a.st_mtime) for a in before
        ]
        assert sftp.listdir("/subidas") == []
        assert len(lab.big_file_sha256()) == 64
    finally:
        client.close()
        lab.stop()
