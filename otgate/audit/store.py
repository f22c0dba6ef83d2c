"""The audit trail on disk: `<data_dir>/audit.sqlite3`, one append-only table, durable on every append.

Table (`PRAGMA user_version` = 1)::

    audit(seq INTEGER PRIMARY KEY, at REAL, kind TEXT, actor TEXT,
          data TEXT  -- canonical JSON (otgate.core.audit_chain), prev_hash TEXT, hash TEXT)

Durability: WAL journal with `synchronous=FULL`, so the WAL is fsynced at every commit. An append that
returned survives a SIGKILL of the gateway and a power cut; `append_many` commits a whole HTTP batch in
one transaction, so an API answer is sent only after every record behind it is on disk.

Append-only: triggers refuse UPDATE and DELETE, which stops a bug in our own code; anyone with the file
can drop them, which is what the hash chain (and the HMAC key) is for. The primary key on seq makes a
second writer that forks the chain fail instead of interleaving.

Failure: any sqlite error (disk full, I/O error, locked) is raised as `AuditStoreError`, and after a failed
append the store refuses further appends: the gateway fails closed and reopens it, which re-reads the
tail from disk. Opening checks the last record's hash and its link to the one before, so a trail whose
tail was edited, or written with a different key, is reported instead of silently extended.

Threads: one connection guarded by a lock, so any thread may call; every call is short (an append costs
one fsync, about a millisecond on an SSD). The chain's state (head, queue, failure) has a lock of its own,
held by a commit too: a `submit` on the event loop waits for a commit in progress. Letting the loop run
on instead starves the committing thread of the interpreter lock after its fsync (under a rogue engine's
flood a well-behaved engine's answer went from 1.2 to 15 ms at the median), and it bought no append
rate. Reading while another process appends is fine (WAL readers
see a snapshot).

Group commit: `submit` chains records at once (their seq and hash are final) and queues them; `flush`
commits everything queued in one transaction, in seq order, so one fsync covers the records of every
caller that submitted meanwhile. `append_many` is submit + flush (durable when it returns). The
gateway's asyncio loop awaits durability through `otgate.audit.writer.AuditWriter`, whose thread does
the flush off the loop. After a failed commit nothing later is written (a gap must never reach the
disk): every queued and later append fails until the store is reopened.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from otgate.core.audit_chain import (
    AuditEntry,
    AuditRecord,
    Checkpoint,
    StoredRecord,
    Verification,
    chain_texts,
    has_valid_hash,
    verify,
)

AUDIT_FILE = "audit.sqlite3"
AUDIT_KEY_ENV = "OTGATE_AUDIT_HMAC_KEY"
SCHEMA_VERSION = 1
_PAGE = 1000
_JSON = json.JSONDecoder()

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS audit (seq INTEGER PRIMARY KEY, at REAL NOT NULL, kind TEXT NOT NULL,"
    " actor TEXT NOT NULL, data TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)",
    "CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END",
    f"PRAGMA user_version={SCHEMA_VERSION}",
)
_COLUMNS = "seq, at, kind, actor, data, prev_hash, hash"


class AuditStoreError(Exception):
    """The audit trail cannot be written or read; the gateway must fail closed."""


class AuditChainError(AuditStoreError):
    """The trail on disk is not a chain this store may extend (edited tail, other key, newer schema)."""


class UnreadableRecordError(AuditStoreError):
    """A row that is not a record at all (edited into the wrong type, data not a JSON object)."""

    def __init__(self, seq: object, why: str) -> None:
        super().__init__(f"record {seq} is unreadable: {why}")
        self.seq = seq
        self.why = why


def audit_path(data_dir: Path | str) -> Path:
    return Path(data_dir) / AUDIT_FILE


def audit_key_from_env(environ: Mapping[str, str]) -> bytes | None:
    """The HMAC key from OTGATE_AUDIT_HMAC_KEY (its bytes as given), or None when unset.

    Only from the environment: the config file is shared with engineers and tools the key must not reach.
    An empty value is an error rather than "no key", so a broken deployment script cannot silently
    downgrade the trail to an unkeyed chain.
    """
    value = environ.get(AUDIT_KEY_ENV)
    if value is None:
        return None
    if not value:
        raise ValueError(f"{AUDIT_KEY_ENV} is set but empty")
    # os.environ decodes undecodable bytes as surrogates; this gives back the bytes that were set.
    return value.encode("utf-8", "surrogateescape")


def _stored_row(row: tuple[Any, ...]) -> tuple[StoredRecord, dict[str, Any]]:
    """A row checked to be a record: every column of its type and the data a JSON object."""
    seq, at, kind, actor, data_text, prev_hash, digest = row
    if not isinstance(seq, int):
        raise UnreadableRecordError(seq, "seq is not an integer")
    if isinstance(at, bool) or not isinstance(at, int | float):
        raise UnreadableRecordError(seq, f"at is {type(at).__name__}, not a number")
    texts = (kind, actor, prev_hash, digest)
    if not all(isinstance(value, str) for value in texts):
        for name, value in zip(("kind", "actor", "prev_hash", "hash"), texts, strict=True):
            if not isinstance(value, str):
                raise UnreadableRecordError(seq, f"{name} is {type(value).__name__}, not text")
    try:
        data = _JSON.decode(data_text)
    except (TypeError, ValueError) as error:
        raise UnreadableRecordError(seq, f"data is not JSON ({error})") from error
    if not isinstance(data, dict):
        raise UnreadableRecordError(seq, "data is not a JSON object")
    return StoredRecord(seq, float(at), kind, actor, data_text, prev_hash, digest), data


def _decode_row(row: tuple[Any, ...]) -> AuditRecord:
    stored, data = _stored_row(row)
    return AuditRecord(stored.seq, stored.at, stored.kind, stored.actor, data, stored.prev_hash, stored.hash)


class AuditStore:
    """The trail in `<data_dir>/audit.sqlite3`. `read_only` opens an existing trail for checking/export."""

    def __init__(self, data_dir: Path | str, key: bytes | None, *, read_only: bool = False) -> None:
        self.path = audit_path(data_dir)
        self._key = key
        self._read_only = read_only
        self._lock = threading.Lock()  # the chain's state: head, queue, failure (and held by a commit)
        self._db_lock = threading.Lock()  # the connection: reads do not wait for the chain's state
        self._failure: AuditStoreError | None = None
        self._head: Checkpoint | None = None  # the last record chained (submitted, maybe not yet durable)
        self._pending: list[tuple[list[tuple[Any, ...]], Future[None]]] = []
        self._commit_lock = threading.Lock()  # one commit at a time, so records reach the disk in seq order
        self._db = self._connect()
        try:
            if not read_only:
                self._prepare()
                self._head = self._check_tail()
        except BaseException:
            self._db.close()
            raise

    def _connect(self) -> sqlite3.Connection:
        try:
            if self._read_only:
                uri = self.path.resolve().as_uri() + "?mode=ro"
                return sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a batch is exactly one transaction.
            return sqlite3.connect(self.path, timeout=2.0, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as error:
            raise AuditStoreError(f"cannot open the audit trail {self.path}: {error}") from error

    def _prepare(self) -> None:
        try:
            mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode != "wal":
                raise AuditStoreError(f"{self.path}: the filesystem does not support WAL (got {mode!r})")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("BEGIN IMMEDIATE")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                self._db.execute("ROLLBACK")
                raise AuditChainError(f"{self.path} has schema {version}, newer than this otgate's")
            for statement in _SCHEMA:
                self._db.execute(statement)
            self._db.execute("COMMIT")
        except sqlite3.Error as error:
            raise AuditStoreError(f"cannot prepare the audit trail {self.path}: {error}") from error

    def _check_tail(self) -> Checkpoint | None:
        rows = self._select(f"SELECT {_COLUMNS} FROM audit ORDER BY seq DESC LIMIT 2", ())
        if not rows:
            return None
        tail = _decode_row(rows[0])
        if not has_valid_hash(tail, self._key):
            raise AuditChainError(
                f"{self.path}: the last record (seq {tail.seq}) does not match its hash: the trail was "
                f"edited, or it was written with a different {AUDIT_KEY_ENV}; run `otgate audit verify`"
            )
        before = _decode_row(rows[1]) if len(rows) == 2 else None
        if before is not None and (tail.seq != before.seq + 1 or tail.prev_hash != before.hash):
            raise AuditChainError(
                f"{self.path}: the last record (seq {tail.seq}) does not follow seq {before.seq}; "
                "run `otgate audit verify`"
            )
        return Checkpoint(tail.seq, tail.hash)

    def _select(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        try:
            with self._db_lock:
                return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as error:
            raise AuditStoreError(f"cannot read the audit trail {self.path}: {error}") from error

    @property
    def head(self) -> Checkpoint | None:
        """The last record's seq and hash (None for an empty trail or a read-only store).

        Copied off-box now and then, it is a checkpoint that shows later truncation or rewriting.
        """
        return self._head

    def append(self, kind: str, actor: str, data: Mapping[str, Any], at: float) -> AuditRecord:
        """Record one event; durable when this returns. TypeError/ValueError for data that is not JSON-able."""
        return self.append_many([AuditEntry(kind, actor, data, at)])[0]

    def append_many(self, entries: Iterable[AuditEntry]) -> list[AuditRecord]:
        """Record several events in one transaction: all are durable when this returns, or none is written.

        Commits, in the same transaction, whatever was submitted before and is not yet durable."""
        records, done = self.submit(entries)
        self.flush()
        done.result()  # AuditStoreError when the commit that carried them failed
        return records

    def submit(self, entries: Iterable[AuditEntry]) -> tuple[list[AuditRecord], Future[None]]:
        """Chain `entries` now (their seqs and hashes are final) and queue them for the next `flush`.

        The future completes when they are durable, or with the AuditStoreError of the commit that failed.
        Group commit: one `flush` commits everything submitted until then in one transaction (one fsync)."""
        with self._lock:
            if self._read_only:
                raise AuditStoreError(f"{self.path} is open read-only")
            if self._failure is not None:
                raise AuditStoreError(f"the audit store failed earlier and must be reopened: {self._failure}")
            sealed = chain_texts(entries, self._head, self._key)  # a caller's bug raises here, nothing queued
            done: Future[None] = Future()
            if not sealed:
                done.set_result(None)
                return [], done
            records = [record for record, _ in sealed]
            rows = [(r.seq, r.at, r.kind, r.actor, text, r.prev_hash, r.hash) for r, text in sealed]
            self._pending.append((rows, done))
            self._head = Checkpoint(records[-1].seq, records[-1].hash)
            return records, done

    def flush(self) -> None:
        """Commit every submitted record not yet durable, in seq order, in one transaction."""
        with self._commit_lock:
            with self._lock:
                batch, self._pending = self._pending, []
                failure = self._failure
            if not batch:
                return
            if failure is not None:  # a gap must never reach the disk: nothing after a failed commit
                for _, done in batch:
                    done.set_exception(AuditStoreError(f"not written after an earlier failure: {failure}"))
                return
            try:
                # The state lock too: see the module docstring (the committing thread must not starve).
                with self._lock, self._db_lock:
                    self._insert([row for rows, _ in batch for row in rows])
            except BaseException as error:
                for _, done in batch:
                    done.set_exception(error)
                if not isinstance(error, AuditStoreError):
                    raise
                return
            for _, done in batch:
                done.set_result(None)

    def _insert(self, rows: list[tuple[Any, ...]]) -> None:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(f"INSERT INTO audit ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            self._db.execute("COMMIT")
        except BaseException as error:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
            # After a failed COMMIT we cannot be sure what reached the disk, and the chain's head is already
            # past these rows: refuse to go on from memory.
            failure = AuditStoreError(f"cannot append to the audit trail {self.path}: {error!r}")
            self._failure = failure
            if not isinstance(error, sqlite3.Error):
                raise
            raise failure from error

    def records(self, from_seq: int = 1) -> Iterator[AuditRecord]:
        """Records in seq order, read a page at a time (the lock is not held between pages)."""
        for row in self._rows(from_seq):
            yield _decode_row(row)

    def stored_records(self, from_seq: int = 1) -> Iterator[StoredRecord]:
        """Records in seq order as stored (data as its canonical text), each checked to be a record."""
        for row in self._rows(from_seq):
            yield _stored_row(row)[0]

    def _rows(self, from_seq: int) -> Iterator[tuple[Any, ...]]:
        next_seq = from_seq
        while True:
            rows = self._select(
                f"SELECT {_COLUMNS} FROM audit WHERE seq >= ? ORDER BY seq LIMIT {_PAGE}", (next_seq,)
            )
            yield from rows
            if len(rows) < _PAGE:
                return
            next_seq = int(rows[-1][0]) + 1

    def count(self) -> int:
        return int(self._select("SELECT count(*) FROM audit", ())[0][0])

    def first_seq_since(self, at: float) -> int:
        """The first seq recorded at or after `at` (one past the last when none), to read a recent tail."""
        rows = self._select("SELECT min(seq) FROM audit WHERE at >= ?", (at,))
        first = rows[0][0] if rows else None
        return int(first) if first is not None else self.count() + 1

    def verify(self, checkpoint: Checkpoint | None = None) -> Verification:
        """The whole chain from seq 1 (UnreadableRecordError if a row is not a record at all).

        Hashes each row's stored data text rather than re-encoding its decoded data (three times faster);
        the text is still parsed once, so a row whose data is not a JSON object is reported."""
        return verify(self.stored_records(), self._key, checkpoint=checkpoint)

    def close(self) -> None:
        with self._db_lock:
            self._db.close()

    def __enter__(self) -> AuditStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
