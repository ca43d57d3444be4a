"""Request boundaries in a client-to-server HTTP/1.x stream, fed in any slicing."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mock_servers.proxy_framing import MAX_HEAD_BYTES, RequestHead, RequestSplitter

GET = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
POST_LENGTH = b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
POST_CHUNKED = (
    b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: t\r\n\r\n"
)
WITH_FAULT = b"GET /d HTTP/1.1\r\nHost: x\r\nX-Mock-Socket-Fault: reset\r\nAccept: */*\r\n\r\n"
STREAM = GET + POST_LENGTH + POST_CHUNKED + WITH_FAULT


def split(data: bytes, cuts: list[int]) -> tuple[list[tuple[str, str, str | None]], bytes]:
    """Feed ``data`` cut at ``cuts``; return the heads found and all bytes to forward."""
    splitter = RequestSplitter()
    heads: list[tuple[str, str, str | None]] = []
    forwarded = b""
    bounds = [0, *sorted(set(cuts)), len(data)]
    for start, end in itertools.pairwise(bounds):
        for piece in splitter.feed(data[start:end]):
            if isinstance(piece, RequestHead):
                heads.append((piece.method, piece.target, piece.fault))
                forwarded += piece.forward
            else:
                forwarded += piece
    return heads, forwarded


EXPECTED_HEADS = [
    ("GET", "/a", None),
    ("POST", "/b", None),
    ("POST", "/c", None),
    ("GET", "/d", "reset"),
]
EXPECTED_FORWARD = STREAM.replace(b"X-Mock-Socket-Fault: reset\r\n", b"")


def test_pipelined_requests_are_all_found_and_the_fault_header_removed() -> None:
    """Four requests in one read: four heads, bodies intact, only the fault header dropped."""
    assert split(STREAM, []) == (EXPECTED_HEADS, EXPECTED_FORWARD)


@pytest.mark.parametrize("cut", range(1, len(STREAM)))
def test_any_single_cut_gives_the_same_result(cut: int) -> None:
    """However TCP happens to cut the stream in two, the heads and bytes are the same."""
    assert split(STREAM, [cut]) == (EXPECTED_HEADS, EXPECTED_FORWARD)


@given(st.lists(st.integers(min_value=1, max_value=len(STREAM) - 1), max_size=20))
def test_any_slicing_gives_the_same_result(cuts: list[int]) -> None:
    """Any number of cuts anywhere: same heads, same forwarded bytes."""
    assert split(STREAM, cuts) == (EXPECTED_HEADS, EXPECTED_FORWARD)


@pytest.mark.parametrize(
    "data",
    [
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS ClientHello
        b"SSH-2.0-OpenSSH_9.6\r\n",
        b"get / HTTP/1.1\r\n\r\n",  # methods are case-sensitive
        b"GET / SPDY/3\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
        b"GET / HTTP/1.1\r\nContent-Length: 1, 2\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
    ],
)
def test_what_is_not_plain_http_passes_untouched(data: bytes) -> None:
    """Non-HTTP or ambiguous framing switches to passthrough and forwards every byte."""
    splitter = RequestSplitter()
    assert splitter.feed(data) == [data]
    assert splitter.passthrough
    assert splitter.feed(b"more") == [b"more"]


@pytest.mark.parametrize(
    "head",
    [
        b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        b"CONNECT example.org:443 HTTP/1.1\r\nHost: example.org\r\n\r\n",
    ],
)
def test_after_an_upgrade_the_stream_is_opaque(head: bytes) -> None:
    """Upgrade and CONNECT are reported once; what follows is another protocol."""
    splitter = RequestSplitter()
    pieces = splitter.feed(head + b"GET /not-a-request HTTP/1.1\r\n\r\n")
    assert [type(p) for p in pieces] == [RequestHead, bytes]
    assert splitter.passthrough


def test_bad_chunk_size_switches_to_passthrough() -> None:
    """A chunk size that is not plain hex (``0x5``) is not guessed at."""
    splitter = RequestSplitter()
    head = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    pieces = splitter.feed(head + b"0x5\r\nhello\r\n")
    assert isinstance(pieces[0], RequestHead)
    assert b"".join(p for p in pieces[1:] if isinstance(p, bytes)) == b"0x5\r\nhello\r\n"
    assert splitter.passthrough


def test_an_oversized_head_is_not_buffered_forever() -> None:
    """A head larger than MAX_HEAD_BYTES is forwarded as is instead of held in memory."""
    splitter = RequestSplitter()
    assert splitter.feed(b"GET / HTTP/1.1\r\nX: ") == []
    pieces = splitter.feed(b"a" * MAX_HEAD_BYTES)
    assert splitter.passthrough
    assert b"".join(p for p in pieces if isinstance(p, bytes)).endswith(b"a" * 10)


def test_blank_lines_between_requests_are_tolerated() -> None:
    """RFC 9112 lets a server ignore stray CRLFs before a request line; so does the splitter."""
    assert split(b"\r\n" + GET + b"\r\n\r\n" + GET, [])[0] == [("GET", "/a", None)] * 2
