"""Specification of connectors_lib.state: JSON checkpoints, atomic, owner-only, versioned."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from connectors_lib.errors import CheckpointError
from connectors_lib.state import CHECKPOINT_FORMAT, CHECKPOINT_VERSION, CheckpointStore


def test_round_trip_and_clear(tmp_path: Path) -> None:
    """What is saved is loaded back; clear() removes it; no file means None."""
    store = CheckpointStore(tmp_path / "cp.json", stream="orders")
    assert store.load() is None
    store.save({"next": {"offset": 200}, "keys": [1, 2]}, saved_at=1.5)
    assert store.load() == {"next": {"offset": 200}, "keys": [1, 2]}
    assert store.saves == 1
    store.clear()
    store.clear()  # idempotent
    assert store.load() is None


def test_file_is_owner_only_readable_json(tmp_path: Path) -> None:
    """The file has mode 0o600 and is plain, versioned JSON (no pickle)."""
    path = tmp_path / "cp.json"
    CheckpointStore(path, stream="s").save({"a": 1})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["format"] == CHECKPOINT_FORMAT
    assert document["version"] == CHECKPOINT_VERSION
    assert document["stream"] == "s"


def test_save_replaces_atomically_and_leaves_no_temp_files(tmp_path: Path) -> None:
    """Repeated saves keep exactly one file in the directory, holding the last state."""
    store = CheckpointStore(tmp_path / "cp.json")
    for n in range(5):
        store.save({"n": n})
    assert sorted(os.listdir(tmp_path)) == ["cp.json"]
    assert store.load() == {"n": 4}


def test_failed_save_keeps_the_previous_checkpoint(tmp_path: Path) -> None:
    """A state that is not JSON raises CheckpointError and the old file survives intact."""
    store = CheckpointStore(tmp_path / "cp.json")
    store.save({"n": 1})
    with pytest.raises(CheckpointError, match="JSON"):
        store.save({"n": {1, 2}})  # a set is not JSON
    with pytest.raises(CheckpointError):
        store.save({"n": float("nan")})
    assert store.load() == {"n": 1}
    assert sorted(os.listdir(tmp_path)) == ["cp.json"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "no es JSON"),
        ('{"hello": 1}', "no es un checkpoint"),
        (json.dumps({"format": CHECKPOINT_FORMAT, "version": 99, "state": {}}), "versión"),
        (json.dumps({"format": CHECKPOINT_FORMAT, "version": 1, "stream": "otro", "state": {}}),
         "otro flujo"),
        (json.dumps({"format": CHECKPOINT_FORMAT, "version": 1, "stream": "s", "state": []}),
         "state"),
    ],
)  # fmt: skip
def test_untrusted_files_are_refused(tmp_path: Path, content: str, message: str) -> None:
    """Corrupt, foreign, future-version or other-stream files raise CheckpointError."""
    path = tmp_path / "cp.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CheckpointError, match=message) as caught:
        CheckpointStore(path, stream="s").load()
    assert caught.value.path == str(path)


def test_for_stream_binds_the_same_file(tmp_path: Path) -> None:
    """for_stream() gives a store on the same path that checks the stream name."""
    store = CheckpointStore(tmp_path / "cp.json")
    store.for_stream("a").save({"x": 1})
    assert store.for_stream("a").load() == {"x": 1}
    with pytest.raises(CheckpointError):
        store.for_stream("b").load()


def test_a_pickle_in_place_of_the_checkpoint_is_refused_without_loading_it(tmp_path: Path) -> None:
    """A binary file (e.g. the original lesson's pickle) gives CheckpointError, never unpickling."""
    import pickle

    path = tmp_path / "checkpoint.json"
    path.write_bytes(pickle.dumps({"cursor": "abc"}))
    with pytest.raises(CheckpointError, match="pickle"):
        CheckpointStore(path).load()
