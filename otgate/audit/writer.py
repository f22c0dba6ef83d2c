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
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor

from otgate.audit.store import AuditStore
from otgate.core.audit_chain import AuditEntry, AuditRecord


class AuditWriter:
    def __init__(self, store: AuditStore) -> None:
        self.store = store
        # One worker: flushes run one after another, each taking everything queued so far.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="otgate-audit")

    async def append_many(self, entries: Iterable[AuditEntry]) -> list[AuditRecord]:
        """Chain `entries` now and return them once durable; AuditStoreError when they cannot be."""
        records, done = self.store.submit(entries)
        await self.durable(done)
        return records

    async def durable(self, done: Future[None]) -> None:
        """Wait, off the loop, until the records behind `done` (from `AuditStore.submit`) are durable."""
        if not done.done():
            self._thread.submit(self.store.flush)
        await asyncio.wrap_future(done)

    def close(self) -> None:
        """Commit what is queued and stop the thread."""
        self._thread.shutdown(wait=True)
        self.store.flush()
