"""Pagination as pure decisions: one protocol, small strategies, one guard for all.

A paginator never performs I/O. It says which request comes first
(:meth:`Paginator.first_request`) and, given a fetched :class:`Page`, returns a
:class:`PageOutcome`: the records, the next :class:`PageRequest` or the
:data:`StopRule` that ended the run. The connector does the fetching; the
:class:`PageWalker` applies the checks every style needs:

* **cycles** — every request has a ``token`` (offset, page number, cursor, URL,
  last key). A token seen *anywhere* earlier in the run raises
  :class:`~connectors_lib.errors.PaginationError` (not only "same as the last one").
* **ignored positions** — a page identical to the previous one means the server
  ignores the offset/page/cursor parameter (a wrong parameter name, typically):
  raised instead of reading the same page until ``total`` is reached.
* **silent page-size caps** — a page shorter than requested while the server
  says there is more (``total`` not reached, ``has_more``, a ``next`` link), or a
  short page followed by a non-empty one, means the server cut the page size
  without saying so; with offsets or page numbers that loses records. Raised.

Stop rules, so a lesson can say *why* the run ended:
``empty_page``, ``short_page``, ``total_reached``, ``no_next_token``,
``no_next_link``, ``has_more_false``, ``single_page``, ``max_pages``.

``PageRequest.params`` are generic key/values (query parameters for REST,
variables for GraphQL), so a Relay paginator fits the same protocol.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, Protocol, runtime_checkable
from urllib.parse import urljoin

from connectors_lib.errors import PaginationError

__all__ = [
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
]

StopRule = Literal[
    "empty_page",
    "short_page",
    "total_reached",
    "no_next_token",
    "no_next_link",
    "has_more_false",
    "single_page",
    "max_pages",
]


class PageRequest(NamedTuple):
    """Where the next page is: parameters to set, or a full URL to follow."""

    params: Mapping[str, Any]  #: merged over the caller's params (None values removed)
    url: str | None = None  #: absolute URL to follow as is (Link header); None = the path
    token: str = ""  #: identity of this position, for cycle detection
    page_size: int | None = None  #: records asked for, for cap detection
    number: int = 1  #: 1-based page number in this run


class Page(NamedTuple):
    """A fetched page as the paginator sees it: decoded body, headers, URL asked."""

    body: Any
    headers: Mapping[str, str]
    url: str
    request: PageRequest


class PageOutcome(NamedTuple):
    """What a paginator reads from a page."""

    records: list[Any]
    next: PageRequest | None
    stop: StopRule | None
    #: True if the server explicitly announces more records (total, has_more, next link);
    #: None if it cannot be known (a bare cursor); False once the end is announced.
    more: bool | None = None


@runtime_checkable
class Paginator(Protocol):
    """A pagination style: first request, then one pure step per page."""

    def first_request(self) -> PageRequest:
        """The request for page 1."""
        ...

    def parse(self, page: Page) -> PageOutcome:
        """Records of ``page`` and the next request, or the rule that ends the run."""
        ...


@runtime_checkable
class RandomAccessPaginator(Paginator, Protocol):
    """A style whose n-th page can be requested without reading the previous ones."""

    def request_at(self, index: int) -> PageRequest:
        """The request for page ``index`` (0-based)."""
        ...


# --- helpers ---------------------------------------------------------------------------------

_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def json_path(obj: Any, path: str) -> Any:
    """Follow a dotted path with ``[i]`` indexes: ``"data"``, ``"meta.next"``, ``"items[0].id"``.

    ``""`` or ``"$"`` is the whole object; a leading ``"$."`` is accepted.
    Raises :class:`LookupError` naming the first missing segment.
    """
    if path in ("", "$"):
        return obj
    if path.startswith("$."):
        path = path[2:]
    current = obj
    walked = ""
    for match in _SEGMENT.finditer(path):
        key, index = match.group(1), match.group(2)
        if key is not None:
            walked = f"{walked}.{key}" if walked else key
            if not isinstance(current, Mapping) or key not in current:
                raise LookupError(walked)
            current = current[key]
        else:
            walked = f"{walked}[{index}]"
            position = int(index)
            if not isinstance(current, list) or position >= len(current):
                raise LookupError(walked)
            current = current[position]
    return current


def _field(page: Page, path: str, what: str) -> Any:
    try:
        return json_path(page.body, path)
    except LookupError as missing:
        shape = type(page.body).__name__
        raise PaginationError(
            f"La página no tiene el campo {what} {path!r} (falta {missing.args[0]!r}; el cuerpo "
            f"es un {shape}). Revisa la ruta JSON del paginador o elige otro estilo.",
            page=page.request.number,
        ) from None


def _records(page: Page, path: str) -> list[Any]:
    found = _field(page, path, "de registros")
    if not isinstance(found, list):
        raise PaginationError(
            f"El campo de registros {path or '$'!r} no es una lista sino un "
            f"{type(found).__name__}. Indica records_path con la ruta de la lista.",
            page=page.request.number,
        )
    return found


class Link(NamedTuple):
    """One RFC 8288 link: target URL, relation types, other parameters."""

    url: str
    rel: frozenset[str]
    params: Mapping[str, str]


_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def parse_link_header(value: str) -> list[Link]:
    """Parse a ``Link`` header (RFC 8288 §3). Raises :class:`ValueError` if malformed.

    >>> [l.url for l in parse_link_header('<https://a/x?page=2>; rel="next"')]
    ['https://a/x?page=2']
    """
    links: list[Link] = []
    i, n = 0, len(value)

    def skip_ws(j: int) -> int:
        while j < n and value[j] in " \t":
            j += 1
        return j

    while True:
        i = skip_ws(i)
        while i < n and value[i] == ",":  # empty list elements are allowed (RFC 9110 §5.6.1)
            i = skip_ws(i + 1)
        if i >= n:
            return links
        if value[i] != "<":
            raise ValueError(f"se esperaba '<' en la posición {i}")
        end = value.find(">", i)
        if end < 0:
            raise ValueError("falta el '>' que cierra la URL")
        url = value[i + 1 : end].strip()
        i = end + 1
        params: dict[str, str] = {}
        while True:
            i = skip_ws(i)
            if i >= n or value[i] == ",":
                break
            if value[i] != ";":
                raise ValueError(f"se esperaba ';' o ',' en la posición {i}")
            i = skip_ws(i + 1)
            name = _TOKEN.match(value, i)
            if name is None:
                raise ValueError(f"parámetro sin nombre en la posición {i}")
            key = name.group(0).lower()
            i = skip_ws(name.end())
            param_value = ""
            if i < n and value[i] == "=":
                i = skip_ws(i + 1)
                if i < n and value[i] == '"':
                    chars: list[str] = []
                    i += 1
                    while i < n and value[i] != '"':
                        if value[i] == "\\" and i + 1 < n:
                            i += 1
                        chars.append(value[i])
                        i += 1
                    if i >= n:
                        raise ValueError("comillas sin cerrar")
                    i += 1
                    param_value = "".join(chars)
                else:
                    token = _TOKEN.match(value, i)
                    if token is None:
                        raise ValueError(f"valor vacío en la posición {i}")
                    param_value = token.group(0)
                    i = token.end()
            params.setdefault(key, param_value)  # RFC 8288: later rel params are ignored
        rel = frozenset(params.get("rel", "").lower().split())
        links.append(Link(url, rel, params))


def _check_size(name: str, size: int) -> None:
    if size < 1:
        raise ValueError(f"{name} debe ser >= 1")


# --- strategies ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SinglePage:
    """No pagination: one request; records at ``records_path`` (a dict body = one record)."""

    records_path: str = ""

    def first_request(self) -> PageRequest:
        return PageRequest(params={}, token="single")  # noqa: S106 (a page token, not a password)

    def parse(self, page: Page) -> PageOutcome:
        found = _field(page, self.records_path, "de registros")
        records = found if isinstance(found, list) else [found]
        return PageOutcome(records, None, "single_page", False)


@dataclass(frozen=True, slots=True)
class OffsetPaginator:
    """``?offset=k&limit=n``. Ends on ``total_reached`` (if ``total_path``), empty or short page.

    The next offset advances by the records actually received, so a server
    that returns fewer than asked never makes us skip records.
    """

    limit: int = 100
    records_path: str = "data"
    total_path: str | None = None
    offset_param: str = "offset"
    limit_param: str = "limit"
    start: int = 0

    def __post_init__(self) -> None:
        _check_size("limit", self.limit)

    def _request(self, offset: int, number: int) -> PageRequest:
        params = {self.offset_param: offset, self.limit_param: self.limit}
        return PageRequest(params, None, f"offset={offset}", self.limit, number)

    def first_request(self) -> PageRequest:
        return self._request(self.start, 1)

    def request_at(self, index: int) -> PageRequest:
        return self._request(self.start + index * self.limit, index + 1)

    def parse(self, page: Page) -> PageOutcome:
        records = _records(page, self.records_path)
        offset = int(page.request.params[self.offset_param])
        after = offset + len(records)
        if self.total_path is not None:
            total = _field(page, self.total_path, "del total")
            if not isinstance(total, int) or isinstance(total, bool):
                raise PaginationError(
                    f"El total {self.total_path!r} no es un entero ({total!r}). "
                    "Revisa total_path o usa total_path=None.",
                    page=page.request.number,
                )
            if after >= total:
                return PageOutcome(records, None, "total_reached", False)
            if not records:
                return PageOutcome(records, None, "empty_page", False)
            return PageOutcome(records, self._request(after, page.request.number + 1), None, True)
        if not records:
            return PageOutcome(records, None, "empty_page", False)
        if len(records) < self.limit:
            return PageOutcome(records, None, "short_page", None)
        return PageOutcome(records, self._request(after, page.request.number + 1), None, None)


@dataclass(frozen=True, slots=True)
class PageNumberPaginator:
    """``?page=p&per_page=n``. Ends on ``no_next_link`` when the server sends ``Link``
    headers (GitHub style), otherwise on an empty or short page."""

    per_page: int = 100
    records_path: str = ""
    page_param: str = "page"
    size_param: str = "per_page"
    first_page: int = 1
    use_link_header: bool = True

    def __post_init__(self) -> None:
        _check_size("per_page", self.per_page)

    def request_at(self, index: int) -> PageRequest:
        number = self.first_page + index
        params = {self.page_param: number, self.size_param: self.per_page}
        return PageRequest(params, None, f"page={number}", self.per_page, index + 1)

    def first_request(self) -> PageRequest:
        return self.request_at(0)

    def parse(self, page: Page) -> PageOutcome:
        records = _records(page, self.records_path)
        following = self.request_at(page.request.number)
        link_value = _header(page.headers, "link") if self.use_link_header else None
        if link_value is not None:
            links = _parse_links(link_value, page)
            has_next = any("next" in link.rel for link in links)
            if not has_next:
                return PageOutcome(records, None, "no_next_link", False)
            if not records:
                return PageOutcome(records, None, "empty_page", False)
            return PageOutcome(records, following, None, True)
        if not records:
            return PageOutcome(records, None, "empty_page", False)
        if len(records) < self.per_page:
            return PageOutcome(records, None, "short_page", None)
        return PageOutcome(records, following, None, None)


@dataclass(frozen=True, slots=True)
class CursorPaginator:
    """``?cursor=c&limit=n``; the next cursor is read at ``cursor_path`` (null/"" = end)."""

    limit: int = 100
    records_path: str = "data"
    cursor_path: str = "next_cursor"
    cursor_param: str = "cursor"
    limit_param: str = "limit"
    #: Cursor sent with page 1 (``None``: not sent). Some APIs want ``""`` or ``"*"`` there.
    initial_cursor: str | None = None

    def __post_init__(self) -> None:
        _check_size("limit", self.limit)

    def first_request(self) -> PageRequest:
        params: dict[str, Any] = {self.limit_param: self.limit}
        if self.initial_cursor is not None:
            params[self.cursor_param] = self.initial_cursor
        return PageRequest(params, None, "cursor:<inicio>", self.limit, 1)

    def parse(self, page: Page) -> PageOutcome:
        records = _records(page, self.records_path)
        cursor = _field(page, self.cursor_path, "del cursor")
        if cursor is None or cursor == "":
            return PageOutcome(records, None, "no_next_token", False)
        if not isinstance(cursor, str | int):
            raise PaginationError(
                f"El cursor {self.cursor_path!r} no es texto ni número: {type(cursor).__name__}.",
                page=page.request.number,
            )
        if not records:
            return PageOutcome(records, None, "empty_page", None)
        params = {self.cursor_param: str(cursor), self.limit_param: self.limit}
        nxt = PageRequest(params, None, f"cursor:{cursor}", self.limit, page.request.number + 1)
        return PageOutcome(records, nxt, None, None)


@dataclass(frozen=True, slots=True)
class LinkHeaderPaginator:
    """Follow the RFC 8288 ``Link`` header's ``rel="next"`` URL until there is none.

    ``page_size`` is what you asked for in your params (e.g. ``per_page``), used
    only to detect a silent cap; ``None`` disables that check.
    """

    records_path: str = ""
    rel: str = "next"
    page_size: int | None = None

    def first_request(self) -> PageRequest:
        return PageRequest({}, None, "link:<inicio>", self.page_size, 1)

    def parse(self, page: Page) -> PageOutcome:
        records = _records(page, self.records_path)
        link_value = _header(page.headers, "link")
        if link_value is None:
            return PageOutcome(records, None, "no_next_link", False)
        targets = [link.url for link in _parse_links(link_value, page) if self.rel in link.rel]
        if not targets:
            return PageOutcome(records, None, "no_next_link", False)
        url = urljoin(page.url, targets[0])
        nxt = PageRequest({}, url, f"link:{url}", self.page_size, page.request.number + 1)
        return PageOutcome(records, nxt, None, True)


@dataclass(frozen=True, slots=True)
class KeysetPaginator:
    """``?starting_after=<last id>&limit=n`` (Stripe style): resumes after the last key seen.

    Ends on ``has_more_false`` when ``has_more_path`` is set, else on an empty
    or short page. Stable under inserts and deletes, unlike offsets.
    """

    limit: int = 100
    records_path: str = "data"
    key_path: str = "id"
    has_more_path: str | None = "has_more"
    after_param: str = "starting_after"
    limit_param: str = "limit"

    def __post_init__(self) -> None:
        _check_size("limit", self.limit)

    def first_request(self) -> PageRequest:
        return PageRequest({self.limit_param: self.limit}, None, "after:<inicio>", self.limit, 1)

    def parse(self, page: Page) -> PageOutcome:
        records = _records(page, self.records_path)
        more: bool | None = None
        if self.has_more_path is not None:
            flag = _field(page, self.has_more_path, "has_more")
            if not isinstance(flag, bool):
                raise PaginationError(
                    f"{self.has_more_path!r} debería ser true/false y es {flag!r}.",
                    page=page.request.number,
                )
            more = flag
            if not flag:
                return PageOutcome(records, None, "has_more_false", False)
        if not records:
            return PageOutcome(records, None, "empty_page", more)
        if more is None and len(records) < self.limit:
            return PageOutcome(records, None, "short_page", None)
        try:
            last = json_path(records[-1], self.key_path)
        except LookupError:
            raise PaginationError(
                f"El último registro no tiene la clave {self.key_path!r}; indica key_path.",
                page=page.request.number,
            ) from None
        params = {self.after_param: str(last), self.limit_param: self.limit}
        nxt = PageRequest(params, None, f"after:{last}", self.limit, page.request.number + 1)
        return PageOutcome(records, nxt, None, more)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _parse_links(value: str, page: Page) -> list[Link]:
    try:
        return parse_link_header(value)
    except ValueError as problem:
        shown = value if len(value) <= 120 else value[:117] + "..."
        raise PaginationError(
            f"La cabecera Link no sigue la RFC 8288 ({problem}): {shown!r}. "
            "El servidor la envía mal formada; avisa a su equipo o usa otro paginador.",
            page=page.request.number,
        ) from None


# --- the guard -----------------------------------------------------------------------------


class PageWalker:
    """The run of one paginator: feeds pages in order, applies the cycle and cap checks.

    The connector loops ``while walker.next_request: page = fetch(...);
    records = walker.feed(page)``. ``walker.stop`` then names the rule that ended
    the run. ``start`` and ``seen`` resume a run from a checkpoint.
    """

    def __init__(
        self,
        paginator: Paginator,
        *,
        max_pages: int | None = None,
        start: PageRequest | None = None,
        seen: Sequence[str] = (),
    ) -> None:
        self.paginator = paginator
        self.max_pages = max_pages
        self.next_request: PageRequest | None = start or paginator.first_request()
        self.stop: StopRule | None = None
        self.pages = 0
        self.records = 0
        #: token → page number where it was first requested.
        self.seen: dict[str, int] = {token: 0 for token in seen}
        self._short_page: tuple[int, int, int] | None = None  # (page, got, asked)
        self._last_fingerprint: tuple[int, str, str] | None = None
        if self.next_request is not None:
            self._remember(self.next_request)

    def _remember(self, request: PageRequest) -> None:
        first = self.seen.get(request.token)
        if first is not None:
            where = f"la página {first}" if first else "una ejecución anterior (checkpoint)"
            raise PaginationError(
                f"Ciclo de paginación: el token {request.token!r} ya se pidió en {where}. "
                "El servidor repite posiciones; se para para no entrar en un bucle infinito. "
                "Revisa el orden estable del endpoint o usa paginación por clave.",
                page=request.number,
            )
        self.seen[request.token] = request.number

    def feed(self, page: Page) -> list[Any]:
        """Parse ``page`` (the one for :attr:`next_request`) and advance; returns its records."""
        outcome = self.paginator.parse(page)
        records = outcome.records
        number = page.request.number
        asked = page.request.page_size
        if self._short_page is not None and records:
            short_number, got, wanted = self._short_page
            raise self._cap_error(short_number, got, wanted)
        self._short_page = None
        if asked is not None and outcome.next is not None and 0 < len(records) < asked:
            if outcome.more:
                raise self._cap_error(number, len(records), asked)
            self._short_page = (number, len(records), asked)
        self.pages += 1
        self.records += len(records)
        nxt = outcome.next
        stop = outcome.stop
        if nxt is not None and self.max_pages is not None and self.pages >= self.max_pages:
            nxt, stop = None, "max_pages"
        if nxt is not None:
            self._remember(nxt)  # a repeated token is the more precise diagnosis: checked first
        self._check_not_repeated(records, number)
        self.next_request = nxt
        self.stop = stop
        return records

    def _check_not_repeated(self, records: list[Any], number: int) -> None:
        """A page equal to the previous one means the server ignores the position parameter."""
        if not records:
            self._last_fingerprint = None
            return
        fingerprint = (len(records), repr(records[0]), repr(records[-1]))
        if fingerprint == self._last_fingerprint:
            raise PaginationError(
                f"La página {number} es idéntica a la anterior: el servidor parece ignorar el "
                "parámetro de posición (offset, página, cursor). Revisa sus nombres en el "
                "paginador (offset_param, page_param...).",
                page=number,
            )
        self._last_fingerprint = fingerprint

    def _cap_error(self, number: int, got: int, asked: int) -> PaginationError:
        return PaginationError(
            f"Tope silencioso de tamaño de página: la página {number} trajo {got} registros "
            f"cuando se pidieron {asked}, y el servidor indica que hay más. Recorta el tamaño "
            "de página sin avisar y con offset/página se perderían registros: pide como "
            f"máximo {got} por página.",
            page=number,
        )

    @property
    def done(self) -> bool:
        """True when no request remains."""
        return self.next_request is None
