"""The audit writer thread: appends awaited until durable, one commit for everything queued meanwhile."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from otgate.audit.store import AuditStore, AuditStoreError
from otgate.audit.writer import AuditWriter
from otgate.core.audit_chain import AuditEntry, AuditKind

KEY = b"writer test key"


def entry(i: int) -> AuditEntry:
    return AuditEntry(AuditKind.DECISION, "gateway", {"i": i}, 1000.0 + i)


def on_disk(path: Path) -> list[int]:
    """The seqs another process sees: what is committed, not what this one has queued."""
    db = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        return [seq for (seq,) in db.execute("SELECT seq FROM audit ORDER BY seq")]
    finally:
        db.close()


def break_inserts(path: Path) -> None:
    """A real failed commit: the table refuses every insert from now on."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TRIGGER full BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    db.close()


def test_audit_store_submit_not_durable_until_flush_then_one_commit_for_all(tmp_path: Path):
    with AuditStore(tmp_path, KEY) as store:
        submitted = [store.submit([entry(i), entry(i + 10)]) for i in range(3)]
        assert [r.seq for records, _ in submitted for r in records] == [1, 2, 3, 4, 5, 6]
        assert on_disk(store.path) == [] and not any(done.done() for _, done in submitted)
        store.flush()
        assert all(done.result() is None for _, done in submitted)
        assert on_disk(store.path) == [1, 2, 3, 4, 5, 6]
        assert store.verify().ok


def test_audit_store_sync_append_commits_earlier_submissions_first(tmp_path: Path):
    with AuditStore(tmp_path, KEY) as store:
        _, queued = store.submit([entry(1)])
        (record,) = store.append_many([entry(2)])
        assert queued.done() and record.seq == 2
        assert on_disk(store.path) == [1, 2]


async def test_audit_writer_append_many_returns_only_once_durable(tmp_path: Path):
    with AuditStore(tmp_path, KEY) as store:
        writer = AuditWriter(store)
        records = await writer.append_many([entry(1), entry(2)])
        assert on_disk(store.path) == [r.seq for r in records] == [1, 2]
        writer.close()


async def test_audit_writer_concurrent_appends_all_durable_in_seq_order(tmp_path: Path):
    with AuditStore(tmp_path, KEY) as store:
        writer = AuditWriter(store)
        results = await asyncio.gather(*(writer.append_many([entry(i)]) for i in range(50)))
        assert sorted(r.seq for records in results for r in records) == list(range(1, 51))
        assert on_disk(store.path) == list(range(1, 51))
        assert store.verify().ok
        writer.close()


async def test_audit_writer_failed_commit_fails_every_append_then_and_after(tmp_path: Path):
    with AuditStore(tmp_path, KEY) as store:
        writer = AuditWriter(store)
        await writer.append_many([entry(0)])
        break_inserts(store.path)
        results = await asyncio.gather(
            *(writer.append_many([entry(i)]) for i in range(1, 6)), return_exceptions=True
        )
        assert all(isinstance(r, AuditStoreError) for r in results)
        with pytest.raises(AuditStoreError, match="must be reopened"):
            await writer.append_many([entry(9)])
        with pytest.raises(AuditStoreError):
            store.append("alarm", "gateway", {}, 1.0)
        assert on_disk(store.path) == [1]  # nothing after the failure, so no gap can reach the disk
        writer.close()
