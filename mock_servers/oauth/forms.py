"""Strict reading of OAuth2 requests: form bodies, client authentication, error answers.

RFC 6749 is precise about malformed input, and the lab follows it to the
letter because lessons show these errors:

* the body is ``application/x-www-form-urlencoded`` UTF-8 (§3.2); a repeated
  parameter is ``invalid_request`` (§3.1); an empty value counts as absent;
* a client authenticates with HTTP Basic *or* with body parameters, never
  both (§2.3); a failure is ``invalid_client`` with 401 and a ``WWW-Authenticate``
  challenge (§5.2);
* errors are JSON ``{"error", "error_description"}`` with ``Cache-Control: no-store``.
  ``error_description`` may only hold ASCII (§5.2), so the Spanish texts here
  are written without accents on purpose.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from starlette.requests import Request
from starlette.responses import JSONResponse

from .clients import OAuthClient

__all__ = [
    "ClientAuth",
    "OAuthError",
    "authenticate_client",
    "error_response",
    "grant_scope",
    "no_store",
    "parse_scope",
    "read_form",
    "unique_params",
]

#: A token request is a handful of short fields; anything larger is abuse.
MAX_BODY = 8 * 1024
MAX_FIELDS = 32
#: Sent with every 401, so clients know which scheme the endpoint takes.
BASIC_CHALLENGE = 'Basic realm="laboratorio", charset="UTF-8"'
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class OAuthError(Exception):
    """An RFC 6749 §5.2 error to answer with; ``status`` 400 unless it is ``invalid_client``."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


def no_store(payload: dict[str, Any], status: int = 200) -> JSONResponse:
    """JSON that no cache may keep (RFC 6749 §5.1: tokens and errors alike)."""
    return JSONResponse(payload, status_code=status, headers=dict(_NO_STORE))


def error_response(exc: OAuthError) -> JSONResponse:
    """The §5.2 error body, with the Basic challenge on every 401."""
    # §5.2 allows only %x20-21 / %x23-5B / %x5D-7E here; echoed input may hold anything.
    description = "".join(
        c if c in " !" or "#" <= c <= "[" or "]" <= c <= "~" else "?" for c in exc.description
    )
    response = no_store({"error": exc.error, "error_description": description}, exc.status)
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = BASIC_CHALLENGE
    return response


async def _read_capped(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise OAuthError("invalid_request", "cuerpo demasiado grande o Content-Length invalido")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_BODY:
            raise OAuthError("invalid_request", "cuerpo demasiado grande")
    return bytes(body)


async def read_form(request: Request) -> dict[str, str]:
    """The form parameters, each at most once; empty values are dropped (RFC 6749 §3.1)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        raise OAuthError(
            "invalid_request",
            "envia los parametros como application/x-www-form-urlencoded (data=..., no json=...)",
        )
    raw = await _read_capped(request)
    try:
        text = raw.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError) as exc:
        raise OAuthError("invalid_request", "cuerpo de formulario ilegible") from exc
    return unique_params(pairs)


def unique_params(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Pairs to a dict; a repeated name is ``invalid_request`` (RFC 6749 §3.1, §3.2)."""
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise OAuthError("invalid_request", f"parametro repetido: {name!a}")
        form[name] = value
    return {k: v for k, v in form.items() if v != ""}


@dataclass(frozen=True)
class ClientAuth:
    """Who is calling and how: ``client_secret_basic``, ``client_secret_post`` or ``none``."""

    client: OAuthClient
    method: str


def _basic_credentials(header: str) -> tuple[str, str]:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise OAuthError("invalid_client", "usa el esquema Basic para autenticar al cliente", 401)
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise OAuthError("invalid_client", "cabecera Basic mal codificada", 401) from exc
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise OAuthError("invalid_client", "cabecera Basic sin ':' entre id y secreto", 401)
    # RFC 6749 §2.3.1: both parts are form-urlencoded before Base64.
    return unquote_plus(client_id), unquote_plus(secret)


def authenticate_client(
    request: Request, form: dict[str, str], clients: dict[str, OAuthClient]
) -> ClientAuth:
    """Identify the client by exactly one method; raise ``OAuthError`` otherwise."""
    header = request.headers.get("authorization")
    if header is not None:
        client_id, secret = _basic_credentials(header)
        if "client_secret" in form:
            raise OAuthError(
                "invalid_request", "usa Basic o client_secret en el cuerpo, no ambos"
            )
        if form.get("client_id", client_id) != client_id:
            raise OAuthError("invalid_request", "client_id del cuerpo distinto al de Basic")
        method = "client_secret_basic"
    elif "client_secret" in form:
        client_id, secret = form.get("client_id", ""), form["client_secret"]
        method = "client_secret_post"
    elif "client_id" in form:
        client_id, secret, method = form["client_id"], "", "none"
    else:
        raise OAuthError("invalid_client", "falta autenticar al cliente (Basic o client_id)", 401)
    client = clients.get(client_id)
    if client is None:
        raise OAuthError("invalid_client", "cliente desconocido o secreto incorrecto", 401)
    if client.client_secret is None:
        if method != "none":
            raise OAuthError("invalid_client", "este cliente es publico: envia solo client_id", 401)
    elif method == "none" or not hmac.compare_digest(
        secret.encode("utf-8"), client.client_secret.encode("utf-8")
    ):
        raise OAuthError("invalid_client", "cliente desconocido o secreto incorrecto", 401)
    return ClientAuth(client, method)


def parse_scope(raw: str | None) -> tuple[str, ...] | None:
    """Space-delimited scope tokens (RFC 6749 §3.3), or ``None`` when absent."""
    if raw is None:
        return None
    tokens = raw.split(" ")
    if any(not t or not all(c == "!" or "#" <= c <= "[" or "]" <= c <= "~" for c in t)
           for t in tokens):
        raise OAuthError("invalid_scope", "scope mal formado: tokens separados por un espacio")
    return tuple(dict.fromkeys(tokens))  # order kept, duplicates dropped


def grant_scope(client: OAuthClient, requested: tuple[str, ...] | None) -> tuple[str, ...]:
    """The scope to grant: the request if allowed, else the client's default (all it may have)."""
    if requested is None:
        return client.scopes
    extra = [s for s in requested if s not in client.scopes]
    if extra:
        raise OAuthError(
            "invalid_scope", f"scope no permitido para {client.client_id}: {' '.join(extra)}"
        )
    return requested
