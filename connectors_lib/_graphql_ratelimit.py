"""A GraphQL server's points budget, read from its headers and its ``rateLimit`` field.

Private module: import :class:`GraphQLRateLimit` and :func:`read_graphql_rate_limit`
from :mod:`connectors_lib.graphql` or the package. GraphQL APIs announce their
budget in two places: HTTP headers (``X-RateLimit-*``, ``Retry-After``, the IETF
``RateLimit`` family, all read by :func:`~connectors_lib.ratelimit.read_rate_limit`)
and, when the query selects it, a field in ``data`` shaped like GitHub's
``rateLimit { limit cost remaining used resetAt nodeCount }``. Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

from connectors_lib.pagination import json_path
from connectors_lib.ratelimit import read_rate_limit

__all__ = ["GraphQLRateLimit", "read_graphql_rate_limit"]


class GraphQLRateLimit(NamedTuple):
    """The server's budget after the last response; ``None`` means "not announced"."""

    limit: int | None
    remaining: int | None
    used: int | None
    reset_at: float | None  #: epoch seconds when the window renews
    cost: int | None  #: points the query cost (only from the ``rateLimit`` field)
    node_count: int | None  #: nodes the query could return (``rateLimit.nodeCount``)
    retry_after: float | None  #: parsed ``Retry-After`` seconds
    source: str  #: "headers", "field" or "headers+field"


def _int(value: Any) -> int | None:
    """An integer from JSON or a decimal header string; anything else (bools too) is absent."""
    if isinstance(value, bool):  # JSON true is not a count, though bool subclasses int
        return None
    if isinstance(value, int):
        return value
    # isdecimal, not isdigit: "²" is a digit that int() refuses.
    if isinstance(value, str) and value.strip().isdecimal():
        return int(value)
    return None


def _iso_to_epoch(value: Any) -> float | None:
    """Epoch seconds of an ISO 8601 instant; ``None`` if it is malformed or has no zone.

    A naive time is refused rather than guessed: read as local time it would
    shift the reset by the machine's UTC offset.
    """
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.timestamp() if when.tzinfo is not None else None


def read_graphql_rate_limit(
    headers: Mapping[str, str] | None,
    data: Any,
    *,
    now: float,
    field_path: str | None = "rateLimit",
) -> GraphQLRateLimit | None:
    """Pure: the budget from rate-limit / ``Retry-After`` headers and the ``rateLimit``
    field of ``data`` (at ``field_path``; ``None`` ignores the field), the field winning
    where both speak. ``now`` (epoch seconds) turns relative resets into ``reset_at``.
    ``None`` if neither says anything; unparsable values count as not announced."""
    limit = remaining = used = cost = nodes = None
    reset_at = retry_after = None
    sources = []
    if headers:
        info = read_rate_limit(headers, now)
        if info.source is not None:
            sources.append("headers")
            limit, remaining, retry_after = info.limit, info.remaining, info.retry_after
            reset_at = now + info.reset_after if info.reset_after is not None else None
            lower = {k.lower(): v for k, v in headers.items()}
            used = _int(lower.get("x-ratelimit-used"))
    field: Any = None
    if field_path and isinstance(data, Mapping):
        try:
            field = json_path(data, field_path)
        except LookupError:
            field = None
    if isinstance(field, Mapping):
        sources.append("field")
        limit = _int(field.get("limit")) if "limit" in field else limit
        remaining = _int(field.get("remaining")) if "remaining" in field else remaining
        used = _int(field.get("used")) if "used" in field else used
        field_reset = _iso_to_epoch(field.get("resetAt"))
        reset_at = field_reset if field_reset is not None else reset_at
        cost, nodes = _int(field.get("cost")), _int(field.get("nodeCount"))
    if not sources:
        return None
    return GraphQLRateLimit(
        limit, remaining, used, reset_at, cost, nodes, retry_after, "+".join(sources)
    )
