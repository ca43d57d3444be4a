"""The lab's registered OAuth2 clients, derived from the seed.

Three clients cover what the lessons show:

* ``lab-etl``: a *confidential* machine client (RFC 6749 §4.4, client
  credentials) allowed every read scope plus ``graphql``: the pipeline's client.
* ``lab-reportes``: another confidential client allowed only ``products:read``,
  so a lesson can show ``invalid_scope`` at the token endpoint and
  ``insufficient_scope`` (403) at a resource.
* ``lab-notebook``: a *public* client (no secret, like a SPA or a CLI) that
  uses the authorization-code grant with PKCE (RFC 7636) and receives refresh
  tokens, which rotate on every use.

Secrets are HMAC-derived from the seed: the same every run, so stored notebook
outputs match, and useless outside the lab.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

__all__ = [
    "ALL_SCOPES",
    "GRAPHQL_SCOPE",
    "LAB_USER",
    "OAuthClient",
    "lab_clients",
]

#: Scope that lets a bearer token read the shop part of ``/graphql``.
GRAPHQL_SCOPE = "graphql"
#: Every scope the lab knows, in the order lessons list them.
ALL_SCOPES: tuple[str, ...] = ("orders:read", "customers:read", "products:read", GRAPHQL_SCOPE)
#: The resource owner the non-interactive ``/oauth/authorize`` approves for.
LAB_USER = "usuario-lab"
#: Where the public client may be sent back. A loopback URI: any port matches (RFC 8252 §7.3).
NOTEBOOK_REDIRECT_URI = "http://127.0.0.1/callback"


@dataclass(frozen=True)
class OAuthClient:
    """One registered client: what it may ask for and how it authenticates.

    ``client_secret`` is ``None`` for a public client, which authenticates by
    ``client_id`` alone and therefore must use PKCE.
    """

    client_id: str
    client_secret: str | None
    scopes: tuple[str, ...]
    grant_types: tuple[str, ...]
    redirect_uris: tuple[str, ...] = ()

    @property
    def is_public(self) -> bool:
        """True for a client without a secret (RFC 6749 §2.1)."""
        return self.client_secret is None

    def __repr__(self) -> str:
        # Never show the secret, even in a traceback printed in a notebook.
        shown = "None" if self.client_secret is None else "'***'"
        return (
            f"OAuthClient(client_id={self.client_id!r}, client_secret={shown}, "
            f"scopes={self.scopes!r}, grant_types={self.grant_types!r})"
        )


def _secret(seed: int, client_id: str) -> str:
    digest = hmac.new(f"conectores-oauth-{seed}".encode(), client_id.encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def lab_clients(seed: int) -> tuple[OAuthClient, ...]:
    """The lab's clients for ``seed``: same seed, same credentials."""
    return (
        OAuthClient(
            client_id="lab-etl",
            client_secret=_secret(seed, "lab-etl"),
            scopes=ALL_SCOPES,
            grant_types=("client_credentials",),
        ),
        OAuthClient(
            client_id="lab-reportes",
            client_secret=_secret(seed, "lab-reportes"),
            scopes=("products:read",),
            grant_types=("client_credentials",),
        ),
        OAuthClient(
            client_id="lab-notebook",
            client_secret=None,
            scopes=ALL_SCOPES,
            grant_types=("authorization_code", "refresh_token"),
            redirect_uris=(NOTEBOOK_REDIRECT_URI,),
        ),
    )
