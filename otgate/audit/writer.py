"""The audit trail's writer thread: durable appends an asyncio loop can await without doing the fsync.

`await writer.append_many(entries)` returns the records (seq and hash final) only once they are durable,
so an answer that waits for it is sent only after its decision is on disk. The fsync runs in one worker
thread; every append submitted while it runs is committed by the next flush in one transaction, so one
fsync covers one scan's records, one HTTP batch's, or many concurrent batches' (group commit).

Failure is the store's: a failed commit fails every append it carried and every one after it with
`AuditStoreError` (the caller fails closed), until the store is reopened.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor

from otgate.audit.store import AuditStore
from otgate.core.audit_chain import AuditEntry, AuditRecord


class AuditWriter:
    def __init__(self, store: AuditStore) -> None:
        self.store = store
        # One worker: flushes run one after another, each taking everything queued so far.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="otgate-audit")
        # Whether a flush is queued and not yet started: it will carry whatever is submitted until it
        # starts, so a second one would only wake the thread to find nothing (16 callers: 15 idle wakes).
        self._flush_due = False
        self._due_lock = threading.Lock()

    async def append_many(self, entries: Iterable[AuditEntry]) -> list[AuditRecord]:
        """Chain `entries` now and return them once durable; AuditStoreError when they cannot be."""
        records, done = self.store.submit(entries)
        await self.durable(done)
        return records

    async def durable(self, done: Future[None]) -> None:
        """Wait, off the loop, until the records behind `done` (from `AuditStore.submit`) are durable."""
        if not done.done():
            with self._due_lock:
                due, self._flush_due = self._flush_due, True
            if not due:
                self._thread.submit(self._flush)
        await asyncio.wrap_future(done)

    def _flush(self) -> None:
        with self._due_lock:  # cleared before the store takes its queue: a later submit queues a new flush
            self._flush_due = False
        self.store.flush()

    def close(self) -> None:
        """Commit what is queued and stop the thread."""
        self._thread.shutdown(wait=True)
        self.store.flush()
