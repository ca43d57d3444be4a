"""Lesson 02 exercises: each check accepts its reference solution and refuses typical mistakes."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from exercise_support import run_solution

from connectors_lib.exercises.lesson02 import q1, q2, q3, q4

# --- q1 -------------------------------------------------------------------------------------


def _encode(last_id: int) -> str:
    return base64.b64encode(json.dumps({"id": last_id}).encode()).decode()


def _decode_trusting(cursor: str) -> int:
    """The original lesson's decode: correct on good input, KeyError on a foreign cursor."""
    return int(json.loads(base64.b64decode(cursor))["id"])


def _decode_without_type_check(cursor: str) -> int:
    try:
        document = json.loads(base64.urlsafe_b64decode(cursor))
        return document["id"]  # type: ignore[no-any-return]
    except (KeyError, TypeError) as problem:
        raise ValueError("cursor sin id") from problem


def _decode_plain(cursor: str) -> int:
    return int(cursor)


_Q1_WRONG: dict[str, tuple[Callable[[int], Any], Callable[[str], Any], str]] = {
    "original-lesson-trusts-the-cursor": (_encode, _decode_trusting, "KeyError"),
    "no-type-check-on-id": (_encode, _decode_without_type_check, "en vez de lanzar ValueError"),
    "not-base64-at-all": (str, _decode_plain, "no es base64"),
    "returns-bytes": (lambda n: _encode(n).encode(), _decode_trusting, "texto (str)"),
}


@pytest.mark.parametrize("case", list(_Q1_WRONG), ids=list(_Q1_WRONG))
def test_q1_refuses_typical_mistakes(case: str) -> None:
    """Cursors that trust their input, are not base64 or are bytes are refused with a reason."""
    encode, decode, clue = _Q1_WRONG[case]
    verdict = q1.verify((encode, decode))
    assert not verdict.ok
    assert clue in verdict.message


def test_q1_stub_pair_counts_as_unanswered() -> None:
    """The notebook's stub `(..., ...)` is 'no answer yet', not a wrong type."""
    verdict = q1.verify((..., ...))
    assert not verdict.ok
    assert "aún no hay respuesta" in verdict.message


def test_q1_accepts_unpadded_cursors_like_the_lab_sends() -> None:
    """The reference decode_cursor also reads cursors whose '=' padding was stripped."""
    namespace, _ = run_solution(q1)
    unpadded = namespace["encode_cursor"](1200).rstrip("=")
    assert namespace["decode_cursor"](unpadded) == 1200


def test_q1_asks_for_a_tuple() -> None:
    """Passing one function instead of the pair explains how to call the check."""
    verdict = q1.verify(_encode)
    assert not verdict.ok
    assert "tupla" in verdict.message


# --- q2 -------------------------------------------------------------------------------------


def _last_seen_wins(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return list({r["id"]: r for r in records}.values())


def _last_seen_sorted(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted({r["id"]: r for r in records}.values(), key=lambda r: r["id"])


def _first_seen_wins(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    kept: dict[int, dict[str, Any]] = {}
    for r in records:
        kept.setdefault(r["id"], r)
    return [kept[k] for k in sorted(kept)]


def _strictly_newer(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    kept: dict[int, dict[str, Any]] = {}
    for r in records:
        if r["id"] not in kept or r["updated_at"] > kept[r["id"]]["updated_at"]:
            kept[r["id"]] = r
    return [kept[k] for k in sorted(kept)]


def _no_dedup(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(records, key=lambda r: r["id"])


_Q2_WRONG: dict[str, tuple[Callable[[list[dict[str, Any]]], Any], str]] = {
    "dict-comprehension-last-seen": (_last_seen_wins, "orden"),
    "last-seen-sorted": (_last_seen_sorted, "versión equivocada"),
    "first-seen-wins": (_first_seen_wins, "versión equivocada"),
    "ties-keep-the-first": (_strictly_newer, "empate"),
    "no-dedup-at-all": (_no_dedup, "repetidos"),
}


@pytest.mark.parametrize("case", list(_Q2_WRONG), ids=list(_Q2_WRONG))
def test_q2_refuses_typical_mistakes(case: str) -> None:
    """Keeping the last or first seen, breaking ties wrongly, or not deduplicating fails."""
    answer, clue = _Q2_WRONG[case]
    verdict = q2.verify(answer)
    assert not verdict.ok
    assert clue in verdict.message


# --- q3 -------------------------------------------------------------------------------------


_Q3_WRONG: dict[str, tuple[Callable[[int, float, int], Any], str]] = {
    "no-burst": (lambda n, rate, cap: [i / rate for i in range(n)], "ráfaga"),
    "all-at-once": (lambda n, rate, cap: [0.0] * n, "se esperaba"),
    "off-by-one": (lambda n, rate, cap: [max(0.0, (i - cap) / rate) for i in range(n)],
                   "se esperaba"),
    "first-waits": (lambda n, rate, cap: [(i + 1) / rate for i in range(n)], "empieza lleno"),
    "wrong-length": (lambda n, rate, cap: [0.0] * cap, "uno por petición"),
}


@pytest.mark.parametrize("case", list(_Q3_WRONG), ids=list(_Q3_WRONG))
def test_q3_refuses_typical_mistakes(case: str) -> None:
    """Schedules without a burst, without waits, off by one token, or too short fail."""
    answer, clue = _Q3_WRONG[case]
    verdict = q3.verify(answer)
    assert not verdict.ok
    assert clue in verdict.message


def test_q3_reference_matches_the_library_token_bucket() -> None:
    """The schedule q3 expects is what connectors_lib's TokenBucket does on a virtual clock."""
    from connectors_lib.clock import VirtualClock
    from connectors_lib.ratelimit import TokenBucket

    namespace, _ = run_solution(q3)
    clock = VirtualClock()
    bucket = TokenBucket(rate=2.0, capacity=3.0, clock=clock)
    sent = []
    for _ in range(8):
        bucket.acquire()
        sent.append(clock.monotonic())
    assert sent == pytest.approx(namespace["send_times"](8, 2.0, 3))


# --- q4 -------------------------------------------------------------------------------------

Fetch = Callable[[int | None], dict[str, Any]]


def _ignores_checkpoint(fetch_page: Fetch, store: Any, sink: Callable[..., None]) -> None:
    after = None
    while True:
        page = fetch_page(after)
        sink(page["data"])
        if page["data"]:
            after = page["data"][-1]["id"]
            store.save({"after": after})
        if not page["has_more"]:
            return


def _saves_before_writing(fetch_page: Fetch, store: Any, sink: Callable[..., None]) -> None:
    state = store.load()
    after = state["after"] if state else None
    while True:
        page = fetch_page(after)
        if page["data"]:
            store.save({"after": page["data"][-1]["id"]})
        sink(page["data"])
        if page["data"]:
            after = page["data"][-1]["id"]
        if not page["has_more"]:
            return


def _saves_first_id(fetch_page: Fetch, store: Any, sink: Callable[..., None]) -> None:
    state = store.load()
    after = state["after"] if state else None
    while True:
        page = fetch_page(after)
        sink(page["data"])
        if page["data"]:
            store.save({"after": page["data"][0]["id"] - 1})
            after = page["data"][-1]["id"]
        if not page["has_more"]:
            return


def _clears_at_the_end(fetch_page: Fetch, store: Any, sink: Callable[..., None]) -> None:
    state = store.load()
    after = state["after"] if state else None
    while True:
        page = fetch_page(after)
        sink(page["data"])
        if page["data"]:
            after = page["data"][-1]["id"]
            store.save({"after": after})
        if not page["has_more"]:
            store._text = None  # the "clear()" of the in-memory store
            return


def _saves_a_set(fetch_page: Fetch, store: Any, sink: Callable[..., None]) -> None:
    seen: set[int] = set()
    after = None
    while True:
        page = fetch_page(after)
        sink(page["data"])
        seen.update(r["id"] for r in page["data"])
        store.save({"seen": seen})  # only pickle could store a set
        if page["data"]:
            after = page["data"][-1]["id"]
        if not page["has_more"]:
            return


_Q4_WRONG: dict[str, tuple[Callable[..., None], str]] = {
    "ignores-the-checkpoint": (_ignores_checkpoint, "duplicados"),
    "saves-before-writing": (_saves_before_writing, "perdidos"),
    "saves-the-first-id": (_saves_first_id, "duplicados"),
    "clears-the-checkpoint": (_clears_at_the_end, "segunda ejecución"),
    "state-not-json": (_saves_a_set, "TypeError"),
}


@pytest.mark.parametrize("case", list(_Q4_WRONG), ids=list(_Q4_WRONG))
def test_q4_refuses_typical_mistakes(case: str) -> None:
    """Ignoring or mis-ordering the checkpoint, or saving non-JSON state, is caught."""
    answer, clue = _Q4_WRONG[case]
    verdict = q4.verify(answer)
    assert not verdict.ok
    assert clue in verdict.message


def test_q4_solution_works_with_the_library_checkpoint_store(tmp_path: Any) -> None:
    """The reference extract resumes through the real atomic JSON CheckpointStore too."""
    from connectors_lib.state import CheckpointStore

    namespace, _ = run_solution(q4)
    ids = list(range(1, 121))

    def fetch_page(after: int | None) -> dict[str, Any]:
        rest = [i for i in ids if after is None or i > after]
        return {"data": [{"id": i} for i in rest[:50]], "has_more": len(rest) > 50}

    received: list[int] = []
    store = CheckpointStore(tmp_path / "orders.json", stream="orders")
    namespace["extract"](fetch_page, store, lambda rows: received.extend(r["id"] for r in rows))
    assert received == ids
    assert store.load() == {"after": 120}
