"""Pure pieces of the SFTP lab: paths, wire format, seeded data, keys, faults."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import struct
import subprocess
import threading
from pathlib import Path

import pytest

import mock_servers.sftp as sftp_pkg
from connectors_lib.clock import DEFAULT_EPOCH, VirtualClock
from mock_servers.sftp import SFTPFaults
from mock_servers.sftp.keys import derive_key, known_hosts_line
from mock_servers.sftp.protocol import MalformedPacket, Reader, Status
from mock_servers.sftp.seed import GrowingFile, seed_tree
from mock_servers.sftp.vfs import StatusError, VirtualRoot


@pytest.fixture
def vroot(tmp_path: Path) -> VirtualRoot:
    base = tmp_path / "raiz"
    (base / "dentro").mkdir(parents=True)
    return VirtualRoot(base, SFTPFaults(), monotonic=lambda: 0.0)


def test_all_names_exist() -> None:
    """Every name in ``mock_servers.sftp.__all__`` is importable."""
    for name in sftp_pkg.__all__:
        assert hasattr(sftp_pkg, name), name


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/", "/"),
        ("", "/"),
        (".", "/"),
        ("exportes", "/exportes"),
        ("/exportes/", "/exportes"),
        ("//exportes//./a.csv", "/exportes/a.csv"),
        ("/exportes/../edi", "/edi"),
        ("/etc/passwd", "/etc/passwd"),
    ],
)
def test_canonical_normalises_inside_root(vroot: VirtualRoot, path: str, expected: str) -> None:
    """Paths are normalised lexically against the client's ``/``."""
    assert vroot.canonical(path) == expected


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("..", Status.PERMISSION_DENIED),
        ("/..", Status.PERMISSION_DENIED),
        ("/../etc/passwd", Status.PERMISSION_DENIED),
        ("/exportes/../../etc", Status.PERMISSION_DENIED),
        ("a/../../b", Status.PERMISSION_DENIED),
        ("/exportes\x00.csv", Status.BAD_MESSAGE),
    ],
)
def test_canonical_refuses_escapes(vroot: VirtualRoot, path: str, code: Status) -> None:
    """Climbing above the root or a NUL byte is refused with the right status."""
    with pytest.raises(StatusError) as info:
        vroot.canonical(path)
    assert info.value.code == code


def test_symlink_outside_root_is_refused(vroot: VirtualRoot, tmp_path: Path) -> None:
    """A symlink whose target leaves the root is refused; one inside is allowed."""
    base = Path(vroot.base)
    (tmp_path / "secreto").mkdir()
    (base / "fuera").symlink_to(tmp_path / "secreto")
    (base / "atajo").symlink_to(base / "dentro")
    with pytest.raises(StatusError) as info:
        vroot.resolve("/fuera/clave.txt", "read")
    assert info.value.code == Status.PERMISSION_DENIED
    assert vroot.resolve("/atajo", "list")[1] == str(base / "atajo")


@pytest.mark.parametrize(
    ("path", "action", "allowed"),
    [
        ("/privado", "stat", True),
        ("/privado", "list", False),
        ("/privado/nominas.csv", "read", False),
        ("/privado/nominas.csv", "stat", False),
        ("/privado/nuevo.csv", "write", False),
        ("/privadox", "list", True),
        ("/exportes", "list", True),
    ],
)
def test_restricted_folder_policy(
    vroot: VirtualRoot, path: str, action: str, allowed: bool
) -> None:
    """``/privado`` may be stat'ed but nothing inside it is reachable."""
    if allowed:
        vroot.check(path, action)  # type: ignore[arg-type]
        return
    with pytest.raises(StatusError) as info:
        vroot.check(path, action)  # type: ignore[arg-type]
    assert info.value.code == Status.PERMISSION_DENIED


def test_denied_fault_applies_to_subtree_and_resets(tmp_path: Path) -> None:
    """A denied path refuses itself and its subtree, and ``reset`` lifts it."""
    faults = SFTPFaults()
    root = VirtualRoot(tmp_path, faults, monotonic=lambda: 0.0)
    faults.deny("exportes/")
    for path in ("/exportes", "/exportes/a.csv"):
        with pytest.raises(StatusError):
            root.check(path, "stat")
    root.check("/exportes2", "stat")
    faults.reset()
    root.check("/exportes/a.csv", "read")


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00\x00", b"\x00\x00\x00\x05abc", b"\xff\xff\xff\xffx"],
)
def test_reader_refuses_truncated_strings(data: bytes) -> None:
    """A string that runs past the packet end is malformed, never an IndexError."""
    with pytest.raises(MalformedPacket):
        Reader(data).text()


@pytest.mark.parametrize("raw", [b"a\x00b", b"\xff\xfe", b"\xc3"])
def test_reader_refuses_nul_and_bad_utf8(raw: bytes) -> None:
    """Paths with NUL bytes or invalid UTF-8 are malformed."""
    with pytest.raises(MalformedPacket):
        Reader(struct.pack(">I", len(raw)) + raw).text()


def test_growing_file_is_a_function_of_the_clock(tmp_path: Path) -> None:
    """Visible size and mtime advance one slice per clock second, then stop."""
    (tmp_path / "entrantes").mkdir()
    grow = GrowingFile(tmp_path, b"x" * 1000, started=5.0, wall_origin=DEFAULT_EPOCH, chunks=10)
    assert grow.growth(5.0).visible == 100
    assert grow.growth(7.5).visible == 300
    assert grow.growth(7.5).mtime == DEFAULT_EPOCH + 5 + 2
    assert grow.growth(100.0).visible == 1000
    assert grow.growth(100.0).mtime == DEFAULT_EPOCH + 5 + 9
    assert not grow.complete(13.9)
    assert grow.complete(14.0)
    grow.sync(7.5)
    path = tmp_path / "entrantes" / "pedidos_en_curso.csv"
    assert path.stat().st_size == 300
    assert path.stat().st_mtime == DEFAULT_EPOCH + 5 + 2


def _tree_digest(base: Path) -> dict[str, tuple[str, int]]:
    return {
        str(p.relative_to(base)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(base.rglob("*"))
        if p.is_file()
    }


def test_growing_file_restarts_from_the_first_slice(tmp_path: Path) -> None:
    """``restart`` rewrites the file from its first slice, timed from the new start."""
    (tmp_path / "entrantes").mkdir()
    grow = GrowingFile(tmp_path, b"y" * 1000, started=0.0, wall_origin=DEFAULT_EPOCH, chunks=10)
    grow.sync(50.0)
    grow.restart(60.0)
    path = tmp_path / "entrantes" / "pedidos_en_curso.csv"
    assert path.stat().st_size == 100
    assert path.stat().st_mtime == DEFAULT_EPOCH + 60
    assert not grow.complete(65.0)


def test_seeded_tree_is_byte_for_byte_deterministic(tmp_path: Path) -> None:
    """Same seed and start day: identical files and mtimes; another seed differs."""
    trees = []
    for name, seed in (("a", 42), ("b", 42), ("c", 7)):
        base = tmp_path / name
        base.mkdir()
        seed_tree(base, seed, now=DEFAULT_EPOCH, monotonic=0.0)
        trees.append(_tree_digest(base))
    assert trees[0] == trees[1]
    assert trees[0] != trees[2]
    assert "exportes/ventas_2024-12-31.csv" in trees[0]
    assert "edi/pedidos_20241231.edi" in trees[0]


def test_edi_records_are_fixed_width(tmp_path: Path) -> None:
    """Every EDI record has the documented width for its type."""
    seed_tree(tmp_path, 42, now=DEFAULT_EPOCH, monotonic=0.0)
    lines = (tmp_path / "edi" / "pedidos_20241231.edi").read_text().splitlines()
    widths = {"HDR": 41, "DTL": 44, "TRL": 9}
    assert lines[0].startswith("HDR")
    assert lines[-1] == f"TRL{len(lines) - 2:06d}"
    assert all(len(line) == widths[line[:3]] for line in lines)


def test_big_file_matches_its_published_digest(tmp_path: Path) -> None:
    """The lazily generated big file hashes to the digest published beside it."""
    tree = seed_tree(tmp_path, 42, now=DEFAULT_EPOCH, monotonic=0.0)
    assert not (tmp_path / "grande" / "volcado.bin").exists()
    digest = tree.big.sha256()
    data = (tmp_path / "grande" / "volcado.bin").read_bytes()
    assert hashlib.sha256(data).hexdigest() == digest
    side = (tmp_path / "grande" / "volcado.bin.sha256").read_text()
    assert side == f"{digest}  volcado.bin\n"


def test_key_derivation_is_stable_and_separated() -> None:
    """The same (seed, label) gives the same key; other labels and seeds do not."""
    assert derive_key(42, "host").fingerprint == derive_key(42, "host").fingerprint
    assert derive_key(42, "host").fingerprint != derive_key(42, "usuario").fingerprint
    assert derive_key(42, "host").fingerprint != derive_key(43, "host").fingerprint


@pytest.mark.openssh
@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="OpenSSH no está instalado")
def test_fingerprint_matches_ssh_keygen(tmp_path: Path) -> None:
    """Our SHA-256 fingerprint is the one ``ssh-keygen -l`` prints for the known_hosts line."""
    key = derive_key(42, "host")
    path = tmp_path / "known_hosts"
    path.write_text(known_hosts_line("127.0.0.1", 2222, key))
    out = subprocess.run(
        ["ssh-keygen", "-l", "-f", str(path)], capture_output=True, text=True, check=True
    ).stdout
    assert key.fingerprint in out
    assert "[127.0.0.1]:2222" in out


def test_faults_validate_and_count_disconnects() -> None:
    """Bad fault values are refused; ``times`` bounds how many sessions get cut."""
    faults = SFTPFaults()
    with pytest.raises(ValueError, match="positivo"):
        faults.bandwidth_limit(0)
    with pytest.raises(ValueError, match="negativo"):
        faults.auth_delay(-1)
    faults.disconnect_after(10, times=2)
    assert [faults.claim_disconnect() for _ in range(3)] == [10, 10, None]
    faults.disconnect_after(5)
    assert [faults.claim_disconnect() for _ in range(3)] == [5, 5, 5]


def test_throttle_waits_on_the_stop_event() -> None:
    """The bandwidth throttle returns at once when the server is stopping."""
    from mock_servers.sftp.faults import Throttle

    stop = threading.Event()
    stop.set()
    throttle = Throttle(stop)
    throttle.pace(10_000_000, 1)  # would be 10^7 s without the stop event
    throttle.pace(10, None)


def test_client_files_are_owner_only(tmp_path: Path) -> None:
    """The private key and known_hosts are written with mode 0600."""
    from mock_servers.sftp import SFTPLabServer

    server = SFTPLabServer(tmp_path, clock=VirtualClock())
    info = server.start()
    try:
        for path in (info.private_key_path, info.known_hosts_path):
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert "laboratorio" not in repr(info)
    finally:
        server.stop()
