"""Everything one running lab shares between its servers: data, clock, faults, journal.

The HTTP app, the OAuth2 server, the GraphQL schema, the fault proxy and the
SFTP server all read one :class:`LabState`; the lab object hands parts of it
to the learner (``lab.clock``, ``lab.faults``, ``lab.journal``, ``lab.data``).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from connectors_lib.clock import Clock

from .data import ShopData
from .faults import FaultController
from .journal import Journal
from .limits import RateLimiter

__all__ = ["BearerCheck", "LabSettings", "LabState"]

#: Given a bearer token, the scopes it grants (and who holds it), or ``None`` if
#: it is unknown, expired or revoked. Installed by the OAuth2 server.
BearerCheck = Callable[[str], "dict[str, Any] | None"]


@dataclass(frozen=True)
class LabSettings:
    """The knobs of one lab; every default is the one lessons assume."""

    seed: int = 42
    #: Requests allowed per API key (or bearer client) in each rate window.
    rate_limit: int = 10
    #: Length of the rate window, in lab-clock seconds.
    rate_window: float = 10.0
    #: ``"seconds"`` (delay-seconds) or ``"http-date"`` for the Retry-After header.
    retry_after_format: str = "seconds"
    #: Lifetime of OAuth2 access tokens, in lab-clock seconds.
    token_lifetime: float = 300.0
    #: Whether GraphQL introspection is allowed.
    graphql_introspection: bool = True
    #: Orders in the seeded dataset (>= 1,024; benchmarks use more).
    n_orders: int = 1200


@dataclass
class LabState:
    """Shared, mutable state of one lab. Created by :func:`mock_servers.start`."""

    settings: LabSettings
    clock: Clock
    data: ShopData
    #: API key → learner name. Each key has its own rate bucket and scenarios.
    api_keys: dict[str, str]
    #: Set by the OAuth2 server so REST resources accept its bearer tokens.
    bearer_check: BearerCheck | None = None
    #: Extra objects other servers hang on the state (the OAuth2 and GraphQL servers).
    extras: dict[str, Any] = field(default_factory=dict)
    #: What else :meth:`reset` resets (servers register their own reset here).
    on_reset: list[Callable[[], None]] = field(default_factory=list)
    #: Secret for the ``/__admin/`` API (header ``X-Admin-Token``); learners' keys
    #: cannot reset the lab. Random unless given.
    admin_token: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    #: Injected faults (header, counted scenarios, seeded random); seeded from settings.
    faults: FaultController = field(default_factory=FaultController)
    #: Every request the HTTP app answered.
    journal: Journal = field(default_factory=Journal)
    #: Per-key request windows, on ``clock``, sized by ``settings``.
    limiter: RateLimiter = field(init=False)

    def __post_init__(self) -> None:
        if self.faults.seed is None:
            self.faults.seed = self.settings.seed
        self.limiter = RateLimiter(self.clock, self.settings.rate_limit, self.settings.rate_window)

    def reset(self) -> None:
        """Back to the seeded state: no faults, empty journal, fresh rate windows, seeded data.

        The clock is left alone: it belongs to the learner's client too, and so
        are OAuth2 tokens (resetting them would log a whole classroom out).
        """
        self.faults.reset()
        self.journal.clear()
        self.limiter.reset()
        self.data.reset()
        for reset_part in self.on_reset:
            reset_part()
