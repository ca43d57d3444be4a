"""OAuth2 authorization server of the lab (RFC 6749, 7009, 7636, 7662, 8414).

>>> server = install(app, state)                      # doctest: +SKIP
>>> server.expire(client_id="lab-etl")                # the next REST call gets 401

See :mod:`.server` for the endpoints and :mod:`.clients` for the credentials.
"""

from __future__ import annotations

from .clients import ALL_SCOPES, GRAPHQL_SCOPE, LAB_USER, OAuthClient, lab_clients
from .server import OAuthServer, install
from .store import pkce_s256

__all__ = [
    "ALL_SCOPES",
    "GRAPHQL_SCOPE",
    "LAB_USER",
    "OAuthClient",
    "OAuthServer",
    "install",
    "lab_clients",
    "pkce_s256",
]
