"""connectors_lib: small, typed building blocks for robust data connectors.

Retries with backoff and jitter that honour ``Retry-After`` and record why they
waited; rate limiting; a circuit breaker; paginators that know why they
stopped; atomic JSON checkpoints; OAuth2 that refreshes ahead of expiry;
validation with quarantine; GraphQL and SFTP connectors. All time goes through
an injectable :class:`Clock`, so tests and lessons never really sleep.

Public names are re-exported here lazily (PEP 562): ``import connectors_lib``
stays fast, and heavy dependencies (httpx, gql, paramiko, pandas, pandera) load
only with the module that needs them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what static checkers and IDEs see; the runtime imports lazily
    from .auth import (
        ApiKeyAuth,
        BearerAuth,
        OAuth2ClientCredentials,
        OAuth2RefreshToken,
    )
    from .circuit import (
        CircuitBreaker,
        CircuitState,
        Transition,
    )
    from .clock import (
        DEFAULT_EPOCH,
        Clock,
        SystemClock,
        VirtualClock,
    )
    from .errors import (
        AuthError,
        CheckpointError,
        CircuitOpenError,
        ConnectError,
        ConnectorError,
        DeadlineExceededError,
        HTTPStatusError,
        PaginationError,
        RateLimitError,
        RequestTimeout,
        ResponseDecodeError,
        RetryAfterTooLongError,
        RetryError,
        RetryExhaustedError,
        SFTPError,
        TransportError,
        ValidationError,
        redact_url,
        shown_url,
    )
    from .graphql import (
        GRAPHQL_ACCEPT,
        RETRYABLE_CODES,
        GraphQLAuthError,
        GraphQLConnector,
        GraphQLErrorInfo,
        GraphQLPartialDataError,
        GraphQLQueryError,
        GraphQLRateLimit,
        GraphQLRateLimitError,
        GraphQLResult,
        OnPartial,
        RelayPaginator,
        read_graphql_rate_limit,
    )
    from .pagination import (
        CursorPaginator,
        KeysetPaginator,
        Link,
        LinkHeaderPaginator,
        OffsetPaginator,
        Page,
        PageNumberPaginator,
        PageOutcome,
        PageRequest,
        PageWalker,
        Paginator,
        RandomAccessPaginator,
        SinglePage,
        StopRule,
        json_path,
        parse_link_header,
    )
    from .ratelimit import (
        AdaptivePacer,
        PaceDecision,
        RateLimitInfo,
        TokenBucket,
        pace_delay,
        read_rate_limit,
        reset_to_delay,
    )
    from .rest import (
        DEFAULT_PAGINATOR,
        DEFAULT_TIMEOUTS,
        SYSTEM_CLOCK,
        RestConnector,
        Timeouts,
        map_transport_error,
    )
    from .retry import (
        DEFAULT_HTTP_POLICY,
        IDEMPOTENT_METHODS,
        RETRYABLE_STATUSES,
        Classifier,
        Failure,
        Jitter,
        LongRetryAfter,
        RetryDecision,
        RetryPolicy,
        RetryResult,
        Verdict,
        arun_with_retry,
        classify_exception,
        format_trace,
        parse_retry_after,
        run_with_retry,
    )
    from .sftp import (
        DEFAULT_SFTP_RETRY,
        DEFAULT_STABILITY,
        DEFAULT_TUNING,
        DownloadResult,
        RemoteFile,
        SFTPAuthError,
        SFTPConnectionError,
        SFTPConnector,
        SFTPFileChangedError,
        SFTPHostKeyError,
        SFTPIntegrityError,
        SFTPNotFoundError,
        SFTPPermissionError,
        StabilityCheck,
        TransferTuning,
        Watermark,
        fingerprint_sha256,
    )
    from .state import (
        CHECKPOINT_FORMAT,
        CHECKPOINT_VERSION,
        CheckpointStore,
    )
    from .tokens import (
        ClientAuthMethod,
        PKCEPair,
        Secret,
        Token,
        TokenEvent,
        TokenManager,
        TokenReply,
        TokenRequest,
        effective_skew,
        make_pkce_pair,
        needs_refresh,
        read_env,
    )
    from .tracing import (
        LatencySummary,
        RequestRecord,
        RequestTrace,
        latency_summary,
        percentile,
    )
    from .validation import (
        CerberusValidator,
        Counts,
        DriftReport,
        FieldDrift,
        InvalidRecord,
        InvalidRecordError,
        PydanticValidator,
        QuarantineWriter,
        RecordValidator,
        SchemaDriftError,
        SchemaDriftWarning,
        TypeChange,
        ValidationReport,
        as_validator,
        detect_drift,
        read_quarantine,
        validate_dataframe,
        validate_records,
    )

#: module → public names it exports (kept complete by tests/test_lib_public_api.py).
_EXPORTS: dict[str, tuple[str, ...]] = {
    "clock": (
        "DEFAULT_EPOCH",
        "Clock",
        "SystemClock",
        "VirtualClock",
    ),
    "errors": (
        "AuthError",
        "CheckpointError",
        "CircuitOpenError",
        "ConnectError",
        "ConnectorError",
        "DeadlineExceededError",
        "HTTPStatusError",
        "PaginationError",
        "RateLimitError",
        "RequestTimeout",
        "ResponseDecodeError",
        "RetryAfterTooLongError",
        "RetryError",
        "RetryExhaustedError",
        "SFTPError",
        "TransportError",
        "ValidationError",
        "redact_url",
        "shown_url",
    ),
    "retry": (
        "DEFAULT_HTTP_POLICY",
        "IDEMPOTENT_METHODS",
        "RETRYABLE_STATUSES",
        "Classifier",
        "Failure",
        "Jitter",
        "LongRetryAfter",
        "RetryDecision",
        "RetryPolicy",
        "RetryResult",
        "Verdict",
        "arun_with_retry",
        "classify_exception",
        "format_trace",
        "parse_retry_after",
        "run_with_retry",
    ),
    "ratelimit": (
        "AdaptivePacer",
        "PaceDecision",
        "RateLimitInfo",
        "TokenBucket",
        "pace_delay",
        "read_rate_limit",
        "reset_to_delay",
    ),
    "circuit": (
        "CircuitBreaker",
        "CircuitState",
        "Transition",
    ),
    "pagination": (
        "CursorPaginator",
        "KeysetPaginator",
        "Link",
        "LinkHeaderPaginator",
        "OffsetPaginator",
        "Page",
        "PageNumberPaginator",
        "PageOutcome",
        "PageRequest",
        "PageWalker",
        "Paginator",
        "RandomAccessPaginator",
        "SinglePage",
        "StopRule",
        "json_path",
        "parse_link_header",
    ),
    "state": (
        "CHECKPOINT_FORMAT",
        "CHECKPOINT_VERSION",
        "CheckpointStore",
    ),
    "tracing": (
        "LatencySummary",
        "RequestRecord",
        "RequestTrace",
        "latency_summary",
        "percentile",
    ),
    "rest": (
        "DEFAULT_PAGINATOR",
        "DEFAULT_TIMEOUTS",
        "SYSTEM_CLOCK",
        "RestConnector",
        "Timeouts",
        "map_transport_error",
    ),
    "auth": (
        "ApiKeyAuth",
        "BearerAuth",
        "OAuth2ClientCredentials",
        "OAuth2RefreshToken",
    ),
    "tokens": (
        "ClientAuthMethod",
        "PKCEPair",
        "Secret",
        "Token",
        "TokenEvent",
        "TokenManager",
        "TokenReply",
        "TokenRequest",
        "effective_skew",
        "make_pkce_pair",
        "needs_refresh",
        "read_env",
    ),
    "validation": (
        "CerberusValidator",
        "Counts",
        "DriftReport",
        "FieldDrift",
        "InvalidRecord",
        "InvalidRecordError",
        "PydanticValidator",
        "QuarantineWriter",
        "RecordValidator",
        "SchemaDriftError",
        "SchemaDriftWarning",
        "TypeChange",
        "ValidationReport",
        "as_validator",
        "detect_drift",
        "read_quarantine",
        "validate_dataframe",
        "validate_records",
    ),
    "graphql": (
        "GRAPHQL_ACCEPT",
        "RETRYABLE_CODES",
        "GraphQLAuthError",
        "GraphQLConnector",
        "GraphQLErrorInfo",
        "GraphQLPartialDataError",
        "GraphQLQueryError",
        "GraphQLRateLimit",
        "GraphQLRateLimitError",
        "GraphQLResult",
        "OnPartial",
        "RelayPaginator",
        "read_graphql_rate_limit",
    ),
    "sftp": (
        "DEFAULT_SFTP_RETRY",
        "DEFAULT_STABILITY",
        "DEFAULT_TUNING",
        "DownloadResult",
        "RemoteFile",
        "SFTPAuthError",
        "SFTPConnectionError",
        "SFTPConnector",
        "SFTPFileChangedError",
        "SFTPHostKeyError",
        "SFTPIntegrityError",
        "SFTPNotFoundError",
        "SFTPPermissionError",
        "StabilityCheck",
        "TransferTuning",
        "Watermark",
        "fingerprint_sha256",
    ),
}

_HOME = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'connectors_lib' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
