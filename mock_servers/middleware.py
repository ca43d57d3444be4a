"""The lab's pure-ASGI middleware: request ids, caller, faults and journal, per request.

For every request outside ``/__admin/`` it, in order:

1. numbers the request and picks its ``X-Request-ID`` (the client's own if it
   sent a valid one, else ``req-000001``...), echoed on the response;
2. identifies the caller (API key → learner, ``Bearer`` token → OAuth2
   client) *without* judging it: the endpoints decide 401/403;
3. resolves the fault (``X-Mock-Fault`` header, else the controller's rules)
   and applies what lives at the transport level: delay on the lab clock,
   status answers, body truncation, malformed JSON. (``cap`` is applied by the
   list endpoints, which read it from the context.);
4. records one :class:`~mock_servers.journal.JournalEntry` when the response ends.

It is pure ASGI rather than ``BaseHTTPMiddleware`` because the latter adds a
task and a memory stream per request, a cost the hot paging path cannot pay.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from connectors_lib.clock import Clock, VirtualClock

from .faults import FaultSpec, FaultSpecError
from .journal import JournalEntry
from .problems import PROBLEM_MEDIA_TYPE, Problem, problem_bytes
from .state import LabState

__all__ = ["CTX_KEY", "LabMiddleware", "RequestContext"]

#: Where the context lives in the ASGI scope.
CTX_KEY = "lab.ctx"
#: Paths that never get faults (docs must stay usable while the API misbehaves).
_NO_FAULT_PREFIXES = ("/docs", "/redoc", "/openapi.json", "/static-offline-docs")
#: A client-chosen request id: short and printable, so it is safe to echo and log.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,64}")


@dataclass(frozen=True)
class RequestContext:
    """What the middleware learned about a request; endpoints read it from the scope."""

    seq: int
    request_id: str
    #: ``"api_key"``, ``"bearer"`` or ``"none"``.
    auth: str
    #: Key of the caller for rate limits and fault rules (API key or OAuth2 client id).
    caller: str | None
    learner: str | None
    #: Token info from the OAuth2 server (``scope``, ``client_id``...), bearer only.
    token: dict[str, Any] | None
    fault: FaultSpec | None


def _malform(body: bytes) -> bytes:
    """Invalid JSON that still looks plausible: Python-style single quotes."""
    bad = body.replace(b'"', b"'")
    return bad if bad != body else body + b","


class LabMiddleware:
    """Wraps the whole app; see the module docstring for what it does."""

    def __init__(self, app: ASGIApp, state: LabState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/__admin"):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state = self.state
        clock_time = state.clock.now()
        seq = state.journal.next_seq()
        headers = _interesting_headers(scope)
        client_id = headers.get("x-request-id")
        request_id = state.journal.request_id(seq)
        status = 500
        fault_text: str | None = None
        auth, caller, learner, token = self._identify(headers)
        recorded = False

        def finish() -> None:
            # Called just before the last body chunk leaves, so a client that
            # reads the journal right after its response always finds the entry.
            nonlocal recorded
            if recorded:
                return
            recorded = True
            state.journal.record(JournalEntry(
                seq=seq,
                request_id=request_id,
                method=scope["method"],
                path=scope["path"],
                query=scope.get("query_string", b"").decode("latin-1"),
                learner=learner,
                status=status,
                fault=fault_text,
                clock_time=clock_time,
                latency_ms=round((time.perf_counter() - started) * 1000, 3),
                clock_latency=round(state.clock.now() - clock_time, 6),
            ))

        async def reply(problem: Problem) -> None:
            nonlocal status
            status = problem.status
            body = problem_bytes(problem, scope["path"], request_id)
            raw = [
                (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", request_id.encode()),
                (b"date", _http_date(state.clock)),
            ]
            raw += [(k.lower().encode(), v.encode("latin-1")) for k, v in problem.headers]
            await send({"type": "http.response.start", "status": problem.status, "headers": raw})
            finish()
            await send({"type": "http.response.body", "body": body})

        try:
            if client_id is not None:
                if not _REQUEST_ID.fullmatch(client_id):
                    await reply(Problem(
                        400, "cabecera-invalida", "Cabecera X-Request-ID inválida",
                        "X-Request-ID admite de 1 a 64 caracteres entre letras, dígitos y . _ : -; "
                        "quítala o envía un identificador más corto.",
                    ))
                    return
                request_id = client_id
            fault: FaultSpec | None = None
            if not scope["path"].startswith(_NO_FAULT_PREFIXES):
                try:
                    fault = state.faults.resolve(
                        scope["method"], scope["path"], caller, headers.get("x-mock-fault")
                    )
                except FaultSpecError as exc:
                    await reply(Problem(
                        400, "fallo-invalido", "Cabecera X-Mock-Fault inválida",
                        f"{exc}. Ejemplo válido: 'X-Mock-Fault: status=503;retry_after=2'.",
                    ))
                    return
            fault_text = str(fault) if fault is not None else None
            ctx = RequestContext(seq, request_id, auth, caller, learner, token, fault)
            scope[CTX_KEY] = ctx
            if fault is not None and fault.delay:
                await self._delay(fault.delay)
            if fault is not None and fault.status is not None:
                extra: list[tuple[str, str]] = []
                if fault.retry_after is not None:
                    extra.append(("Retry-After", str(math.ceil(fault.retry_after))))
                await reply(Problem(
                    fault.status, "fallo-inyectado", "Fallo inyectado por el laboratorio",
                    f"El laboratorio respondió {fault.status} a propósito ({fault}). Un cliente "
                    "robusto reintenta los 5xx y 429 con espera; los demás 4xx no se reintentan.",
                    headers=extra,
                ))
                return

            async def send_wrapper(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    message["headers"] = [*message.get("headers", []),
                                          (b"x-request-id", request_id.encode()),
                                          (b"date", _http_date(state.clock))]
                elif message["type"] == "http.response.body" and not message.get("more_body"):
                    finish()
                await send(message)

            app_send: Send = send_wrapper
            if fault is not None and fault.rewrites_body:
                app_send = _body_rewriter(fault, send_wrapper)
            await self.app(scope, receive, app_send)
        finally:
            finish()  # no-op unless the app failed before answering

    def _identify(
        self, headers: dict[str, str]
    ) -> tuple[str, str | None, str | None, dict[str, Any] | None]:
        authorization = headers.get("authorization", "")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer":
            check = self.state.bearer_check
            info = None
            token = token.strip()
            if check is not None and token:
                try:
                    info = check(token)
                except Exception:  # a broken checker must look like a bad token, not a 500
                    info = None
            if info is None:
                return "bearer", None, None, None
            client = str(info.get("client_id", "")) or None
            return "bearer", client, client, info
        key = headers.get("x-api-key")
        if key is not None:
            learner = self.state.api_keys.get(key)
            return "api_key", key if learner else None, learner, None
        return "none", None, None, None

    async def _delay(self, seconds: float) -> None:
        clock = self.state.clock
        if isinstance(clock, VirtualClock):
            clock.advance(seconds)  # the server's time passes; not the client's own wait
        else:
            await clock.asleep(seconds)


def _http_date(clock: Clock) -> bytes:
    """RFC 9110 ``Date`` from the lab clock (uvicorn's own real-time one is off)."""
    return formatdate(clock.now(), usegmt=True).encode()


def _interesting_headers(scope: Scope) -> dict[str, str]:
    wanted = (b"x-request-id", b"x-api-key", b"authorization", b"x-mock-fault")
    found: dict[str, str] = {}
    for name, value in scope.get("headers", ()):
        if name in wanted:
            found[name.decode()] = value.decode("latin-1")
    return found


def _body_rewriter(fault: FaultSpec, send: Send) -> Send:
    """Buffer the response and cut or break its body before it leaves."""
    start: Message | None = None
    chunks: list[bytes] = []

    async def rewriting_send(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
            if message["status"] in (204, 304):  # no body to break
                start = None
                await send(message)
            return
        if message["type"] != "http.response.body" or start is None:
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        body = b"".join(chunks)
        if fault.malformed:
            body = _malform(body)
        if fault.truncate is not None:
            body = body[: fault.truncate]
        start["headers"] = [(k, v) for k, v in start.get("headers", []) if k != b"content-length"]
        start["headers"].append((b"content-length", str(len(body)).encode()))
        await send(start)
        await send({"type": "http.response.body", "body": body})

    return rewriting_send
