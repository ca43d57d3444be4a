"""Token bookkeeping of the lab's authorization server: issue, check, rotate, expire, revoke.

Pure state behind a lock; no HTTP here (see :mod:`.http`). Every time comes
from the injected clock, so a lesson that sleeps 300 s on a
:class:`~connectors_lib.clock.VirtualClock` sees its token expire at once.

Token values are HMAC-SHA256 of the seed and a counter: the same sequence of
requests yields the same tokens every run (stored outputs stay stable), and no
lesson needs to print one. They are opaque: nothing can be read from them.

Refresh tokens belong to a *family* (one authorization grant). Each use
rotates: the old refresh token is spent and a new one is returned. Presenting
a spent one again means it leaked, so the whole family (every access and
refresh token of that grant) is revoked, as OAuth 2.0 Security BCP (RFC 9700
§4.14.2) recommends.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

from connectors_lib.clock import Clock

__all__ = ["AuthCode", "GrantError", "Token", "TokenStore", "pkce_s256", "verifier_is_valid"]

TokenKind = Literal["access", "refresh"]

#: Authorization codes are short-lived (RFC 6749 §4.1.2 recommends 10 minutes at most).
CODE_LIFETIME = 60.0
#: Refresh tokens outlive access tokens by far; a day of lab time is plenty.
REFRESH_LIFETIME = 24 * 3600.0

#: RFC 7636 §4.1: code-verifier = 43*128unreserved.
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")


def pkce_s256(verifier: str) -> str:
    """``BASE64URL(SHA256(ASCII(verifier)))`` without padding (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def verifier_is_valid(verifier: str) -> bool:
    """True if ``verifier`` has the length and alphabet RFC 7636 §4.1 requires."""
    return _VERIFIER.fullmatch(verifier) is not None


class GrantError(Exception):
    """A grant the store refuses; ``error`` is the RFC 6749 §5.2 code."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass
class Token:
    """An access or refresh token and what it grants."""

    value: str
    kind: TokenKind
    client_id: str
    scope: tuple[str, ...]
    subject: str
    issued_at: float
    expires_at: float
    family: str | None = None
    revoked: bool = False
    #: Refresh tokens only: spent by a rotation (a second use is a replay).
    used: bool = False

    def active(self, now: float) -> bool:
        return not self.revoked and not self.used and now < self.expires_at

    def info(self) -> dict[str, Any]:
        """RFC 7662 view of an active token (``active`` included)."""
        return {
            "active": True,
            "client_id": self.client_id,
            "scope": " ".join(self.scope),
            "sub": self.subject,
            "token_type": "Bearer" if self.kind == "access" else "refresh_token",
            "exp": int(self.expires_at),
            "iat": int(self.issued_at),
        }


@dataclass
class AuthCode:
    """An authorization code waiting to be exchanged (single use)."""

    value: str
    client_id: str
    redirect_uri: str | None
    scope: tuple[str, ...]
    subject: str
    code_challenge: str
    expires_at: float
    used: bool = False
    #: Family of the tokens issued for it, to revoke them if the code is replayed.
    family: str | None = None


@dataclass
class TokenStore:
    """Every token and code of one lab, guarded by one lock."""

    seed: int
    clock: Clock
    access_lifetime: float
    refresh_lifetime: float = REFRESH_LIFETIME
    _tokens: dict[str, Token] = field(default_factory=dict, init=False, repr=False)
    _codes: dict[str, AuthCode] = field(default_factory=dict, init=False, repr=False)
    _counter: int = field(default=0, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    # -- minting -------------------------------------------------------------
    def _mint(self, prefix: str) -> str:
        # Called with the lock held. The counter never resets, so a value is
        # never handed out twice in one lab, even after reset().
        self._counter += 1
        key = f"conectores-oauth-tokens-{self.seed}".encode()
        mac = hmac.new(key, f"{prefix}:{self._counter}".encode(), hashlib.sha256).digest()
        return prefix + base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")

    def _new_token(
        self, kind: TokenKind, client_id: str, scope: tuple[str, ...], subject: str,
        family: str | None,
    ) -> Token:
        now = self.clock.now()
        lifetime = self.access_lifetime if kind == "access" else self.refresh_lifetime
        token = Token(
            value=self._mint("at_" if kind == "access" else "rt_"),
            kind=kind, client_id=client_id, scope=scope, subject=subject,
            issued_at=now, expires_at=now + lifetime, family=family,
        )
        self._tokens[token.value] = token
        return token

    def issue(
        self, client_id: str, scope: tuple[str, ...], *, subject: str | None = None,
        with_refresh: bool = False, family: str | None = None,
    ) -> tuple[Token, Token | None]:
        """A new access token (and a refresh token in ``family`` if asked)."""
        with self._lock:
            if with_refresh and family is None:
                family = self._mint("fam_")
            access = self._new_token("access", client_id, scope, subject or client_id, family)
            refresh = (
                self._new_token("refresh", client_id, scope, subject or client_id, family)
                if with_refresh else None
            )
            return access, refresh

    # -- authorization codes -------------------------------------------------
    def new_code(
        self, client_id: str, redirect_uri: str | None, scope: tuple[str, ...], subject: str,
        code_challenge: str,
    ) -> str:
        """Store a single-use code bound to the client, redirect URI and PKCE challenge."""
        with self._lock:
            code = AuthCode(
                value=self._mint("ac_"), client_id=client_id, redirect_uri=redirect_uri,
                scope=scope, subject=subject, code_challenge=code_challenge,
                expires_at=self.clock.now() + CODE_LIFETIME,
            )
            self._codes[code.value] = code
            return code.value

    def redeem_code(
        self, value: str, client_id: str, redirect_uri: str | None, verifier: str
    ) -> tuple[Token, Token | None]:
        """Exchange a code for tokens (RFC 6749 §4.1.3 checks, RFC 7636 §4.6 PKCE)."""
        with self._lock:
            code = self._codes.get(value)
            if code is None or code.client_id != client_id:
                raise GrantError("invalid_grant", "codigo de autorizacion desconocido")
            if code.used:
                # RFC 6749 §4.1.2: a replayed code SHOULD revoke what it produced.
                self._revoke_family(code.family)
                raise GrantError("invalid_grant", "el codigo ya se uso; se revocaron sus tokens")
            if self.clock.now() >= code.expires_at:
                raise GrantError("invalid_grant", "el codigo de autorizacion expiro")
            if code.redirect_uri is not None and code.redirect_uri != redirect_uri:
                raise GrantError("invalid_grant", "redirect_uri no coincide con la de /authorize")
            if not hmac.compare_digest(pkce_s256(verifier), code.code_challenge):
                raise GrantError("invalid_grant", "code_verifier no corresponde al code_challenge")
            code.used = True
            code.family = self._mint("fam_")
        return self.issue(
            client_id, code.scope, subject=code.subject, with_refresh=True, family=code.family
        )

    # -- refresh with rotation -------------------------------------------------
    def rotate(
        self, value: str, client_id: str, scope: tuple[str, ...] | None
    ) -> tuple[Token, Token | None]:
        """Spend a refresh token and return a new access + refresh pair (same family)."""
        with self._lock:
            old = self._tokens.get(value)
            if old is None or old.kind != "refresh" or old.client_id != client_id:
                raise GrantError("invalid_grant", "refresh_token desconocido para este cliente")
            if old.used:
                self._revoke_family(old.family)
                raise GrantError(
                    "invalid_grant",
                    "refresh_token ya usado (posible robo): se revoco toda la familia",
                )
            if old.revoked:
                raise GrantError("invalid_grant", "refresh_token revocado")
            if self.clock.now() >= old.expires_at:
                raise GrantError("invalid_grant", "refresh_token expirado")
            if scope is not None and not set(scope) <= set(old.scope):
                raise GrantError("invalid_scope", "no se puede ampliar el scope al renovar")
            old.used = True
        return self.issue(
            client_id, scope or old.scope, subject=old.subject, with_refresh=True,
            family=old.family,
        )

    # -- queries and on-demand changes -----------------------------------------
    def lookup(self, value: str, kind: TokenKind | None = None) -> Token | None:
        """The token if it is known and still active now, else ``None``."""
        with self._lock:
            token = self._tokens.get(value)
            if token is None or (kind is not None and token.kind != kind):
                return None
            return token if token.active(self.clock.now()) else None

    def get(self, value: str) -> Token | None:
        """The token record whatever its state (for revocation by its owner)."""
        with self._lock:
            return self._tokens.get(value)

    def _select(self, value: str | None, client_id: str | None) -> list[Token]:
        return [
            t for t in self._tokens.values()
            if (value is None or t.value == value)
            and (client_id is None or t.client_id == client_id)
        ]

    def expire(self, value: str | None = None, *, client_id: str | None = None) -> int:
        """Make matching active access tokens expire now; returns how many."""
        with self._lock:
            now = self.clock.now()
            hits = [
                t for t in self._select(value, client_id) if t.kind == "access" and t.active(now)
            ]
            for token in hits:
                token.expires_at = now
            return len(hits)

    def revoke(self, value: str | None = None, *, client_id: str | None = None) -> int:
        """Revoke matching tokens; a refresh token takes its family with it (RFC 7009 §2.1)."""
        with self._lock:
            hits = [t for t in self._select(value, client_id) if not t.revoked]
            for token in hits:
                token.revoked = True
                if token.kind == "refresh":
                    self._revoke_family(token.family)
            return len(hits)

    def _revoke_family(self, family: str | None) -> None:
        if family is None:
            return
        for token in self._tokens.values():
            if token.family == family:
                token.revoked = True

    def reset(self) -> None:
        """Forget every token and code (the counter keeps going: no value repeats)."""
        with self._lock:
            self._tokens.clear()
            self._codes.clear()

    def count_active(self) -> int:
        """How many access tokens are active now."""
        with self._lock:
            now = self.clock.now()
            return sum(1 for t in self._tokens.values() if t.kind == "access" and t.active(now))
