"""The SFTP lab server against malformed packets and traversal attempts, byte by byte.

A raw SFTP channel (paramiko transport, our own framing) sends requests no
well-behaved client would; every one must get an SFTP status with the right
code, and the session and the server must keep serving.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

import paramiko
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors_lib.clock import VirtualClock
from mock_servers.sftp import SFTPLabServer
from mock_servers.sftp.protocol import Op, Status

EOF_, NO_FILE, DENIED, FAILURE, BAD, UNSUPPORTED = (
    Status.EOF,
    Status.NO_SUCH_FILE,
    Status.PERMISSION_DENIED,
    Status.FAILURE,
    Status.BAD_MESSAGE,
    Status.OP_UNSUPPORTED,
)


def s(data: bytes | str) -> bytes:
    raw = data.encode() if isinstance(data, str) else data
    return struct.pack(">I", len(raw)) + raw


def u32(n: int) -> bytes:
    return struct.pack(">I", n)


def u64(n: int) -> bytes:
    return struct.pack(">Q", n)


class RawSFTP:
    """An SFTP channel on which the test writes packets by hand."""

    def __init__(self, server: SFTPLabServer) -> None:
        info = server.info
        self.transport = paramiko.Transport((info.host, info.port))
        hostkey = paramiko.HostKeys(str(info.known_hosts_path))
        (entry,) = hostkey.values()
        self.transport.connect(
            hostkey=next(iter(entry.values())), username=info.username, password=info.password
        )
        self.chan = self.transport.open_session(timeout=5)
        self.chan.settimeout(5)
        self.chan.invoke_subsystem("sftp")
        self.send_raw(u32(5) + bytes([Op.INIT]) + u32(3))
        kind, body = self.recv()
        assert kind == Op.VERSION
        assert body[:4] == u32(3)
        self.version_body = body

    def send_raw(self, data: bytes) -> None:
        self.chan.sendall(data)

    def send(self, kind: int, body: bytes) -> None:
        self.send_raw(u32(len(body) + 1) + bytes([kind]) + body)

    def _exact(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            chunk = self.chan.recv(n - len(out))
            if not chunk:
                raise EOFError
            out += chunk
        return out

    def recv(self) -> tuple[int, bytes]:
        (length,) = struct.unpack(">I", self._exact(4))
        body = self._exact(length)
        return body[0], body[1:]

    def status(self) -> tuple[int, int]:
        """Read one reply that must be a STATUS; return (request id, code)."""
        kind, body = self.recv()
        assert kind == Op.STATUS, kind
        request_id, code = struct.unpack(">II", body[:8])
        return request_id, code

    def open_handle(self, request_id: int, path: str, pflags: int = 1) -> bytes:
        self.send(Op.OPEN, u32(request_id) + s(path) + u32(pflags) + u32(0))
        kind, body = self.recv()
        assert kind == Op.HANDLE, (kind, body)
        (length,) = struct.unpack(">I", body[4:8])
        return body[8 : 8 + length]

    def close(self) -> None:
        self.transport.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SFTPLabServer]:
    lab = SFTPLabServer(tmp_path_factory.mktemp("sftp"), clock=VirtualClock(), seed=42)
    lab.start()
    yield lab
    lab.stop()


@pytest.fixture
def raw(server: SFTPLabServer) -> Iterator[RawSFTP]:
    conn = RawSFTP(server)
    yield conn
    conn.close()


def still_serves(server: SFTPLabServer) -> None:
    """A fresh, well-behaved client can still list the root."""
    info = server.info
    client = paramiko.SSHClient()
    client.load_host_keys(str(info.known_hosts_path))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(
        info.host,
        info.port,
        username=info.username,
        password=info.password,
        look_for_keys=False,
        allow_agent=False,
        timeout=5,
    )
    try:
        assert "exportes" in client.open_sftp().listdir("/")
    finally:
        client.close()


def test_version_advertises_openssh_extensions(raw: RawSFTP) -> None:
    """VERSION announces posix-rename, limits and fsync."""
    for name in (b"posix-rename@openssh.com", b"limits@openssh.com", b"fsync@openssh.com"):
        assert s(name) in raw.version_body


def test_limits_extension_reply(raw: RawSFTP) -> None:
    """limits@openssh.com answers 256 KiB packets and ~255 KiB reads and writes."""
    raw.send(Op.EXTENDED, u32(7) + s("limits@openssh.com"))
    kind, body = raw.recv()
    assert kind == Op.EXTENDED_REPLY
    assert struct.unpack(">IQQQQ", body) == (7, 262144, 261120, 261120, 256)


CORPUS: list[tuple[str, int, bytes, int]] = [
    # (case, packet type, body after the type byte, expected status)
    ("open without fields", Op.OPEN, u32(1), BAD),
    ("open with string past the end", Op.OPEN, u32(2) + u32(1000) + b"abc", BAD),
    ("open with NUL in path", Op.OPEN, u32(3) + s(b"/exportes\x00/x") + u32(1) + u32(0), BAD),
    ("open with invalid utf-8", Op.OPEN, u32(4) + s(b"/\xff\xfe") + u32(1) + u32(0), BAD),
    ("open with truncated attrs", Op.OPEN, u32(5) + s("/subidas/z") + u32(8) + u32(0x4), BAD),
    (
        "attrs with absurd extension count",
        Op.MKDIR,
        u32(6) + s("/subidas/d") + u32(0x80000000) + u32(0xFFFFFFFF),
        BAD,
    ),
    ("unknown packet type", 99, u32(7) + b"hola", UNSUPPORTED),
    ("reply type sent as request", Op.STATUS, u32(8) + u32(0), UNSUPPORTED),
    ("read with unknown handle", Op.READ, u32(9) + s("zz") + u64(0) + u32(10), FAILURE),
    ("close with unknown handle", Op.CLOSE, u32(10) + s("42"), FAILURE),
    ("readdir with file-less handle", Op.READDIR, u32(11) + s(""), FAILURE),
    ("unknown extension", Op.EXTENDED, u32(12) + s("copy-data"), UNSUPPORTED),
    ("symlink creation", Op.SYMLINK, u32(13) + s("/etc") + s("/subidas/l"), DENIED),
    ("stat above the root", Op.STAT, u32(14) + s("/../../etc/passwd"), DENIED),
    ("lstat relative climb", Op.LSTAT, u32(15) + s("a/../../.."), DENIED),
    ("opendir of /..", Op.OPENDIR, u32(16) + s("/.."), DENIED),
    ("realpath above the root", Op.REALPATH, u32(17) + s("../.."), DENIED),
    ("remove through ..", Op.REMOVE, u32(18) + s("/subidas/../../x"), DENIED),
    ("rename target outside", Op.RENAME, u32(19) + s("/edi") + s("/../edi"), DENIED),
    ("rmdir of the root", Op.RMDIR, u32(20) + s("/"), DENIED),
    ("host absolute path", Op.STAT, u32(21) + s("/etc/passwd"), NO_FILE),
    (
        "open private folder file",
        Op.OPEN,
        u32(22) + s("/privado/nominas_2024-12.csv") + u32(1) + u32(0),
        DENIED,
    ),
    ("opendir private folder", Op.OPENDIR, u32(23) + s("/privado"), DENIED),
    ("rename private folder", Op.RENAME, u32(24) + s("/privado") + s("/abierto"), DENIED),
    (
        "write into private folder",
        Op.OPEN,
        u32(25) + s("/privado/nuevo") + u32(0x1A) + u32(0),
        DENIED,
    ),
    ("missing file", Op.OPEN, u32(26) + s("/exportes/no.csv") + u32(1) + u32(0), NO_FILE),
    ("open a folder as file", Op.OPEN, u32(27) + s("/exportes") + u32(1) + u32(0), FAILURE),
    ("mkdir that exists", Op.MKDIR, u32(28) + s("/subidas") + u32(0), FAILURE),
    ("readlink of a regular file", Op.READLINK, u32(29) + s("/edi"), FAILURE),
    ("posix-rename without fields", Op.EXTENDED, u32(30) + s("posix-rename@openssh.com"), BAD),
]


@pytest.mark.parametrize(("case", "kind", "body", "expected"), CORPUS, ids=[c[0] for c in CORPUS])
def test_corpus_gets_precise_status(
    raw: RawSFTP, case: str, kind: int, body: bytes, expected: int
) -> None:
    """Each bad request gets its SFTP status, and the same session still answers."""
    raw.send(kind, body)
    request_id, code = raw.status()
    assert (request_id, code) == (struct.unpack(">I", body[:4])[0], expected), case
    raw.send(Op.STAT, u32(1000) + s("/"))
    assert raw.recv()[0] == Op.ATTRS


@pytest.mark.parametrize(
    ("raw_packet", "expected_id"),
    [
        (u32(0), 0),  # empty packet: no type, no id
        (u32(1) + bytes([Op.STAT]), 0),  # type without request id
        (u32(3) + bytes([Op.STAT]) + b"\x00\x00", 0),  # half a request id
    ],
)
def test_framing_errors_are_bad_message(raw: RawSFTP, raw_packet: bytes, expected_id: int) -> None:
    """Packets too short to carry a request id get BAD_MESSAGE with id 0."""
    raw.send_raw(raw_packet)
    assert raw.status() == (expected_id, BAD)
    raw.send(Op.STAT, u32(1) + s("/"))
    assert raw.recv()[0] == Op.ATTRS


@pytest.mark.parametrize(
    ("offset", "expected"),
    [(1 << 63, BAD), ((1 << 64) - 1, BAD), (10**12, EOF_)],
)
def test_read_offsets_out_of_range(raw: RawSFTP, offset: int, expected: int) -> None:
    """Reads past the end are EOF; offsets beyond 2^63 are BAD_MESSAGE."""
    handle = raw.open_handle(1, "/edi/pedidos_20241231.edi")
    raw.send(Op.READ, u32(2) + s(handle) + u64(offset) + u32(100))
    assert raw.status() == (2, expected)


@pytest.mark.parametrize("offset", [(1 << 64) - 10, 1 << 40, (1 << 30) - 2])
def test_write_offsets_out_of_range(raw: RawSFTP, offset: int) -> None:
    """Writes beyond the lab's 1 GiB file limit fail and create nothing huge."""
    handle = raw.open_handle(1, "/subidas/fuera_de_rango.bin", 0x1A)
    raw.send(Op.WRITE, u32(2) + s(handle) + u64(offset) + s(b"xyz"))
    assert raw.status() == (2, FAILURE)


def test_setstat_cannot_grow_a_file_past_the_limit(raw: RawSFTP) -> None:
    """Truncating a file up to 2 GiB through SETSTAT is refused like a huge write."""
    raw.open_handle(1, "/subidas/crecer.bin", 0x1A)
    raw.send(Op.SETSTAT, u32(2) + s("/subidas/crecer.bin") + u32(0x1) + u64(1 << 31))
    assert raw.status() == (2, FAILURE)


def test_read_on_a_write_only_handle(raw: RawSFTP) -> None:
    """Reading through a handle opened only for writing is a FAILURE, not a crash."""
    handle = raw.open_handle(1, "/subidas/solo_escritura.bin", 0x1A)
    raw.send(Op.READ, u32(2) + s(handle) + u64(0) + u32(10))
    assert raw.status() == (2, FAILURE)


def test_oversized_packet_ends_only_that_session(server: SFTPLabServer, raw: RawSFTP) -> None:
    """A length of 2 GiB gets BAD_MESSAGE, closes that channel, and others keep working."""
    raw.send_raw(u32(1 << 31) + bytes([Op.STAT]))
    assert raw.status() == (0, BAD)
    with pytest.raises((EOFError, OSError)):
        raw.recv()
    still_serves(server)


def test_fsync_extension(raw: RawSFTP) -> None:
    """fsync@openssh.com on an open file answers OK; on a bad handle, FAILURE."""
    handle = raw.open_handle(1, "/subidas/fsync.bin", 0x1A)
    raw.send(Op.EXTENDED, u32(2) + s("fsync@openssh.com") + s(handle))
    assert raw.status() == (2, Status.OK)
    raw.send(Op.EXTENDED, u32(3) + s("fsync@openssh.com") + s("nada"))
    assert raw.status() == (3, FAILURE)


def test_handle_limit(raw: RawSFTP) -> None:
    """A client leaking handles is stopped at 256 with a FAILURE, not memory exhaustion."""
    for i in range(256):
        raw.send(Op.OPENDIR, u32(i) + s("/"))
    for _ in range(256):
        assert raw.recv()[0] == Op.HANDLE
    raw.send(Op.OPENDIR, u32(999) + s("/"))
    assert raw.status() == (999, FAILURE)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(kind=st.integers(0, 255), body=st.binary(max_size=64))
def test_random_requests_never_kill_the_session(raw: RawSFTP, kind: int, body: bytes) -> None:
    """Any type byte with any body gets exactly one reply and the session survives."""
    if kind in (Op.INIT,):
        return
    payload = u32(424242) + body
    raw.send(kind, payload)
    _, reply = raw.recv()
    assert struct.unpack(">I", reply[:4])[0] == 424242
    raw.send(Op.STAT, u32(1) + s("/"))
    assert raw.recv()[0] == Op.ATTRS


def test_server_survives_all_of_it(server: SFTPLabServer) -> None:
    """After the whole corpus, a normal client is served as usual."""
    still_serves(server)
