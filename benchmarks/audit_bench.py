"""`audit`: durable appends per second and `verify` records per second, each against the bare SQLite floor.

- `audit_appends`: durable single-record appends per second as the gateway's AI path makes them: each
  one decision-sized record awaited until durable (`await AuditWriter.append_many([entry])`), from
  `producers` concurrent callers (HTTP requests in flight); the writer thread's group commit lets one
  fsync cover every append submitted while the previous one ran. Baseline: the same INSERT of an
  already-serialised row, one transaction each, on a bare sqlite3 connection with the store's settings
  (WAL, synchronous=FULL) in the same directory. Samples: the rate of each of `chunks` runs of `appends`.
- `audit_appends_sync`: `AuditStore.append` of one record per transaction, one caller (one fsync each:
  the synchronous path of operator actions and PLC writes; what is left against the baseline is
  chaining, canonical JSON and HMAC).
- `audit_appends_batch10`: `append_many` of 10 records per transaction (an HTTP batch; records/s).
- `audit_verify`: `AuditStore.verify()` of a `records`-record HMAC-keyed trail (read every row, decode
  its JSON, rebuild its canonical bytes, HMAC, check the link). Baseline: read the same rows and HMAC
  each row's stored bytes once, compared with its stored hash (the I/O and crypto no verifier avoids).

The directory is a temporary one under `--dir` (default: the system temp dir): durability costs the
disk's fsync latency, so measure on the filesystem the gateway's data_dir will use.

    .venv/bin/python -m benchmarks.audit_bench [--dir DIR] [--records N]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import sqlite3
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.figure import Figure, figure
from otgate.audit.store import AUDIT_FILE, AuditStore
from otgate.audit.writer import AuditWriter
from otgate.core.audit_chain import AuditEntry, AuditKind
from otgate.core.canonical_json import canonical_json

KEY = b"benchmark key, 32 bytes or more...."
_INSERT = "INSERT INTO audit (seq, at, kind, actor, data, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)"
_TABLE = (
    "CREATE TABLE audit (seq INTEGER PRIMARY KEY, at REAL NOT NULL, kind TEXT NOT NULL,"
    " actor TEXT NOT NULL, data TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)"
)


@dataclass(frozen=True)
class Size:
    appends: int = 400
    producers: int = 16
    chunks: int = 7
    records: int = 100_000
    verifies: int = 3
    directory: Path | None = None


TINY = Size(appends=10, producers=3, chunks=2, records=50, verifies=2)


def _data(i: int) -> dict[str, Any]:
    # About the size of a decision record: a tag, values, reasons and an engine/model identity.
    return {
        "proposal_id": f"rec-{i:08d}",
        "tag": "TIC-101.sp",
        "value": 351.25 + i % 7,
        "verdict": "rejected",
        "reasons": [{"code": "MOVE_TOO_LARGE", "detail": "move 12.0 K exceeds 5.0 K"}],
        "engine": "optimizer-1",
        "model": {"name": "mpc", "version": "2.3.1", "digest": "sha256:" + "ab" * 32},
    }


def _entry(i: int) -> AuditEntry:
    return AuditEntry(AuditKind.DECISION, "engine:optimizer-1", _data(i), 1.7e9 + i * 0.01)


def _rate(count: int, started: float) -> float:
    return count / (time.perf_counter() - started)


def appends_per_s(root: Path | None, appends: int, batch: int = 1) -> float:
    with tempfile.TemporaryDirectory(dir=root) as tmp, AuditStore(tmp, KEY) as store:
        store.append(AuditKind.GATEWAY_START, "gateway", {}, 1.7e9)  # create the file before timing
        started = time.perf_counter()
        for b in range(appends // batch):
            if batch == 1:
                store.append(AuditKind.DECISION, "engine:optimizer-1", _data(b), 1.7e9 + b)
            else:
                store.append_many([_entry(b * batch + i) for i in range(batch)])
        return _rate(appends // batch * batch, started)


def grouped_appends_per_s(root: Path | None, appends: int, producers: int) -> float:
    """Single-record appends, each awaited until durable, from `producers` concurrent callers."""

    async def produce(writer: AuditWriter, first: int) -> None:
        for i in range(first, appends, producers):
            await writer.append_many(
                [AuditEntry(AuditKind.DECISION, "engine:optimizer-1", _data(i), 1.7e9 + i)]
            )

    async def all_of(writer: AuditWriter) -> float:
        started = time.perf_counter()
        await asyncio.gather(*(produce(writer, p) for p in range(producers)))
        return _rate(appends, started)

    with tempfile.TemporaryDirectory(dir=root) as tmp, AuditStore(tmp, KEY) as store:
        store.append(AuditKind.GATEWAY_START, "gateway", {}, 1.7e9)  # create the file before timing
        writer = AuditWriter(store)
        try:
            return asyncio.run(all_of(writer))
        finally:
            writer.close()


def bare_appends_per_s(root: Path | None, appends: int) -> float:
    """One pre-serialised INSERT per transaction, same journal and sync settings as the store."""
    text = canonical_json(_data(0))
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        db = sqlite3.connect(Path(tmp) / AUDIT_FILE, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute(_TABLE)
            started = time.perf_counter()
            for i in range(appends):
                db.execute("BEGIN IMMEDIATE")
                db.execute(_INSERT, (i + 1, 1.7e9 + i, "decision", "engine:x", text, "0" * 64, "f" * 64))
                db.execute("COMMIT")
            return _rate(appends, started)
        finally:
            db.close()


def build_trail(directory: Path, records: int) -> None:
    with AuditStore(directory, KEY) as store:
        for start in range(0, records, 1000):
            store.append_many([_entry(i) for i in range(start, min(records, start + 1000))])


def verify_per_s(directory: Path, records: int) -> float:
    with AuditStore(directory, KEY, read_only=True) as store:
        started = time.perf_counter()
        result = store.verify()
        rate = _rate(records, started)
    if not result.ok or result.count != records:
        raise RuntimeError(f"benchmark trail did not verify: {result}")
    return rate


def bare_verify_per_s(directory: Path, records: int) -> float:
    """Read every row and HMAC its stored bytes once: the floor of any verifier of this file."""
    uri = (directory / AUDIT_FILE).resolve().as_uri() + "?mode=ro"
    db = sqlite3.connect(uri, uri=True)
    try:
        started = time.perf_counter()
        checked = 0
        for seq, at, kind, actor, data, prev_hash, stored in db.execute(
            "SELECT seq, at, kind, actor, data, prev_hash, hash FROM audit ORDER BY seq"
        ):
            message = f"{seq}|{at!r}|{kind}|{actor}|{data}|{prev_hash}".encode()
            digest = hmac.new(KEY, message, hashlib.sha256).hexdigest()
            hmac.compare_digest(digest, stored)  # the comparison's cost; the message is not the real one
            checked += 1
        rate = _rate(checked, started)
    finally:
        db.close()
    if checked != records:
        raise RuntimeError(f"bare verify read {checked} rows, expected {records}")
    return rate


def run(size: Size = Size()) -> list[Figure]:
    root = size.directory
    ours: list[float] = []
    bare: list[float] = []
    batched: list[float] = []
    single: list[float] = []
    for _ in range(size.chunks):  # interleaved, so that a slow spell of the disk hits all alike
        ours.append(grouped_appends_per_s(root, size.appends, size.producers))
        bare.append(bare_appends_per_s(root, size.appends))
        single.append(appends_per_s(root, size.appends))
        batched.append(appends_per_s(root, size.appends, batch=10))
    figures = [
        figure(
            "audit_appends",
            "records/s",
            ours,
            bare,
            target=5_000.0,
            what=(
                f"durable single-record appends/s, each awaited, {size.producers} concurrent callers"
                " (writer thread, group commit)"
            ),
            extra={"producers": size.producers},
        ),
        figure(
            "audit_appends_sync",
            "records/s",
            single,
            bare,
            what="durable appends/s, one caller, one decision record per fsynced transaction",
        ),
        figure(
            "audit_appends_batch10",
            "records/s",
            batched,
            bare,
            what="durable records/s appended 10 per transaction (baseline: bare single-row commits)",
        ),
    ]
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        build_trail(Path(tmp), size.records)
        mb = (Path(tmp) / AUDIT_FILE).stat().st_size / 1e6
        verified: list[float] = []
        floor: list[float] = []
        for _ in range(size.verifies):
            verified.append(verify_per_s(Path(tmp), size.records))
            floor.append(bare_verify_per_s(Path(tmp), size.records))
    figures.append(
        figure(
            "audit_verify",
            "records/s",
            verified,
            floor,
            target=100_000.0,
            what=f"records/s verified, {size.records}-record HMAC-keyed trail ({mb:.0f} MB)",
            extra={"records": size.records, "file_mb": round(mb, 1)},
        )
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--records", type=int, default=Size.records)
    args = parser.parse_args()
    figures = run(Size(records=args.records, directory=args.dir))
    print(json.dumps([f.as_json() for f in figures], indent=2))


if __name__ == "__main__":
    main()
