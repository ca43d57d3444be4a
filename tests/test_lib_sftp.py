"""``SFTPConnector`` against the real SFTP lab server (paramiko on both ends, loopback)."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors_lib.clock import VirtualClock
from connectors_lib.errors import ConnectorError, RetryExhaustedError, SFTPError
from connectors_lib.sftp import (
    DEFAULT_SFTP_RETRY,
    RemoteFile,
    SFTPAuthError,
    SFTPConnectionError,
    SFTPConnector,
    SFTPFileChangedError,
    SFTPHostKeyError,
    SFTPIntegrityError,
    SFTPNotFoundError,
    SFTPPermissionError,
    StabilityCheck,
    Watermark,
)
from connectors_lib.state import CheckpointStore
from mock_servers.sftp import GROWING_FILE, SFTPLabServer

EPOCH_2025 = 1_735_689_600


@pytest.fixture(scope="module")
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, clock: VirtualClock
) -> Iterator[SFTPLabServer]:
    lab = SFTPLabServer(tmp_path_factory.mktemp("sftp_lib"), clock=clock, seed=42)
    lab.start()
    yield lab
    lab.stop()


@pytest.fixture(autouse=True)
def _no_faults(server: SFTPLabServer) -> Iterator[None]:
    yield
    server.faults.reset()


def connector(server: SFTPLabServer, clock: VirtualClock, **options: object) -> SFTPConnector:
    """A key-authenticated connector that trusts only the lab's known_hosts."""
    info = server.info
    settings: dict[str, object] = {
        "private_key_path": info.private_key_path,
        "known_hosts_path": info.known_hosts_path,
        "clock": clock,
    }
    settings.update(options)
    return SFTPConnector(info.host, info.port, info.key_username, **settings)  # type: ignore[arg-type]


def folder(server: SFTPLabServer, name: str) -> Path:
    """A fresh folder under /subidas (real path on the server side)."""
    path = server.root_path / "subidas" / name
    path.mkdir()
    return path


# --- listing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "count"),
    [
        ("/exportes/*.csv", 7),
        ("/exportes/*.json", 0),
        ("/edi/*", 1),
        ("/exportes/ventas_2024-12-31.csv", 1),
    ],
)
def test_list_matches_glob_with_size_and_utc_mtime(
    server: SFTPLabServer, clock: VirtualClock, pattern: str, count: int
) -> None:
    """list() keeps the names matching the glob, with the real size and a UTC mtime."""
    with connector(server, clock) as sftp:
        found = sftp.list(pattern)
    assert len(found) == count
    for remote in found:
        real = (server.root_path / remote.path.lstrip("/")).stat()
        assert remote.size == real.st_size
        assert remote.mtime == dt.datetime.fromtimestamp(int(real.st_mtime), dt.UTC)
        assert remote.mtime.tzinfo is dt.UTC
    assert found == sorted(found, key=lambda f: (f.mtime, f.path))


def test_list_hides_dot_files_unless_asked(server: SFTPLabServer, clock: VirtualClock) -> None:
    """Hidden names (our upload temporaries) are left out unless the glob starts with a dot."""
    base = folder(server, "ocultos")
    (base / ".a.part").write_bytes(b"x")
    (base / "b.csv").write_bytes(b"y")
    with connector(server, clock) as sftp:
        assert [f.name for f in sftp.list("/subidas/ocultos/*")] == ["b.csv"]
        assert [f.name for f in sftp.list("/subidas/ocultos/.*")] == [".a.part"]


# --- host keys and authentication ----------------------------------------------------------------


def test_changed_host_key_is_refused_in_spanish(server: SFTPLabServer, clock: VirtualClock) -> None:
    """A server presenting another key is refused, naming both fingerprints and what to check."""
    server.faults.present_other_host_key()
    with pytest.raises(SFTPHostKeyError) as caught:
        connector(server, clock).connect()
    error = caught.value
    assert error.reason == "changed"
    assert error.presented == server.other_host_key_fingerprint
    assert server.info.host_key_fingerprint in str(error)
    assert "CAMBIADO" in str(error)
    assert "canal aparte" in str(error)
    assert isinstance(error, SFTPError)


def test_unknown_host_is_refused(
    server: SFTPLabServer, clock: VirtualClock, tmp_path: Path
) -> None:
    """An empty known_hosts means an unknown host: refused, with the fingerprint to compare."""
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(SFTPHostKeyError) as caught:
        connector(server, clock, known_hosts_path=empty).connect()
    assert caught.value.reason == "unknown"
    assert caught.value.expected is None
    assert server.info.host_key_fingerprint in str(caught.value)
    assert "desconocida" in str(caught.value)
    assert "canal aparte" in str(caught.value)


@pytest.mark.parametrize("prefix", ["SHA256:", ""])
def test_pinned_fingerprint_is_accepted(
    server: SFTPLabServer, clock: VirtualClock, prefix: str
) -> None:
    """The right pinned fingerprint (with or without the SHA256: prefix) connects."""
    pin = prefix + server.info.host_key_fingerprint.removeprefix("SHA256:")
    with connector(server, clock, known_hosts_path=None, host_key_fingerprint=pin) as sftp:
        assert sftp.list("/edi/*")


@pytest.mark.parametrize("other_key_served", [False, True])
def test_pinned_fingerprint_mismatch_is_refused(
    server: SFTPLabServer, clock: VirtualClock, other_key_served: bool
) -> None:
    """A pin that differs from the presented key is refused, whichever side changed."""
    if other_key_served:
        server.faults.present_other_host_key()
        pin = server.info.host_key_fingerprint
    else:
        pin = server.other_host_key_fingerprint
    sftp = connector(server, clock, known_hosts_path=None, host_key_fingerprint=pin)
    with pytest.raises(SFTPHostKeyError) as caught:
        sftp.connect()
    assert caught.value.reason == "pinned"
    assert "no es la fijada" in str(caught.value)


@pytest.mark.parametrize(
    ("user", "password", "ok"),
    [("alumno", "laboratorio-sftp", True), ("alumno", "otra", False), ("nadie", "x", False)],
)
def test_password_authentication(
    server: SFTPLabServer, clock: VirtualClock, user: str, password: str, ok: bool
) -> None:
    """The right password connects; a wrong one raises SFTPAuthError, never retried."""
    info = server.info
    sftp = SFTPConnector(
        info.host, info.port, user, password=password,
        known_hosts_path=info.known_hosts_path, clock=clock,
    )  # fmt: skip
    if ok:
        with sftp:
            assert sftp.list("/edi/*")
        return
    with pytest.raises(SFTPAuthError, match="rechazó al usuario"):
        sftp.connect()


def test_connection_refused_is_a_connection_error(clock: VirtualClock, tmp_path: Path) -> None:
    """A closed port gives SFTPConnectionError in Spanish (the retryable kind)."""
    with __import__("socket").socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sftp = SFTPConnector("127.0.0.1", port, "x", password="y", known_hosts_path=tmp_path / "k")
    with pytest.raises(SFTPConnectionError, match="No se pudo conectar"):
        sftp.connect()


def test_repr_never_shows_the_password(server: SFTPLabServer) -> None:
    """repr() names user and host but not the secret."""
    info = server.info
    sftp = SFTPConnector(info.host, info.port, "alumno", password=info.password,
                         known_hosts_path=info.known_hosts_path)  # fmt: skip
    assert info.password not in repr(sftp)
    assert "alumno@" in repr(sftp)


# --- downloads -----------------------------------------------------------------------------------


def test_download_resumes_after_injected_disconnect(
    server: SFTPLabServer, clock: VirtualClock, tmp_path: Path
) -> None:
    """A connection cut mid-file is retried and resumed; the SHA-256 matches the published one."""
    target = tmp_path / "volcado.bin"
    with connector(server, clock) as sftp:
        published = sftp.published_sha256(server.info.big_file)
    server.faults.disconnect_after(4_000_000, times=1)
    waits_before = len(clock.waits)
    with connector(server, clock) as sftp:
        result = sftp.download(server.info.big_file, target, sha256=published, stability=None)
    assert [d.verdict for d in result.trace] == ["retry", "success"]
    assert result.offsets[0] == 0
    assert 0 < result.offsets[1] <= 4_000_000
    assert result.resumed
    assert result.sha256 == published == server.big_file_sha256()
    assert hashlib.sha256(target.read_bytes()).hexdigest() == published
    assert not target.with_name("volcado.bin.part").exists()
    assert len(clock.waits) == waits_before + 1  # the backoff waited on the virtual clock


def test_failed_download_keeps_part_and_resumes_next_run(
    server: SFTPLabServer, clock: VirtualClock, tmp_path: Path
) -> None:
    """When every attempt drops, the final name never appears; a later run resumes the .part."""
    target = tmp_path / "volcado.bin"
    part = tmp_path / "volcado.bin.part"
    server.faults.disconnect_after(3_000_000)
    policy = DEFAULT_SFTP_RETRY.replace(attempts=2)
    with connector(server, clock, retry=policy) as sftp, pytest.raises(RetryExhaustedError):
        sftp.download(server.info.big_file, target, stability=None)
    assert not target.exists()
    kept = part.stat().st_size
    assert kept > 3_000_000  # two attempts appended to the same .part
    server.faults.reset()
    with connector(server, clock) as sftp:
        result = sftp.download(
            server.info.big_file, target, sha256=server.big_file_sha256(), stability=None
        )
    assert result.offsets == (kept,)
    assert not part.exists()


@pytest.mark.parametrize("stale", ["other_version", "too_long"])
def test_stale_part_is_not_resumed(
    server: SFTPLabServer, clock: VirtualClock, tmp_path: Path, stale: str
) -> None:
    """A .part from another version of the file (or longer than it) is restarted from byte 0."""
    remote = "/edi/pedidos_20241231.edi"
    real = (server.root_path / remote.lstrip("/")).read_bytes()
    target = tmp_path / "p.edi"
    part = tmp_path / "p.edi.part"
    part.write_bytes(b"#" * (10 if stale == "other_version" else len(real) + 5))
    mtime = (server.root_path / remote.lstrip("/")).stat().st_mtime
    os.utime(part, (mtime - 60, mtime - 60) if stale == "other_version" else (mtime, mtime))
    with connector(server, clock) as sftp:
        result = sftp.download(remote, target, stability=None)
    assert result.offsets == (0,)
    assert target.read_bytes() == real


def test_checksum_mismatch_leaves_nothing(
    server: SFTPLabServer, clock: VirtualClock, tmp_path: Path
) -> None:
    """A wrong SHA-256 raises SFTPIntegrityError and leaves neither the file nor a .part."""
    target = tmp_path / "e.edi"
    with connector(server, clock) as sftp, pytest.raises(SFTPIntegrityError, match="SHA-256"):
        sftp.download("/edi/pedidos_20241231.edi", target, sha256="0" * 64, stability=None)
    assert not target.exists()
    assert not (tmp_path / "e.edi.part").exists()


def test_file_changing_while_read_is_refused(tmp_path: Path) -> None:
    """If size or mtime differ after reading, SFTPFileChangedError; the final name never appears."""

    class TickingClock(VirtualClock):
        """Every server look at the time moves it on: the writer keeps writing."""

        def monotonic(self) -> float:
            self.advance(0.6)
            return super().monotonic()

    ticking = TickingClock()
    lab = SFTPLabServer(tmp_path / "lab", clock=ticking, seed=42)
    lab.start()
    try:
        target = tmp_path / "en_curso.csv"
        with connector(lab, ticking) as sftp, pytest.raises(SFTPFileChangedError, match="cambió"):
            sftp.download(GROWING_FILE, target, stability=None)
        assert not target.exists()
    finally:
        lab.stop()


@pytest.mark.parametrize("path", ["/privado/*", "/privado/nominas_2024-12.csv"])
def test_permission_denied_is_an_sftp_error_in_spanish(
    server: SFTPLabServer, clock: VirtualClock, tmp_path: Path, path: str
) -> None:
    """/privado is refused with SFTPPermissionError, a ConnectorError with a next step."""
    with connector(server, clock) as sftp:

        def action() -> object:
            if path.endswith("*"):
                return sftp.list(path)
            return sftp.download(path, tmp_path / "n.csv", stability=None)

        with pytest.raises(SFTPPermissionError) as caught:
            action()
    assert isinstance(caught.value, SFTPError)
    assert isinstance(caught.value, ConnectorError)
    assert "Permiso denegado" in str(caught.value)
    assert caught.value.path is not None
    assert caught.value.path.startswith("/privado")


def test_missing_file_is_not_found(server: SFTPLabServer, clock: VirtualClock) -> None:
    """A path that does not exist raises SFTPNotFoundError."""
    with connector(server, clock) as sftp, pytest.raises(SFTPNotFoundError, match="no existe"):
        sftp.stat("/exportes/no_existe.csv")


# --- stability ---------------------------------------------------------------------------------


def test_stability_waits_for_the_growing_file(
    server: SFTPLabServer, clock: VirtualClock, tmp_path: Path
) -> None:
    """On the virtual clock, the download waits until the file stops growing, then reads it all."""
    server.restart_growing_file()
    start = clock.monotonic()
    with connector(server, clock) as sftp:
        first = sftp.stat(GROWING_FILE)
        result = sftp.download(
            GROWING_FILE, tmp_path / "c.csv", stability=StabilityCheck(interval=1.0, polls=2)
        )
    final = (server.root_path / GROWING_FILE.lstrip("/")).read_bytes()
    assert first.size < len(final)  # it really was growing
    assert (tmp_path / "c.csv").read_bytes() == final
    assert result.remote.size == len(final)
    assert clock.monotonic() - start >= 9.0  # ten slices, one per second


def test_stability_gives_up_after_timeout(server: SFTPLabServer, clock: VirtualClock) -> None:
    """A file still growing when the timeout comes raises SFTPFileChangedError in Spanish."""
    server.restart_growing_file()
    with connector(server, clock) as sftp, pytest.raises(SFTPFileChangedError, match="sigue"):
        sftp.wait_until_stable(GROWING_FILE, StabilityCheck(interval=1.0, polls=2, timeout=4.0))


@pytest.mark.parametrize("polls", [1, 2, 3])
def test_stable_file_costs_exactly_polls_waits(
    server: SFTPLabServer, clock: VirtualClock, polls: int
) -> None:
    """A file that is already finished is confirmed after ``polls`` waits of ``interval``."""
    before = len(clock.waits)
    with connector(server, clock) as sftp:
        sftp.wait_until_stable(
            "/edi/pedidos_20241231.edi", StabilityCheck(interval=2.0, polls=polls)
        )
    assert clock.waits[before:] == [2.0] * polls


# --- uploads -----------------------------------------------------------------------------------


def test_upload_is_visible_only_when_complete(
    server: SFTPLabServer, clock: VirtualClock, tmp_path: Path
) -> None:
    """A concurrent lister never sees the final name with partial content, only the whole file."""
    base = folder(server, "atomica")
    source = tmp_path / "lote.bin"
    source.write_bytes(os.urandom(3 * 1024 * 1024))
    size = source.stat().st_size
    server.faults.bandwidth_limit(6 * 1024 * 1024)  # ~0.5 s of upload to look at
    seen: list[tuple[str, int]] = []
    done = threading.Event()

    def watch() -> None:
        with connector(server, clock) as lister:
            while not done.is_set():
                seen.extend((f.name, f.size) for f in lister.list("/subidas/atomica/.*"))
                seen.extend((f.name, f.size) for f in lister.list("/subidas/atomica/*"))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        with connector(server, clock) as sftp:
            remote = sftp.upload(source, "/subidas/atomica/lote.bin")
    finally:
        done.set()
        watcher.join(timeout=5)
    assert remote.size == size
    assert (base / "lote.bin").read_bytes() == source.read_bytes()
    assert any(name.startswith(".lote.bin.") for name, _ in seen)  # the temp was observed
    assert all(s == size for name, s in seen if name == "lote.bin")
    assert [p.name for p in base.iterdir()] == ["lote.bin"]  # no temp left behind


def test_upload_survives_a_dropped_connection(
    server: SFTPLabServer, clock: VirtualClock, tmp_path: Path
) -> None:
    """A cut mid-upload is retried under a new temp name; the stale temp is removed."""
    base = folder(server, "corte")
    source = tmp_path / "lote.bin"
    source.write_bytes(os.urandom(2 * 1024 * 1024))
    server.faults.disconnect_after(500_000, times=1)
    waits_before = len(clock.waits)
    with connector(server, clock) as sftp:
        remote = sftp.upload(source, "/subidas/corte/lote.bin")
    assert remote.size == source.stat().st_size
    assert (base / "lote.bin").read_bytes() == source.read_bytes()
    assert [p.name for p in base.iterdir()] == ["lote.bin"]
    assert len(clock.waits) == waits_before + 1  # one backoff, on the virtual clock


def test_upload_replaces_an_existing_file(
    server: SFTPLabServer, clock: VirtualClock, tmp_path: Path
) -> None:
    """A second upload to the same name replaces it atomically (posix-rename)."""
    base = folder(server, "reemplazo")
    source = tmp_path / "x.csv"
    with connector(server, clock) as sftp:
        for content in (b"v1\n", b"version 2\n"):
            source.write_bytes(content)
            sftp.upload(source, "/subidas/reemplazo/x.csv")
            assert (base / "x.csv").read_bytes() == content


def test_upload_into_denied_folder_is_refused(
    server: SFTPLabServer, clock: VirtualClock, tmp_path: Path
) -> None:
    """Uploading under /privado raises SFTPPermissionError."""
    source = tmp_path / "x.csv"
    source.write_bytes(b"x")
    with connector(server, clock) as sftp, pytest.raises(SFTPPermissionError):
        sftp.upload(source, "/privado/x.csv")


# --- incremental pick-up -----------------------------------------------------------------------


def put(base: Path, name: str, mtime: int) -> None:
    (base / name).write_bytes(name.encode())
    os.utime(base / name, (mtime, mtime))


def test_incremental_pickup_across_runs(
    server: SFTPLabServer, clock: VirtualClock, tmp_path: Path
) -> None:
    """Each run returns only files added since the last commit, none twice, ties by path."""
    base = folder(server, "entrada")
    store = CheckpointStore(tmp_path / "sftp.json")
    put(base, "c.csv", EPOCH_2025)
    put(base, "b.csv", EPOCH_2025)
    put(base, "d.csv", EPOCH_2025 - 5)  # older: first, whatever its name
    runs: list[list[str]] = []
    for new in ([], [("a0.csv", EPOCH_2025), ("z.csv", EPOCH_2025 + 60)], []):
        for name, mtime in new:
            put(base, name, mtime)
        with connector(server, clock) as sftp:
            found = sftp.new_files("/subidas/entrada/*.csv", since=store)
            runs.append([f.name for f in found])
            for remote in found:
                sftp.commit(store, [remote])
    # a0.csv shares the watermark's mtime: found (not skipped), and b.csv/c.csv not repeated
    assert runs == [["d.csv", "b.csv", "c.csv"], ["a0.csv", "z.csv"], []]
    assert store.load() == {"mtime": float(EPOCH_2025 + 60), "paths": ["/subidas/entrada/z.csv"]}


def test_watermark_ties_and_round_trip() -> None:
    """Watermark keeps every path at the newest mtime, ignores older files, survives JSON."""
    t = dt.datetime.fromtimestamp(EPOCH_2025, dt.UTC)
    older = RemoteFile("/o", 1, t - dt.timedelta(seconds=1))
    a, b = RemoteFile("/a", 1, t), RemoteFile("/b", 1, t)
    mark = Watermark().advance([a]).advance([older])
    assert mark == Watermark(float(EPOCH_2025), frozenset({"/a"}))
    assert not mark.is_new(a)
    assert mark.is_new(b)
    assert not mark.is_new(older)
    assert Watermark.from_state(mark.advance([b]).to_state()).paths == {"/a", "/b"}
    assert Watermark.from_state(None) == Watermark()


def test_import_connectors_lib_does_not_load_paramiko() -> None:
    """``import connectors_lib`` (and its errors) stays free of paramiko; only sftp.py loads it."""
    code = "import sys, connectors_lib; connectors_lib.SFTPError; print('paramiko' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_unreadable_local_source_is_a_local_error_not_a_server_one(
    server: SFTPLabServer, clock: VirtualClock, tmp_path: Path
) -> None:
    """Uploading a directory raises the local OSError as is, and nothing appears remotely."""
    base = folder(server, "local")
    with connector(server, clock) as sftp, pytest.raises(IsADirectoryError):
        sftp.upload(tmp_path, "/subidas/local/x.csv")
    assert list(base.iterdir()) == []
