"""The lab's OAuth2 authorization server: endpoints on the lab app, plus a Python handle.

Endpoints (all under the same FastAPI app as the REST resources):

==========================================  =============================================
``POST /oauth/token``                       RFC 6749 §4.4 client credentials, §4.1.3
                                            authorization code + PKCE, §6 refresh (rotating)
``GET  /oauth/authorize``                   non-interactive authorization endpoint: approves
                                            at once for the lab user and redirects with ``code``
``POST /oauth/revoke``                      RFC 7009 token revocation
``POST /oauth/introspect``                  RFC 7662 token introspection (confidential clients)
``GET  /.well-known/oauth-authorization-server``  RFC 8414 metadata
``POST /__admin/oauth/expire``              expire tokens now (``X-Admin-Token``)
``POST /__admin/oauth/revoke``              revoke tokens now (``X-Admin-Token``)
==========================================  =============================================

:class:`OAuthServer` is the same control from Python (``expire``, ``revoke``,
``issue``), so a lesson can make the next REST call answer 401 mid-run.
"""

from __future__ import annotations

import hmac
import re
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from ..state import LabState
from .clients import LAB_USER, OAuthClient, lab_clients
from .forms import (
    OAuthError,
    authenticate_client,
    error_response,
    grant_scope,
    no_store,
    parse_scope,
    read_form,
    unique_params,
)
from .store import GrantError, Token, TokenStore, verifier_is_valid

__all__ = ["OAuthServer", "install"]

#: RFC 7636 §4.2: an S256 challenge is 43 base64url characters.
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
_LOOPBACK = ("127.0.0.1", "::1", "localhost")


class OAuthServer:
    """Registered clients and tokens of one lab, with on-demand expiry and revocation."""

    def __init__(self, state: LabState, clients: tuple[OAuthClient, ...] | None = None) -> None:
        self.state = state
        self.clients: tuple[OAuthClient, ...] = clients or lab_clients(state.settings.seed)
        self._by_id = {c.client_id: c for c in self.clients}
        self.store = TokenStore(
            seed=state.settings.seed, clock=state.clock,
            access_lifetime=state.settings.token_lifetime,
        )

    # -- Python API ------------------------------------------------------------
    def client(self, client_id: str) -> OAuthClient:
        """The registered client ``client_id`` (``KeyError`` if unknown)."""
        return self._by_id[client_id]

    @property
    def token_lifetime(self) -> float:
        """Seconds an access token lives on the lab clock; settable, affects new tokens."""
        return self.store.access_lifetime

    @token_lifetime.setter
    def token_lifetime(self, seconds: float) -> None:
        if seconds <= 0:
            raise ValueError("la vida del token debe ser positiva")
        self.store.access_lifetime = float(seconds)

    def issue(self, client_id: str, scope: str | None = None) -> dict[str, Any]:
        """A client-credentials token response without HTTP (tests and demos)."""
        client = self.client(client_id)
        granted = grant_scope(client, parse_scope(scope))
        access, _ = self.store.issue(client.client_id, granted)
        return self._token_body(access, None)

    def check(self, token: str) -> dict[str, Any] | None:
        """Bearer check for resources: RFC 7662-style info of an active access token, or None."""
        found = self.store.lookup(token, "access")
        return found.info() if found else None

    def introspect(self, token: str) -> dict[str, Any]:
        """RFC 7662 answer for any token: its info, or ``{"active": false}``."""
        found = self.store.lookup(token)
        return found.info() if found else {"active": False}

    def expire(self, token: str | None = None, *, client_id: str | None = None) -> int:
        """Expire now the active access tokens that match (all if no filter); returns a count."""
        return self.store.expire(token, client_id=client_id)

    def revoke(self, token: str | None = None, *, client_id: str | None = None) -> int:
        """Revoke the tokens that match (all if no filter), refresh families included."""
        return self.store.revoke(token, client_id=client_id)

    def reset(self) -> None:
        """Forget every token and code."""
        self.store.reset()

    # -- token endpoint ----------------------------------------------------------
    def _token_body(self, access: Token, refresh: Token | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "access_token": access.value,
            "token_type": "Bearer",
            "expires_in": round(access.expires_at - access.issued_at),
            "scope": " ".join(access.scope),
        }
        if refresh is not None:
            body["refresh_token"] = refresh.value
        return body

    async def token_endpoint(self, request: Request) -> Response:
        try:
            form = await read_form(request)
            grant_type = form.get("grant_type")
            if grant_type is None:
                raise OAuthError("invalid_request", "falta grant_type")
            if grant_type not in ("client_credentials", "authorization_code", "refresh_token"):
                raise OAuthError("unsupported_grant_type", f"grant_type no soportado: {grant_type}")
            auth = authenticate_client(request, form, self._by_id)
            if grant_type not in auth.client.grant_types:
                raise OAuthError(
                    "unauthorized_client",
                    f"el cliente {auth.client.client_id} no puede usar {grant_type}",
                )
            access, refresh = self._grant(grant_type, auth.client, form)
        except OAuthError as exc:
            return error_response(exc)
        except GrantError as exc:
            return error_response(OAuthError(exc.error, exc.description))
        return no_store(self._token_body(access, refresh))

    def _grant(
        self, grant_type: str, client: OAuthClient, form: dict[str, str]
    ) -> tuple[Token, Token | None]:
        if grant_type == "client_credentials":
            # RFC 6749 §4.4.3: no refresh token for client credentials.
            scope = grant_scope(client, parse_scope(form.get("scope")))
            return self.store.issue(client.client_id, scope)
        if grant_type == "authorization_code":
            code, verifier = form.get("code"), form.get("code_verifier")
            if code is None:
                raise OAuthError("invalid_request", "falta code")
            if verifier is None:
                raise OAuthError("invalid_request", "falta code_verifier (PKCE es obligatorio)")
            if not verifier_is_valid(verifier):
                raise OAuthError("invalid_request", "code_verifier: 43 a 128 de [A-Za-z0-9-._~]")
            redirect_uri = form.get("redirect_uri")
            return self.store.redeem_code(code, client.client_id, redirect_uri, verifier)
        refresh = form.get("refresh_token")
        if refresh is None:
            raise OAuthError("invalid_request", "falta refresh_token")
        return self.store.rotate(refresh, client.client_id, parse_scope(form.get("scope")))

    # -- authorization endpoint ------------------------------------------------
    def _redirect_ok(self, client: OAuthClient, uri: str) -> bool:
        if uri in client.redirect_uris:
            return True
        try:  # RFC 8252 §7.3: for loopback redirect URIs the port may vary.
            given = urlsplit(uri)
            _ = given.port
        except ValueError:
            return False
        for registered in map(urlsplit, client.redirect_uris):
            if (
                registered.hostname in _LOOPBACK and given.scheme == registered.scheme
                and given.hostname == registered.hostname and given.path == registered.path
                and given.query == registered.query and not given.fragment
            ):
                return True
        return False

    async def authorize_endpoint(self, request: Request) -> Response:
        try:
            params = unique_params(list(request.query_params.multi_items()))
        except OAuthError as exc:
            return error_response(exc)
        client = self._by_id.get(params.get("client_id", ""))
        if client is None:  # §4.1.2.1: never redirect to an unverified URI
            return error_response(OAuthError("invalid_request", "client_id desconocido o ausente"))
        redirect_uri = params.get("redirect_uri")
        if redirect_uri is None and len(client.redirect_uris) == 1:
            target = client.redirect_uris[0]
        elif redirect_uri is not None and self._redirect_ok(client, redirect_uri):
            target = redirect_uri
        else:
            return error_response(OAuthError("invalid_request", "redirect_uri no registrada"))
        reply: dict[str, str] = {}
        try:
            if params.get("response_type") != "code":
                raise OAuthError("unsupported_response_type", "solo response_type=code")
            if "authorization_code" not in client.grant_types:
                raise OAuthError("unauthorized_client", "este cliente no usa authorization_code")
            scope = grant_scope(client, parse_scope(params.get("scope")))
            challenge = params.get("code_challenge")
            if challenge is None or params.get("code_challenge_method") != "S256":
                raise OAuthError(
                    "invalid_request", "PKCE obligatorio: code_challenge con method S256"
                )
            if not _CHALLENGE.fullmatch(challenge):
                raise OAuthError("invalid_request", "code_challenge: 43 caracteres base64url")
            reply["code"] = self.store.new_code(
                client.client_id, redirect_uri, scope, LAB_USER, challenge
            )
        except OAuthError as exc:
            reply = {"error": exc.error, "error_description": exc.description}
        if "state" in params:
            reply["state"] = params["state"]
        parts = urlsplit(target)
        query = "&".join(q for q in (parts.query, urlencode(reply)) if q)
        location = urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
        return RedirectResponse(location, status_code=302, headers={"Cache-Control": "no-store"})

    # -- revocation and introspection -------------------------------------------
    async def revoke_endpoint(self, request: Request) -> Response:
        try:
            form = await read_form(request)
            auth = authenticate_client(request, form, self._by_id)
            value = form.get("token")
            if value is None:
                raise OAuthError("invalid_request", "falta token")
            found = self.store.get(value)
            if found is not None and found.client_id != auth.client.client_id:
                raise OAuthError("unauthorized_client", "ese token pertenece a otro cliente")
        except OAuthError as exc:
            return error_response(exc)
        if found is not None:
            self.store.revoke(value)
        # RFC 7009 §2.2: 200 even for an unknown token (the client's goal is met).
        return Response(status_code=200, headers={"Cache-Control": "no-store"})

    async def introspect_endpoint(self, request: Request) -> Response:
        try:
            form = await read_form(request)
            auth = authenticate_client(request, form, self._by_id)
            if auth.client.is_public:
                raise OAuthError("invalid_client", "solo clientes confidenciales", 401)
            value = form.get("token")
            if value is None:
                raise OAuthError("invalid_request", "falta token")
        except OAuthError as exc:
            return error_response(exc)
        return no_store(self.introspect(value))

    def metadata(self, request: Request) -> JSONResponse:
        base = str(request.base_url).rstrip("/")
        return JSONResponse({
            "issuer": base,
            "authorization_endpoint": f"{base}/oauth/authorize",
            "token_endpoint": f"{base}/oauth/token",
            "revocation_endpoint": f"{base}/oauth/revoke",
            "introspection_endpoint": f"{base}/oauth/introspect",
            "grant_types_supported": ["client_credentials", "authorization_code", "refresh_token"],
            "response_types_supported": ["code"],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic", "client_secret_post", "none",
            ],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": sorted({s for c in self.clients for s in c.scopes}),
        })

    # -- admin -------------------------------------------------------------------
    async def admin_endpoint(self, request: Request) -> Response:
        given = request.headers.get("x-admin-token", "")
        if not hmac.compare_digest(given.encode(), self.state.admin_token.encode()):
            return JSONResponse(
                {"detail": "falta X-Admin-Token o es incorrecto"}, status_code=401,
                headers={"WWW-Authenticate": 'X-Admin-Token realm="admin"'},
            )
        try:
            raw = await request.json() if await request.body() else {}
        except ValueError:
            raw = None
        if not isinstance(raw, dict) or not all(
            k in ("token", "client_id") and (v is None or isinstance(v, str))
            for k, v in raw.items()
        ):
            return JSONResponse(
                {"detail": 'cuerpo JSON opcional: {"token": "...", "client_id": "..."}'},
                status_code=400,
            )
        action = self.expire if request.url.path.endswith("/expire") else self.revoke
        count = action(raw.get("token"), client_id=raw.get("client_id"))
        return JSONResponse({"affected": count})


def install(app: FastAPI, state: LabState) -> OAuthServer:
    """Add the OAuth2 endpoints to ``app``, set ``state.bearer_check``, return the server.

    The server is also kept as ``state.extras["oauth"]``.
    """
    server = OAuthServer(state)
    hidden: dict[str, Any] = {"include_in_schema": False}
    app.add_api_route("/oauth/token", server.token_endpoint, methods=["POST"], **hidden)
    app.add_api_route("/oauth/authorize", server.authorize_endpoint, methods=["GET"], **hidden)
    app.add_api_route("/oauth/revoke", server.revoke_endpoint, methods=["POST"], **hidden)
    app.add_api_route("/oauth/introspect", server.introspect_endpoint, methods=["POST"], **hidden)
    app.add_api_route(
        "/.well-known/oauth-authorization-server", server.metadata, methods=["GET"], **hidden
    )
    for action in ("expire", "revoke"):
        app.add_api_route(
            f"/__admin/oauth/{action}", server.admin_endpoint, methods=["POST"], **hidden
        )
    state.bearer_check = server.check
    state.extras["oauth"] = server
    return server
