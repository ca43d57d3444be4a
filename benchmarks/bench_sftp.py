"""Throughput of the SFTP lab server against OpenSSH's ``sshd``, on demand.

Run: ``.venv/bin/python benchmarks/bench_sftp.py [--size-mib 64] [--repeat 3]``

Three servers, each in its own process so that no client shares a GIL with
a server: the lab's (``mock_servers.sftp``), a *stock* paramiko server (the
minimal ``SFTPServer`` + ``SFTPServerInterface`` of paramiko's own tests: the
baseline the lab had to beat) and OpenSSH's ``sshd`` if installed (on a
loopback port with its own config and host key in a temporary folder; the
system sshd is never touched). Two clients: OpenSSH ``sftp -b`` and
paramiko's ``SFTPClient``. Each uploads and downloads one file of random
bytes; the best of ``--repeat`` runs is kept, the bytes are checked, and the
table shows MB/s, the ratio to sshd and the CPU seconds each Python server
spent per GiB (read from ``/proc``; steadier than MB/s on a busy machine).
Times include the SSH handshake (~0.1 s), as a real transfer does.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO, cast

import paramiko

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors_lib.clock import SystemClock
from mock_servers.sftp import SFTPLabServer

SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if Path("/usr/sbin/sshd").exists() else None)
SFTP = shutil.which("sftp") or "sftp"
#: Every cipher paramiko's client may offer (to disable all but one of them).
_PARAMIKO_CIPHERS: tuple[str, ...] = getattr(paramiko.Transport, "_preferred_ciphers", ())


@dataclass(frozen=True)
class Target:
    """Where to connect and which remote folder to use."""

    name: str
    host: str
    port: int
    user: str
    key: Path
    known_hosts: Path
    remote_dir: str
    #: Force this cipher in the client (``sshd-gcm``: same cipher as the lab).
    cipher: str | None = None


class _StockHandle(paramiko.SFTPHandle):
    """paramiko's default handle: a Python file object, seek + write + flush."""

    readfile: BinaryIO
    writefile: BinaryIO

    def stat(self) -> paramiko.SFTPAttributes | int:
        return paramiko.SFTPAttributes.from_stat(os.fstat(self.readfile.fileno()))


class _StockSFTP(paramiko.SFTPServerInterface):
    """The minimal server of paramiko's own test suite (tests/_stub_sftp.py), reduced."""

    ROOT = Path("/")

    def _real(self, path: str) -> str:
        return str(self.ROOT / path.lstrip("/"))

    def open(
        self, path: str, flags: int, attr: paramiko.SFTPAttributes
    ) -> paramiko.SFTPHandle | int:
        fd = os.open(self._real(path), flags | getattr(os, "O_BINARY", 0), 0o644)
        mode = "r+b" if flags & os.O_RDWR else ("wb" if flags & os.O_WRONLY else "rb")
        handle = _StockHandle(flags)
        handle.readfile = handle.writefile = cast(BinaryIO, os.fdopen(fd, mode))
        return handle

    def stat(self, path: str) -> paramiko.SFTPAttributes:
        return paramiko.SFTPAttributes.from_stat(os.stat(self._real(path)))

    lstat = stat

    def canonicalize(self, path: str) -> str:
        return "/" + path.strip("/") if path not in (".", "") else "/"

    def list_folder(self, path: str) -> list[paramiko.SFTPAttributes]:
        real = self._real(path)
        return [
            paramiko.SFTPAttributes.from_stat(os.stat(os.path.join(real, n)), n)
            for n in os.listdir(real)
        ]


class StockServer:
    """A minimal paramiko SFTP server (stock ``SFTPServer``, default windows): the baseline."""

    def __init__(self, root: Path, host_key: paramiko.PKey, user_key: paramiko.PKey) -> None:
        _StockSFTP.ROOT = root
        self._host_key, self._user_key = host_key, user_key
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self._stop = False
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        user_key = self._user_key

        class Auth(paramiko.ServerInterface):
            def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
                return 0 if key == user_key else 1  # AUTH_SUCCESSFUL / AUTH_FAILED

            def get_allowed_auths(self, username: str) -> str:
                return "publickey"

            def check_channel_request(self, kind: str, chanid: int) -> int:
                return 0  # OPEN_SUCCEEDED

        while not self._stop:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            transport = paramiko.Transport(conn)
            transport.set_log_channel("bench.stock")
            transport.add_server_key(self._host_key)
            transport.set_subsystem_handler("sftp", paramiko.SFTPServer, _StockSFTP)
            transport.start_server(event=threading.Event(), server=Auth())

    def close(self) -> None:
        self._stop = True
        self._sock.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_sshd(workdir: Path, user_pub: str) -> tuple[subprocess.Popen[bytes], Target, Path]:
    """An sshd on 127.0.0.1 with its own config, host key and authorized_keys."""
    assert SSHD is not None
    d = workdir / "sshd"
    d.mkdir()
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "host")], check=True
    )
    (d / "authorized_keys").write_text(user_pub + "\n")
    Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation dir sshd insists on
    port = _free_port()
    (d / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d / 'host'}\n"
        f"AuthorizedKeysFile {d / 'authorized_keys'}\nPidFile {d / 'pid'}\n"
        "StrictModes no\nUsePAM no\nPasswordAuthentication no\n"
        "PermitRootLogin prohibit-password\nSubsystem sftp internal-sftp\n"
    )
    proc = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(d / "sshd_config")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    pub = (d / "host.pub").read_text().split()
    known = d / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {pub[0]} {pub[1]}\n")
    data = workdir / "sshd_data"
    data.mkdir()
    for _ in range(100):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    user = (
        os.environ.get("USER")
        or subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()
    )
    return proc, Target("sshd", "127.0.0.1", port, user, Path(), known, str(data)), d


def _known(work: Path, port: int, lab_known: Path) -> Path:
    """The lab's known_hosts line re-pointed at another port (same host key)."""
    line = lab_known.read_text().split(" ", 1)[1]
    path = work / f"known_hosts_{port}"
    path.write_text(f"[127.0.0.1]:{port} {line}")
    return path


def openssh(target: Target, local: Path, remote: str, upload: bool) -> None:
    batch = local.with_suffix(".batch")
    cmd = f"put {local} {remote}" if upload else f"get {remote} {local}"
    batch.write_text(cmd + "\n")
    subprocess.run(
        [
            SFTP,
            "-q",
            "-b",
            str(batch),
            "-P",
            str(target.port),
            "-i",
            str(target.key),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            f"UserKnownHostsFile={target.known_hosts}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
            *(["-o", f"Ciphers={target.cipher}"] if target.cipher else []),
            f"{target.user}@{target.host}",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def with_paramiko(target: Target, local: Path, remote: str, upload: bool) -> None:
    client = paramiko.SSHClient()
    client.load_host_keys(str(target.known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(
        target.host,
        target.port,
        username=target.user,
        key_filename=str(target.key),
        look_for_keys=False,
        allow_agent=False,
        disabled_algorithms=(
            {"ciphers": [c for c in _PARAMIKO_CIPHERS if c != target.cipher]}
            if target.cipher
            else None
        ),
    )
    try:
        sftp = client.open_sftp()
        if upload:
            sftp.put(str(local), remote)
        else:
            sftp.get(remote, str(local))
    finally:
        client.close()


def _proc_cpu(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (Linux ``/proc``; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(fn: Callable[[], None], repeat: int, pid: int | None) -> tuple[float, float]:
    """Best wall time of ``repeat`` runs, and the server's CPU seconds in that run."""
    best = (float("inf"), 0.0)
    for _ in range(repeat):
        cpu = _proc_cpu(pid) if pid else 0.0
        start = time.perf_counter()
        fn()
        wall = time.perf_counter() - start
        best = min(best, (wall, (_proc_cpu(pid) - cpu) if pid else 0.0))
    return best


def print_table(
    results: dict[tuple[str, str, str], tuple[float, float]],
    clients: list[str],
    servers: list[str],
    size: int,
    args: argparse.Namespace,
) -> None:
    """MB/s per (client, direction, server), ratios to sshd, in-process server CPU."""
    mb = size / 1e6
    gib = size / 2**30
    print(f"{args.size_mib} MiB, mejor de {args.repeat}, loopback, {os.cpu_count()} núcleos")
    others = [s for s in servers if not s.startswith("sshd")]
    bases = [s for s in servers if s.startswith("sshd")]
    ratios = [(o, b) for b in bases for o in others]
    header = f"{'cliente':<14}{'sentido':<9}" + "".join(f"{s:>10}" for s in servers)
    print(header + "".join(f"{o + '/' + b:>16}" for o, b in ratios))
    for client in clients:
        for direction in ("subida", "bajada"):
            secs = {s: results[(client, s, direction)][0] for s in servers}
            row = f"{client:<14}{direction:<9}" + "".join(f"{mb / secs[s]:>10.1f}" for s in servers)
            print(row + "".join(f"{secs[b] / secs[o]:>16.2f}" for o, b in ratios))
    print("(MB/s; sshd-gcm: el mismo sshd con el cliente forzado a aes128-gcm, el cifrado del lab)")
    print("\nCPU del servidor Python (s de CPU por GiB transferido):")
    for client in clients:
        for direction in ("subida", "bajada"):
            cells = "".join(
                f"{s}: {results[(client, s, direction)][1] / gib:5.2f}   " for s in others
            )
            print(f"  {client:<14}{direction:<8}{cells}")


def serve(kind: str, workdir: Path) -> None:
    """Child mode: run one Python server, print how to reach it, stop at stdin EOF."""
    lab = SFTPLabServer(workdir / "lab", clock=SystemClock(), seed=42)
    info = lab.start()
    port, stock = info.port, None
    if kind == "stock":
        root = workdir / "stock"
        root.mkdir()
        stock = StockServer(root, lab._host_key.pkey, lab._user_key.pkey)
        port = stock.port
    known = _known(workdir, port, info.known_hosts_path)
    print(f"{port} {info.private_key_path} {known}", flush=True)
    sys.stdin.read()
    if stock is not None:
        stock.close()
    lab.stop()


def spawn(kind: str, work: Path) -> tuple[subprocess.Popen[str], Target]:
    """Start ``serve(kind)`` in a child process and describe how to reach it."""
    workdir = work / kind
    workdir.mkdir()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, "--workdir", str(workdir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    port, key, known = proc.stdout.readline().split()
    remote = "/subidas" if kind == "lab" else ""
    target = Target(kind, "127.0.0.1", int(port), "robot", Path(key), Path(known), remote)
    return proc, target


def stop_servers(
    children: list[subprocess.Popen[str]], sshd: subprocess.Popen[bytes] | None, work: Path
) -> None:
    """End the spawned servers (closing stdin tells a child to stop) and delete the work folder."""
    for child in children:
        if child.stdin:
            child.stdin.close()
        child.wait(timeout=10)
    if sshd is not None:
        sshd.terminate()
        sshd.wait(timeout=5)
    shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--clients", default="openssh,paramiko")
    parser.add_argument("--servers", default="lab,stock,sshd")
    parser.add_argument("--serve", choices=("lab", "stock"), help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.workdir)
        return
    size = args.size_mib * 1024 * 1024
    work = Path(tempfile.mkdtemp(prefix="bench_sftp_"))
    children: list[subprocess.Popen[str]] = []
    sshd: subprocess.Popen[bytes] | None = None
    try:
        source = work / "fuente.bin"
        source.write_bytes(os.urandom(size))
        digest = hashlib.sha256(source.read_bytes()).hexdigest()
        targets: list[Target] = []
        pids: dict[str, int] = {}
        for kind in ("lab", "stock"):
            if kind in args.servers.split(","):
                proc, target = spawn(kind, work)
                children.append(proc)
                targets.append(target)
                pids[kind] = proc.pid
        if "sshd" in args.servers and SSHD and targets:
            key = targets[0].key
            sshd, sshd_target, _ = start_sshd(work, key.with_suffix(".pub").read_text().strip())
            targets.append(replace(sshd_target, key=key))
            # sshd's default cipher is chacha20-poly1305, which paramiko lacks;
            # this second column compares like with like (AES-GCM on both sides).
            gcm = "aes128-gcm@openssh.com"
            targets.append(replace(sshd_target, name="sshd-gcm", key=key, cipher=gcm))
        clients: dict[str, Callable[[Target, Path, str, bool], None]] = {}
        if "openssh" in args.clients and shutil.which("sftp"):
            clients["OpenSSH sftp"] = openssh
        if "paramiko" in args.clients:
            clients["paramiko"] = with_paramiko
        results: dict[tuple[str, str, str], tuple[float, float]] = {}
        for client_name, client in clients.items():
            for target in targets:
                remote = f"{target.remote_dir}/bench.bin"
                back = work / "vuelta.bin"
                pid = pids.get(target.name)
                up = functools.partial(client, target, source, remote, True)
                down = functools.partial(client, target, back, remote, False)
                results[(client_name, target.name, "subida")] = measure(up, args.repeat, pid)
                results[(client_name, target.name, "bajada")] = measure(down, args.repeat, pid)
                if hashlib.sha256(back.read_bytes()).hexdigest() != digest:
                    raise SystemExit(f"{client_name}/{target.name}: ¡el fichero llegó corrupto!")
                back.unlink()
        print_table(results, list(clients), [t.name for t in targets], size, args)
    finally:
        stop_servers(children, sshd, work)


if __name__ == "__main__":
    main()
