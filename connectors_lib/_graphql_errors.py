"""The GraphQL branch of the error tree, and how a response's ``errors`` pick a class.

Private module: import the public names from :mod:`connectors_lib.graphql` (whose
docstring has the table of outcomes) or the package. They live here, apart from
the connector, so the classification can be read and tested as pure functions:

* :class:`GraphQLErrorInfo` reads one entry of ``errors`` defensively;
* :func:`build_error` turns a response's entries into the most specific
  :class:`GraphQLQueryError` with a Spanish message that says what to do;
* :func:`local_error` does the same for a query found wrong before sending;
* :func:`classify_failure` is the retry loop's view of any failure.

Nothing here performs I/O or loads ``gql``, httpx or graphql-core.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from connectors_lib.errors import AuthError, ConnectorError, RateLimitError
from connectors_lib.retry import Failure, RetryPolicy, classify_exception

if TYPE_CHECKING:  # annotations only: building an error needs neither library loaded
    import graphql
    import httpx

__all__ = [
    "RETRYABLE_CODES",
    "GraphQLAuthError",
    "GraphQLErrorInfo",
    "GraphQLPartialDataError",
    "GraphQLQueryError",
    "GraphQLRateLimitError",
    "build_error",
    "classify_failure",
    "local_error",
]

#: Codes that announce a transient condition: asking again later can succeed.
#: ``THROTTLED`` is Shopify's name for ``RATE_LIMITED``. ``INTERNAL_SERVER_ERROR`` is
#: left out on purpose: a resolver that fails on a broken record fails the same way again.
RETRYABLE_CODES: frozenset[str] = frozenset({"RATE_LIMITED", "THROTTLED", "SERVICE_UNAVAILABLE"})
#: Codes that mean "fix the credentials".
_AUTH_CODES: Final = frozenset({"UNAUTHENTICATED", "FORBIDDEN"})
#: Codes that mean "slow down".
_RATE_CODES: Final = frozenset({"RATE_LIMITED", "THROTTLED"})

#: What to do next, per ``extensions.code`` (Spanish, appended to the server's message).
_ADVICE: Final[dict[str, str]] = {
    "GRAPHQL_PARSE_FAILED": "corrige la sintaxis de la consulta",
    "GRAPHQL_VALIDATION_FAILED": (
        "la consulta no encaja con el esquema: revisa campos, argumentos y tipos de "
        "variables (validate_locally=True lo detecta antes de enviar)"
    ),
    "BAD_USER_INPUT": "revisa los valores de las variables",
    "DEPTH_LIMIT_EXCEEDED": "anida menos niveles en la consulta",
    "COST_LIMIT_EXCEEDED": "pide menos nodos: baja 'first' y pagina",
    "INTROSPECTION_DISABLED": "el servidor no permite introspección: usa validate_locally=False",
    "UNAUTHENTICATED": "faltan credenciales o son inválidas: revisa la clave o el token (¿caducó?)",
    "FORBIDDEN": "las credenciales no dan permiso: pide el scope necesario (p. ej. 'graphql')",
    "RATE_LIMITED": "espera lo que indique Retry-After o pide menos nodos por consulta",
    "THROTTLED": "espera lo que indique Retry-After o pide menos nodos por consulta",
    "SERVICE_UNAVAILABLE": "fallo pasajero del servidor: suele resolverse reintentando con backoff",
}


class GraphQLErrorInfo(NamedTuple):
    """One entry of a response's ``errors`` list, read defensively."""

    message: str
    code: str | None  #: ``extensions.code`` (None when the server sends none)
    path: tuple[str | int, ...] = ()  #: where in ``data`` (empty: not about one field)

    @classmethod
    def from_json(cls, raw: Any) -> GraphQLErrorInfo:
        """Read one error object; anything malformed still gives a readable entry."""
        if not isinstance(raw, Mapping):
            return cls(str(raw), None)
        extensions = raw.get("extensions")
        code = extensions.get("code") if isinstance(extensions, Mapping) else None
        path = raw.get("path")
        steps = tuple(p for p in path if isinstance(p, str | int)) if isinstance(path, list) else ()
        return cls(str(raw.get("message", raw)), str(code) if code is not None else None, steps)

    @property
    def where(self) -> str:
        """The path as ``orders.edges[41].node.status`` ("" when there is none)."""
        text = ""
        for step in self.path:
            text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
        return text


class GraphQLQueryError(ConnectorError):
    """The operation failed with GraphQL ``errors`` (from the server, or found before sending).

    ``errors`` are the parsed entries, ``codes`` their distinct ``extensions.code``,
    ``data`` the partial data (``None`` when nothing came back), ``status`` the
    HTTP status as received (200 for servers that answer every error in a 200;
    0 when the error was found locally, before sending),
    ``retry_after_raw`` the ``Retry-After`` header and ``retryable`` the
    connector's verdict. ``status`` and ``retry_after_raw`` have the same meaning
    as on :class:`~connectors_lib.errors.HTTPStatusError`, so the auth and
    rate-limit variants below are also :class:`AuthError` / :class:`RateLimitError`.
    """

    def __init__(
        self,
        message: str,
        *,
        errors: Sequence[GraphQLErrorInfo] = (),
        data: dict[str, Any] | None = None,
        status: int = 0,
        retry_after_raw: str | None = None,
        retryable: bool = False,
        **context: Any,
    ) -> None:
        # Not super(): in the auth / rate-limit variants the next class in the MRO is
        # HTTPStatusError, whose __init__ wants a status this error may not have.
        ConnectorError.__init__(self, message, **context)
        self.errors = tuple(errors)
        self.data = data
        self.status = status
        self.retry_after_raw = retry_after_raw
        self.retryable = retryable

    @property
    def codes(self) -> tuple[str, ...]:
        """Distinct ``extensions.code`` values, in order of appearance."""
        return tuple(dict.fromkeys(e.code for e in self.errors if e.code))


class GraphQLPartialDataError(GraphQLQueryError):
    """``data`` came back with field errors: some fields are ``null``. ``data`` has the rest."""


class GraphQLAuthError(GraphQLQueryError, AuthError):
    """``UNAUTHENTICATED`` or ``FORBIDDEN``: fix the credentials; repeating will not help."""


class GraphQLRateLimitError(GraphQLQueryError, RateLimitError):
    """``RATE_LIMITED`` / ``THROTTLED``: the points budget is spent; wait for ``Retry-After``."""


def _summary(errors: Sequence[GraphQLErrorInfo]) -> str:
    """The first error as ``CODE en path: message``, and how many more there are."""
    first = errors[0]
    where = f" en {first.where}" if first.path else ""
    more = f" (y {len(errors) - 1} error(es) más)" if len(errors) > 1 else ""
    return f"{first.code or 'sin código'}{where}: {first.message}{more}"


def build_error(
    errors: Sequence[GraphQLErrorInfo],
    data: dict[str, Any] | None,
    *,
    retryable: bool,
    status: int = 0,
    retry_after_raw: str | None = None,
    response: httpx.Response | None = None,
    page: int | None = None,
    lead: str = "",
) -> GraphQLQueryError:
    """The most specific error for ``errors``, with a Spanish message that says what to do.

    Any ``data`` makes it a :class:`GraphQLPartialDataError`; otherwise the codes
    pick :class:`GraphQLAuthError`, then :class:`GraphQLRateLimitError`, then the
    base class. ``retryable`` is the caller's verdict, only recorded and explained
    here. ``lead`` is a sentence put before the message (the context the caller knows).
    """
    if not errors:  # "errors": [] is malformed, but must not crash the mapping
        errors = (GraphQLErrorInfo("lista 'errors' vacía", None),)
    codes = {e.code for e in errors}
    advice = next((_ADVICE[e.code] for e in errors if e.code in _ADVICE), None)
    if retryable:
        tail = "es reintentable: la política decide cuántas veces y cuánto esperar"
    elif codes & RETRYABLE_CODES:
        tail = "no se reintenta: su código no está en retry_on_codes"
    else:
        tail = "reintentar igual no lo arreglará"
    cls: type[GraphQLQueryError]
    if data is not None:
        cls = GraphQLPartialDataError
        text = (
            f"Respuesta GraphQL con datos parciales: {len(errors)} error(es) en campos "
            f"({_summary(errors)}). Esos campos vienen a null. Quédate con el resto con "
            "on_partial='keep' (result.errors dice qué falta) o corrige la consulta o los datos"
        )
    else:
        cls = (
            GraphQLAuthError if codes & _AUTH_CODES
            else GraphQLRateLimitError if codes & _RATE_CODES
            else GraphQLQueryError
        )  # fmt: skip
        text = f"El servidor GraphQL devolvió errores ({_summary(errors)})"
        if advice:
            text += f". Qué hacer: {advice}"
    return cls(
        f"{lead}{text}; {tail}.",
        errors=errors,
        data=data,
        status=status,
        retry_after_raw=retry_after_raw,
        retryable=retryable,
        request=response.request if response is not None else None,
        response=response,
        page=page,
    )


def local_error(error: graphql.GraphQLError, code: str, *, page: int | None) -> GraphQLQueryError:
    """A query found wrong before sending (syntax, or the fetched schema): never retried.

    ``code`` must be a key of the advice table (``GRAPHQL_PARSE_FAILED`` or
    ``GRAPHQL_VALIDATION_FAILED``); the error has ``status`` 0: no HTTP answer.
    """
    where = ""
    if error.locations:
        where = f" (línea {error.locations[0].line}, columna {error.locations[0].column})"
    info = GraphQLErrorInfo(error.message + where, code)
    return GraphQLQueryError(
        f"La consulta GraphQL no es válida ({_summary([info])}); detectado localmente, no se "
        f"envió nada. Qué hacer: {_ADVICE[code]}.",
        errors=[info],
        page=page,
    )


def classify_failure(exc: BaseException, policy: RetryPolicy) -> Failure:
    """The retry loop's view of a failure: GraphQL errors by code, the rest as for HTTP.

    A :class:`GraphQLQueryError` carries the connector's ``retryable`` verdict
    (taken when it was built, from its codes and HTTP status); anything else is
    left to :func:`~connectors_lib.retry.classify_exception`.
    """
    if isinstance(exc, GraphQLQueryError):
        return Failure(
            cause=f"GraphQL {','.join(exc.codes) or 'sin código'}",
            retryable=exc.retryable,
            status=exc.status or None,  # 0: found locally, no HTTP answer
            exception=type(exc).__name__,
            retry_after_raw=exc.retry_after_raw,
        )
    return classify_exception(exc, policy)
