"""Audit store: durable appends (even under SIGKILL), append-only, failures raised as AuditStoreError."""

from __future__ import annotations

import math
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from otgate.audit.store import (
    AUDIT_KEY_ENV,
    AuditChainError,
    AuditStore,
    AuditStoreError,
    UnreadableRecordError,
    audit_key_from_env,
    audit_path,
)
from otgate.core.audit_chain import AuditEntry, AuditKind, Checkpoint, verify

ROOT = Path(__file__).resolve().parents[2]
KEY = b"a key the AI side never sees"


def entries(n: int, start_at: float = 1000.0) -> list[AuditEntry]:
    return [AuditEntry(AuditKind.DECISION, "gateway", {"i": i}, start_at + i) for i in range(n)]


def raw(tmp_path: Path) -> sqlite3.Connection:
    return sqlite3.connect(audit_path(tmp_path), isolation_level=None)


def test_audit_store_new_trail_wal_and_synchronous_full(tmp_path: Path):
    with AuditStore(tmp_path, None) as store:
        assert store._db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert store._db.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
        assert store.count() == 0
        assert store.head is None


def test_audit_store_append_returns_what_is_read_back(tmp_path: Path):
    data = {"value": math.nan, "reasons": ("STALE", "FUTURE"), "note": "lone \ud800 surrogate"}
    with AuditStore(tmp_path, KEY) as store:
        written = store.append(AuditKind.RECOMMENDATION, "engine:opt", data, 1700000000.5)
        assert list(store.records()) == [written]
    assert written.data == {"value": "NaN", "reasons": ["STALE", "FUTURE"], "note": "lone \ud800 surrogate"}


def test_audit_store_reopened_continues_the_chain(tmp_path: Path):
    with AuditStore(tmp_path, KEY) as store:
        store.append_many(entries(3))
    with AuditStore(tmp_path, KEY) as store:
        assert store.head is not None
        assert store.head.seq == 3
        record = store.append("gateway_start", "gateway", {}, 2000.0)
        assert record.seq == 4
        result = store.verify()
    assert (result.ok, result.count) == (True, 4)


def test_audit_store_append_many_bad_entry_writes_nothing(tmp_path: Path):
    with AuditStore(tmp_path, None) as store:
        batch = [*entries(2), AuditEntry("alarm", "gateway", {"x": object()}, 1.0)]
        with pytest.raises(TypeError):
            store.append_many(batch)
        assert store.count() == 0
        assert store.append("alarm", "gateway", {}, 1.0).seq == 1  # a caller's bug does not break the store


def test_audit_store_records_from_seq_across_pages(tmp_path: Path):
    with AuditStore(tmp_path, None) as store:
        store.append_many(entries(2500))
        assert [r.seq for r in store.records(from_seq=998)] == list(range(998, 2501))
        assert store.count() == 2500


@pytest.mark.requirement("R-38")
def test_audit_store_update_and_delete_refused_by_triggers(tmp_path: Path):
    with AuditStore(tmp_path, None) as store:
        store.append_many(entries(2))
    db = raw(tmp_path)
    for sql in ("UPDATE audit SET actor = 'x' WHERE seq = 1", "DELETE FROM audit WHERE seq = 2"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute(sql)
    db.close()


@pytest.mark.requirement("R-37")
def test_audit_store_disk_full_raises_and_refuses_until_reopened(tmp_path: Path):
    store = AuditStore(tmp_path, KEY)
    store.append_many(entries(5))
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count = {pages}")  # the same error sqlite gives on a full disk
    with pytest.raises(AuditStoreError, match="full"):
        store.append_many(entries(500))
    with pytest.raises(AuditStoreError, match="must be reopened"):
        store.append("alarm", "gateway", {}, 1.0)
    store.close()
    with AuditStore(tmp_path, KEY) as store:
        assert store.count() == 5
        assert store.append("alarm", "gateway", {}, 1.0).seq == 6
        assert store.verify().ok


@pytest.mark.requirement("R-46")
def test_audit_store_edited_tail_refused_on_open(tmp_path: Path):
    with AuditStore(tmp_path, KEY) as store:
        store.append_many(entries(3))
    db = raw(tmp_path)
    db.execute("DROP TRIGGER audit_no_update")
    db.execute("""UPDATE audit SET data = '{"i":99}' WHERE seq = 3""")
    db.close()
    with pytest.raises(AuditChainError, match="seq 3"):
        AuditStore(tmp_path, KEY)


@pytest.mark.requirement("R-46")
def test_audit_store_deleted_before_tail_refused_on_open(tmp_path: Path):
    with AuditStore(tmp_path, None) as store:
        store.append_many(entries(3))
    db = raw(tmp_path)
    db.execute("DROP TRIGGER audit_no_delete")
    db.execute("DELETE FROM audit WHERE seq = 2")
    db.close()
    with pytest.raises(AuditChainError, match="does not follow seq 1"):
        AuditStore(tmp_path, None)


@pytest.mark.parametrize(("written", "opened"), [(KEY, None), (None, KEY), (KEY, b"another key")])
def test_audit_store_other_key_refused_on_open(tmp_path: Path, written: bytes | None, opened: bytes | None):
    with AuditStore(tmp_path, written) as store:
        store.append("gateway_start", "gateway", {}, 1.0)
    with pytest.raises(AuditChainError, match=AUDIT_KEY_ENV):
        AuditStore(tmp_path, opened)


def test_audit_store_second_writer_cannot_fork_the_chain(tmp_path: Path):
    first = AuditStore(tmp_path, None)
    first.append("gateway_start", "gateway", {}, 1.0)
    with AuditStore(tmp_path, None) as second:
        second.append("gateway_start", "gateway", {}, 2.0)
    with pytest.raises(AuditStoreError, match="UNIQUE"):
        first.append("alarm", "gateway", {}, 3.0)
    first.close()
    with AuditStore(tmp_path, None, read_only=True) as store:
        assert store.verify().ok


def test_audit_store_newer_schema_refused(tmp_path: Path):
    AuditStore(tmp_path, None).close()
    db = raw(tmp_path)
    db.execute("PRAGMA user_version = 2")
    db.close()
    with pytest.raises(AuditChainError, match="newer"):
        AuditStore(tmp_path, None)


def test_audit_store_read_only_refuses_append_and_creates_nothing(tmp_path: Path):
    with pytest.raises(AuditStoreError):
        AuditStore(tmp_path / "absent", None, read_only=True)
    assert not (tmp_path / "absent").exists()
    AuditStore(tmp_path, None).close()
    with (
        AuditStore(tmp_path, None, read_only=True) as store,
        pytest.raises(AuditStoreError, match="read-only"),
    ):
        store.append("alarm", "gateway", {}, 1.0)


def test_audit_store_row_not_a_record_unreadable_names_seq(tmp_path: Path):
    with AuditStore(tmp_path, None) as store:
        store.append_many(entries(3))
    db = raw(tmp_path)
    db.execute("DROP TRIGGER audit_no_update")
    db.execute("UPDATE audit SET data = 'not json' WHERE seq = 2")
    db.close()
    with AuditStore(tmp_path, None, read_only=True) as store, pytest.raises(UnreadableRecordError) as caught:
        list(store.records())
    assert caught.value.seq == 2


@pytest.mark.parametrize(
    ("environ", "key"),
    [({}, None), ({AUDIT_KEY_ENV: "s3cret"}, b"s3cret"), ({AUDIT_KEY_ENV: "\udcff"}, b"\xff")],
)
def test_audit_key_from_env_set_or_unset(environ: dict[str, str], key: bytes | None):
    assert audit_key_from_env(environ) == key


def test_audit_key_from_env_empty_is_an_error():
    with pytest.raises(ValueError, match=AUDIT_KEY_ENV):
        audit_key_from_env({AUDIT_KEY_ENV: ""})


CHILD = textwrap.dedent(
    """
    import os, sys, time
    from otgate.audit.store import AuditStore, audit_key_from_env
    store = AuditStore(sys.argv[1], audit_key_from_env(os.environ))
    for i in range(1_000_000):
        record = store.append("decision", "gateway", {"i": i}, time.time())
        print(record.seq, record.hash, flush=True)
    """
)


@pytest.mark.requirement("R-35")
def test_audit_store_sigkill_after_append_returned_loses_nothing(tmp_path: Path):
    n = 50
    env = {**os.environ, AUDIT_KEY_ENV: KEY.decode()}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path)], stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env
    )
    assert child.stdout is not None
    printed = []
    for line in child.stdout:
        printed.append(line.split())
        if len(printed) == n:
            child.send_signal(signal.SIGKILL)  # while it is in the middle of later appends
            break
    child.wait(timeout=10)
    child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    with AuditStore(tmp_path, KEY) as store:  # reopening checks the tail
        on_disk = [[str(r.seq), r.hash] for r in store.records()]
        result = store.verify()
    assert on_disk[:n] == printed
    assert result.ok
    assert result.count >= n


def test_audit_store_verify_with_checkpoint_from_head(tmp_path: Path):
    with AuditStore(tmp_path, None) as store:
        store.append_many(entries(4))
        head = store.head
        assert head is not None
        assert store.verify(Checkpoint(head.seq, head.hash)).ok
        assert verify(store.records(), None, checkpoint=Checkpoint(head.seq, "0" * 64)).first_bad_seq == 4


def test_audit_store_verify_stored_text_equals_decoded_verify(tmp_path: Path):
    with AuditStore(tmp_path, KEY) as store:
        store.append_many(entries(5))
        store.append("decision", "gateway", {"v": math.nan, "s": '\ud800 "q"\n', "n": [1, 2.5]}, 1.0)
        assert store.verify() == verify(store.records(), KEY)
        assert store.verify().ok and store.verify().count == 6


def test_audit_store_verify_data_respelled_equivalently_fails_at_that_seq(tmp_path: Path):
    # The stored text is what was hashed: the same JSON value spelled differently is an edit.
    with AuditStore(tmp_path, None) as store:
        store.append_many(entries(3))
    db = raw(tmp_path)
    db.execute("DROP TRIGGER audit_no_update")
    db.execute("UPDATE audit SET data = ' ' || data WHERE seq = 2")
    db.close()
    with AuditStore(tmp_path, None, read_only=True) as store:
        result = store.verify()
    assert (result.ok, result.first_bad_seq) == (False, 2)


def test_audit_store_verify_row_not_a_record_unreadable(tmp_path: Path):
    with AuditStore(tmp_path, None) as store:
        store.append_many(entries(3))
    db = raw(tmp_path)
    db.execute("DROP TRIGGER audit_no_update")
    db.execute("UPDATE audit SET data = '[1]' WHERE seq = 3")
    db.close()
    with AuditStore(tmp_path, None, read_only=True) as store, pytest.raises(UnreadableRecordError) as caught:
        store.verify()
    assert caught.value.seq == 3
