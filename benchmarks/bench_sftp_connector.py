"""``SFTPConnector`` vs paramiko's defaults vs OpenSSH's ``sftp``, and every tuning knob.

Run: ``.venv/bin/python benchmarks/bench_sftp_connector.py [--size-mib 256] [--repeat 2]``
(``--sweep-size-mib 64`` sizes the per-setting sweep; ``--no-sweep`` skips it).

Servers, each out of this process so no client shares a GIL with a server:
the lab's (``mock_servers.sftp`` in a child process, started by
``bench_sftp.spawn``) and OpenSSH's ``sshd`` on a loopback port if installed
(``bench_sftp.start_sshd``; install with ``apt-get install -y openssh-server``).
Clients: the connector (``download`` / ``upload``, stability check off, size
checked), paramiko's ``SFTPClient.get/put`` with its defaults, and OpenSSH's
``sftp -b``. Every run opens its own connection (handshake included, as in
real use); the best of ``--repeat`` is kept and every download is checked
against the source's SHA-256.

The sweep changes one :class:`~connectors_lib.sftp.TransferTuning` field at a
time from the default and also replays the "plausible tunings" of paramiko's
own ``get`` that the course warns about.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import paramiko

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# the other helper's sshd and lab launchers, reused as they are
from bench_sftp import (
    SSHD,
    Target,
    openssh,
    spawn,
    start_sshd,
    stop_servers,
    with_paramiko,
)

from connectors_lib.sftp import DEFAULT_TUNING, SFTPConnector, TransferTuning

KiB, MiB = 1024, 1024 * 1024
Run = Callable[[Target, Path, str, bool], None]


def with_connector(tuning: TransferTuning) -> Run:
    """A client function in ``bench_sftp``'s shape that uses the connector."""

    def run(target: Target, local: Path, remote: str, upload: bool) -> None:
        sftp = SFTPConnector(
            target.host,
            target.port,
            target.user,
            private_key_path=target.key,
            known_hosts_path=target.known_hosts,
            tuning=tuning,
        )
        with sftp:
            if upload:
                sftp.upload(local, remote)
            else:
                sftp.download(remote, local, stability=None)

    return run


def with_paramiko_options(**options: object) -> Run:
    """paramiko's ``get`` with keyword options (window sizes go to the Transport)."""
    window = options.pop("window_size", None)

    def run(target: Target, local: Path, remote: str, upload: bool) -> None:
        assert not upload
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
        )
        try:
            transport = client.get_transport()
            assert transport is not None
            sftp = paramiko.SFTPClient.from_transport(
                transport, window_size=window if isinstance(window, int) else None
            )
            assert sftp is not None
            sftp.get(remote, str(local), **options)  # type: ignore[arg-type]
        finally:
            client.close()

    return run


def best_seconds(fn: Callable[[], None], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def transfer(
    run: Run, target: Target, source: Path, back: Path, digest: str, repeat: int, upload: bool
) -> float:
    """MB/s of one direction; a download is checked byte for byte (SHA-256)."""
    remote = f"{target.remote_dir}/bench.bin"
    if upload:
        seconds = best_seconds(lambda: run(target, source, remote, True), repeat)
    else:

        def down() -> None:
            back.unlink(missing_ok=True)
            run(target, back, remote, False)

        seconds = best_seconds(down, repeat)
        if hashlib.sha256(back.read_bytes()).hexdigest() != digest:
            raise SystemExit(f"{target.name}: ¡el fichero llegó corrupto!")
    return source.stat().st_size / seconds / 1e6


def make_source(work: Path, mib: int, name: str) -> tuple[Path, str]:
    path = work / name
    digest = hashlib.sha256()
    with path.open("wb") as handle:
        for _ in range(mib):
            block = os.urandom(MiB)
            digest.update(block)
            handle.write(block)
    return path, digest.hexdigest()


def main_table(targets: list[Target], work: Path, args: argparse.Namespace) -> None:
    source, digest = make_source(work, args.size_mib, "fuente.bin")
    back = work / "vuelta.bin"
    clients: dict[str, Run] = {
        "SFTPConnector": with_connector(DEFAULT_TUNING),
        "paramiko get/put": with_paramiko,
    }
    if shutil.which("sftp"):
        clients["OpenSSH sftp"] = openssh
    print(
        f"\n{args.size_mib} MiB, mejor de {args.repeat}, loopback, {os.cpu_count()} núcleos (MB/s)"
    )
    print(
        f"{'cliente':<18}"
        + "".join(f"{t.name + ' ' + d:>16}" for t in targets for d in ("subida", "bajada"))
    )
    rows: dict[str, list[float]] = {}
    for name, run in clients.items():
        cells: list[float] = []
        for target in targets:
            # upload first: it puts the file the download then fetches
            cells.append(transfer(run, target, source, back, digest, args.repeat, True))
            cells.append(transfer(run, target, source, back, digest, args.repeat, False))
        rows[name] = cells
        print(f"{name:<18}" + "".join(f"{c:>16.1f}" for c in cells), flush=True)
    if "OpenSSH sftp" in rows:
        ratio = [o / c for o, c in zip(rows["OpenSSH sftp"], rows["SFTPConnector"], strict=True)]
        print(f"{'OpenSSH/conector':<18}" + "".join(f"{r:>16.2f}" for r in ratio))
    gain = [c / p for c, p in zip(rows["SFTPConnector"], rows["paramiko get/put"], strict=True)]
    print(f"{'conector/paramiko':<18}" + "".join(f"{g:>16.2f}" for g in gain))
    back.unlink(missing_ok=True)


def sweep(targets: list[Target], work: Path, args: argparse.Namespace) -> None:
    """One knob at a time from the default; paramiko's 'tunings' for comparison."""
    source, digest = make_source(work, args.sweep_size_mib, "barrido.bin")
    back = work / "barrido_vuelta.bin"
    base = DEFAULT_TUNING
    variants: list[tuple[str, str, Run]] = [
        ("bajada", "conector por defecto", with_connector(base))
    ]

    def tuned(label: str, direction: str, **changes: object) -> None:
        tuning = dataclasses.replace(base, **changes)  # type: ignore[arg-type]
        variants.append((direction, label, with_connector(tuning)))

    for depth in (4, 16, 32, 64):
        tuned(f"peticiones en vuelo={depth}", "bajada", max_requests=depth)
    for size in (32, 64, 256):
        tuned(f"tamaño de lectura={size} KiB", "bajada", read_request_size=size * KiB)
    tuned("lectura 32 KiB, 64 en vuelo", "bajada", read_request_size=32 * KiB, max_requests=64)
    for window in (1, 4, 8, 32):
        tuned(f"ventana={window} MiB", "bajada", window_size=window * MiB)
    tuned("paquete máx.=64 KiB", "bajada", max_packet_size=64 * KiB)
    tuned("cifrado aes128-ctr", "bajada", ciphers=("aes128-ctr",))
    variants.append(("subida", "conector por defecto", with_connector(base)))
    for size in (32, 64, 256):
        tuned(f"tamaño de escritura={size} KiB", "subida", write_request_size=size * KiB)
    tuned("cifrado aes128-ctr", "subida", ciphers=("aes128-ctr",))
    variants += [
        ("bajada", "paramiko get por defecto", with_paramiko_options()),
        (
            "bajada",
            "paramiko get, 64 en vuelo",
            with_paramiko_options(max_concurrent_prefetch_requests=64),
        ),
        ("bajada", "paramiko get, ventana 32 MiB", with_paramiko_options(window_size=32 * MiB)),
        ("bajada", "paramiko get sin prefetch", with_paramiko_options(prefetch=False)),
    ]
    print(f"\nBarrido, {args.sweep_size_mib} MiB, mejor de {args.repeat} (MB/s)")
    print(f"{'sentido':<8}{'ajuste':<32}" + "".join(f"{t.name:>10}" for t in targets))
    for target in targets:  # the file the downloads read, then one untimed warm-up read
        with_connector(base)(target, source, f"{target.remote_dir}/bench.bin", True)
        with_connector(base)(target, back, f"{target.remote_dir}/bench.bin", False)
    for direction, label, run in variants:
        cells = []
        for target in targets:
            try:
                speed = transfer(
                    run, target, source, back, digest, args.repeat, direction == "subida"
                )
                cells.append(f"{speed:>10.1f}")
            except Exception as problem:  # a setting a server refuses is a result too
                cells.append(f"{'falla':>10}")
                print(f"  ({label} en {target.name}: {type(problem).__name__}: {problem})")
        print(f"{direction:<8}{label:<32}" + "".join(cells), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--sweep-size-mib", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--servers", default="lab,sshd")
    parser.add_argument("--no-sweep", action="store_true")
    parser.add_argument("--no-table", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_sftp_conector_"))
    children: list[subprocess.Popen[str]] = []
    sshd: subprocess.Popen[bytes] | None = None
    try:
        targets: list[Target] = []
        proc, lab = spawn("lab", work)
        children.append(proc)
        if "lab" in args.servers:
            targets.append(lab)
        if "sshd" in args.servers:
            if SSHD is None:
                print("(sin sshd: apt-get install -y openssh-server para compararlo)")
            else:
                sshd, target, _ = start_sshd(work, lab.key.with_suffix(".pub").read_text().strip())
                targets.append(dataclasses.replace(target, key=lab.key))
        if not args.no_table:
            main_table(targets, work, args)
        if not args.no_sweep:
            sweep(targets, work, args)
    finally:
        stop_servers(children, sshd, work)


if __name__ == "__main__":
    main()
