"""Resolvers of the countries part, compatible with countries.trevorblades.com.

Records are plain dicts built once from :mod:`.countries_data`, in the public
API's order (by code). Filters follow the public API too (it uses *sift*,
a MongoDB-style matcher): each given operator (``eq``, ``ne``, ``in``, ``nin``,
``regex``) must hold, and ``currency`` is compared as the stored comma-joined
string (``{currency: {eq: "CLP"}}`` does not match Chile, whose value is
``"CLF,CLP"``; use ``regex``).

``regex`` is a user-supplied pattern run on the server, so it is bounded: at
most 100 characters, no quantified group and at most two unbounded
quantifiers. That rules out catastrophic backtracking (ReDoS) on this data.
"""

from __future__ import annotations

import re
from typing import Any

from graphql import GraphQLError, GraphQLResolveInfo

from .countries_data import CONTINENTS, COUNTRY_ROWS, LANGUAGE_ROWS

__all__ = ["COUNTRIES", "LANGUAGES", "RESOLVERS", "country_by_code", "flag"]

Record = dict[str, Any]

_MAX_PATTERN = 100
_QUANTIFIED_GROUP = re.compile(r"\)\s*(?:[*+?]|\{\d)")
_UNBOUNDED = re.compile(r"(?<!\\)(?:[*+]|\{\d+,\})")


def flag(code: str) -> str:
    """The emoji flag of a two-letter code: two regional-indicator symbols."""
    return "".join(chr(0x1F1E6 + ord(c) - ord("A")) for c in code)


def _emoji_u(code: str) -> str:
    return " ".join(f"U+{0x1F1E6 + ord(c) - ord('A'):X}" for c in code)


COUNTRIES: tuple[Record, ...] = tuple(
    {
        "code": code, "name": name, "native": native, "phone": phone,
        "continent": continent, "capital": capital or None, "currency": currency or None,
        "languages": tuple(lang for lang in languages.split(",") if lang),
        "emoji": flag(code), "emojiU": _emoji_u(code),
    }
    for code, name, native, phone, continent, capital, currency, languages in COUNTRY_ROWS
)
LANGUAGES: tuple[Record, ...] = tuple(
    {"code": code, "name": name, "native": native, "rtl": rtl}
    for code, name, native, rtl in LANGUAGE_ROWS
)
_COUNTRY = {c["code"]: c for c in COUNTRIES}
_LANGUAGE = {lang["code"]: lang for lang in LANGUAGES}


def country_by_code(code: str) -> Record | None:
    """The country record for an ISO code, or ``None``."""
    return _COUNTRY.get(code)


def _continent(code: str) -> Record:
    return {"code": code, "name": CONTINENTS[code]}


def _pattern(raw: str) -> re.Pattern[str]:
    if len(raw) > _MAX_PATTERN or _QUANTIFIED_GROUP.search(raw) or len(
        _UNBOUNDED.findall(raw)
    ) > 2:
        raise GraphQLError(
            "regex no admitido: máximo 100 caracteres, sin grupos con cuantificador y como "
            "mucho dos '*' o '+'. Simplifica el patrón.",
            extensions={"code": "BAD_USER_INPUT"},
        )
    try:
        return re.compile(raw)
    except re.error as exc:
        raise GraphQLError(
            f"regex inválido: {exc}. Revisa el patrón.", extensions={"code": "BAD_USER_INPUT"}
        ) from exc


def _matches(value: str | None, ops: dict[str, Any]) -> bool:
    for op, arg in ops.items():
        if arg is None:
            continue
        if op == "eq" and value != arg:
            return False
        if op == "ne" and value == arg:
            return False
        if op == "in" and value not in arg:
            return False
        if op == "nin" and value in arg:
            return False
        if op == "regex" and (value is None or not _pattern(arg).search(value)):
            return False
    return True


def _filtered(records: tuple[Record, ...] | list[Record], filt: Any) -> list[Record]:
    if not filt:
        return list(records)
    # Compile each pattern once up front, so a bad one fails even when nothing would be scanned.
    for ops in filt.values():
        if ops and ops.get("regex") is not None:
            _pattern(ops["regex"])
    return [r for r in records if all(_matches(r.get(k), ops or {}) for k, ops in filt.items())]


# -- resolvers (signature: source, info, **args) ------------------------------------


def _q_continents(_: Any, __: GraphQLResolveInfo[Any], **args: Any) -> Any:
    return _filtered([_continent(c) for c in CONTINENTS], args.get("filter"))


def _q_continent(_: Any, __: GraphQLResolveInfo[Any], code: str) -> Any:
    return _continent(code) if code in CONTINENTS else None


def _q_countries(_: Any, __: GraphQLResolveInfo[Any], **args: Any) -> Any:
    return _filtered(COUNTRIES, args.get("filter"))


def _q_country(_: Any, __: GraphQLResolveInfo[Any], code: str) -> Any:
    return _COUNTRY.get(code)


def _q_languages(_: Any, __: GraphQLResolveInfo[Any], **args: Any) -> Any:
    return _filtered(LANGUAGES, args.get("filter"))


def _q_language(_: Any, __: GraphQLResolveInfo[Any], code: str) -> Any:
    return _LANGUAGE.get(code)


#: (type, field) → resolver; fields not listed read the dict key of the same name.
RESOLVERS: dict[tuple[str, str], Any] = {
    ("Query", "continents"): _q_continents,
    ("Query", "continent"): _q_continent,
    ("Query", "countries"): _q_countries,
    ("Query", "country"): _q_country,
    ("Query", "languages"): _q_languages,
    ("Query", "language"): _q_language,
    ("Continent", "countries"): lambda c, _: [x for x in COUNTRIES if x["continent"] == c["code"]],
    ("Country", "continent"): lambda c, _: _continent(c["continent"]),
    ("Country", "languages"): lambda c, _: [_LANGUAGE[code] for code in c["languages"]],
    ("Country", "currencies"): lambda c, _: (c["currency"] or "").split(","),
    ("Country", "phones"): lambda c, _: c["phone"].split(","),
    ("Language", "countries"): lambda lang, _: [
        x for x in COUNTRIES if lang["code"] in x["languages"]
    ],
}
