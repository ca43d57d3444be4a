"""The SFTP lab server checked by a client we did not write: OpenSSH's ``sftp -b``.

Batch mode with strict host-key checking against the lab's own
``known_hosts``; each test runs one short batch and checks what landed on
disk (on the server root or locally), byte for byte.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors_lib.clock import VirtualClock
from mock_servers.sftp import SFTPLabServer

pytestmark = [
    pytest.mark.openssh,
    pytest.mark.skipif(shutil.which("sftp") is None, reason="OpenSSH sftp no está instalado"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SFTPLabServer]:
    lab = SFTPLabServer(tmp_path_factory.mktemp("sftp"), clock=VirtualClock(), seed=42)
    lab.start()
    yield lab
    lab.stop()


@pytest.fixture(autouse=True)
def _no_faults(server: SFTPLabServer) -> Iterator[None]:
    yield
    server.faults.reset()


def run_sftp(
    server: SFTPLabServer, tmp_path: Path, *commands: str
) -> subprocess.CompletedProcess[str]:
    """Run ``commands`` as one ``sftp -b`` batch as the key user; never prompts."""
    info = server.info
    batch = tmp_path / "batch.txt"
    batch.write_text("\n".join(commands) + "\n")
    return subprocess.run(
        [
            "sftp", "-b", str(batch), "-F", "none", "-P", str(info.port),
            "-i", str(info.private_key_path),
            "-o", "IdentitiesOnly=yes",
            "-o", f"UserKnownHostsFile={info.known_hosts_path}",
            "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "StrictHostKeyChecking=yes",
            "-o", "BatchMode=yes",
            f"{info.key_username}@{info.host}",
        ],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, check=False,
    )  # fmt: skip


def on_server(server: SFTPLabServer, path: str) -> Path:
    return server.root_path / path.lstrip("/")


def test_ls_lists_exports_with_utc_dates(server: SFTPLabServer, tmp_path: Path) -> None:
    """``ls -l`` shows the seven daily exports with their fixed UTC times."""
    result = run_sftp(server, tmp_path, "ls -l /exportes")
    assert result.returncode == 0, result.stderr
    for day in range(25, 32):
        assert f"ventas_2024-12-{day}.csv" in result.stdout
    assert "Dec 31 23:55" in result.stdout


def test_get_downloads_identical_bytes(server: SFTPLabServer, tmp_path: Path) -> None:
    """``get`` of the EDI file gives the exact bytes the server holds."""
    remote = "/edi/pedidos_20241231.edi"
    result = run_sftp(server, tmp_path, f"get {remote} local.edi")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "local.edi").read_bytes() == on_server(server, remote).read_bytes()


def test_put_then_rename_is_an_atomic_upload(server: SFTPLabServer, tmp_path: Path) -> None:
    """``put`` to a temporary name then ``rename`` leaves only the final file."""
    payload = bytes(range(256)) * 4000
    (tmp_path / "informe.bin").write_bytes(payload)
    result = run_sftp(
        server, tmp_path,
        "put informe.bin /subidas/.informe.bin.part",
        "rename /subidas/.informe.bin.part /subidas/informe.bin",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert on_server(server, "/subidas/informe.bin").read_bytes() == payload
    assert not on_server(server, "/subidas/.informe.bin.part").exists()


def test_reget_resumes_from_the_local_size(server: SFTPLabServer, tmp_path: Path) -> None:
    """``reget`` keeps the local prefix and fetches only the rest (read at an offset)."""
    remote = "/exportes/ventas_2024-12-30.csv"
    full = on_server(server, remote).read_bytes()
    (tmp_path / "parcial.csv").write_bytes(b"#" * 4000)  # marked prefix: must survive
    result = run_sftp(server, tmp_path, f"reget {remote} parcial.csv")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "parcial.csv").read_bytes() == b"#" * 4000 + full[4000:]


def test_reput_resumes_from_the_remote_size(server: SFTPLabServer, tmp_path: Path) -> None:
    """``reput`` keeps the remote prefix and sends only the rest (write at an offset)."""
    payload = bytes(range(256)) * 2000
    (tmp_path / "subir.bin").write_bytes(payload)
    on_server(server, "/subidas/reanudar.bin").write_bytes(b"#" * 100_000)
    result = run_sftp(server, tmp_path, "reput subir.bin /subidas/reanudar.bin")
    assert result.returncode == 0, result.stderr
    got = on_server(server, "/subidas/reanudar.bin").read_bytes()
    assert got == b"#" * 100_000 + payload[100_000:]


def test_mkdir_rm_rmdir(server: SFTPLabServer, tmp_path: Path) -> None:
    """Folders and files can be created and removed with the usual commands."""
    (tmp_path / "a.txt").write_text("hola\n")
    result = run_sftp(
        server, tmp_path,
        "mkdir /subidas/lote", "put a.txt /subidas/lote/a.txt",
        "rm /subidas/lote/a.txt", "rmdir /subidas/lote",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert not on_server(server, "/subidas/lote").exists()


# OpenSSH's ``get`` and ``ls`` glob first and word any refusal as "not found";
# ``put``, ``mkdir``, ``rename`` and ``cd`` show the server's status or message.
@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("get /privado/nominas_2024-12.csv x.csv", "not found"),
        ("ls /privado", "Permission denied"),
        ("put batch.txt /privado/x", "Permission denied"),
        ("mkdir /privado/y", "Permission denied"),
    ],
)
def test_private_folder_is_refused(
    server: SFTPLabServer, tmp_path: Path, command: str, message: str
) -> None:
    """The private folder cannot be read, listed or written through OpenSSH either."""
    result = run_sftp(server, tmp_path, command)
    assert result.returncode == 1
    assert message in result.stderr
    assert not (tmp_path / "x.csv").exists()
    assert sorted(p.name for p in on_server(server, "/privado").iterdir()) == [
        "nominas_2024-12.csv"
    ]


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("get /../../etc/passwd pw", "not found"),
        ("get ../../../etc/hostname pw", "not found"),
        ("ls /../..", "not found"),
        ("cd ..", "fuera de la ra"),
        ("put batch.txt /../fuera.txt", "Permission denied"),
        ("mkdir /../fuera", "Permission denied"),
        ("rename /edi /../edi", "Permission denied"),
    ],
)
def test_traversal_is_refused(
    server: SFTPLabServer, tmp_path: Path, command: str, message: str
) -> None:
    """Climbing above the root fails; nothing is read from or written to the host."""
    result = run_sftp(server, tmp_path, command)
    assert result.returncode == 1
    assert message in result.stderr
    assert not (tmp_path / "pw").exists()
    outside = server.root_path.parent
    assert not (outside / "fuera.txt").exists()
    assert not (outside / "fuera").exists()
    assert not (outside / "edi").exists()


def test_changed_host_key_is_refused(server: SFTPLabServer, tmp_path: Path) -> None:
    """With the other host key presented, OpenSSH refuses to connect at all."""
    server.faults.present_other_host_key()
    result = run_sftp(server, tmp_path, "ls /")
    assert result.returncode == 255
    assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in result.stderr
    assert "exportes" not in result.stdout


def test_big_file_download_matches_sha256(server: SFTPLabServer, tmp_path: Path) -> None:
    """OpenSSH downloads the 32 MiB file and its published SHA-256 matches."""
    big = server.info.big_file
    result = run_sftp(server, tmp_path, f"get {big} big.bin", f"get {big}.sha256 big.sha256")
    assert result.returncode == 0, result.stderr
    published = (tmp_path / "big.sha256").read_text().split()[0]
    assert hashlib.sha256((tmp_path / "big.bin").read_bytes()).hexdigest() == published
