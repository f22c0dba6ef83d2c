"""Audit record layout and hash chain: what makes the audit trail tamper-evident.

Each record is hashed over its canonical encoding, which includes the previous record's hash, so
changing, deleting, inserting or reordering any record breaks the chain at that record.

Canonical encoding (the bytes that are hashed). A JSON object with exactly these six members, keys
sorted, no whitespace, UTF-8::

    {"actor":<str>,"at":<float>,"data":<object>,"kind":<str>,"prev_hash":<64 hex>,"seq":<int>}

    seq=1, at=1700000000.25, kind="decision", actor="gateway",
    data={"tag": "TIC-101.sp", "value": 12.5, "verdict": "accepted"}, prev_hash=GENESIS_HASH
    -> {"actor":"gateway","at":1700000000.25,"data":{"tag":"TIC-101.sp","value":12.5,
        "verdict":"accepted"},"kind":"decision","prev_hash":"000…000","seq":1}   (one line)
    -> hash, no key:  SHA-256(bytes), lower-case hex
       d351b46bdcee13c4a1e558965134c5340e7c1e844c67762b57aa6daf215f3d2c
    -> hash, key b"otgate-test-key":  HMAC-SHA-256(key, bytes) (RFC 2104)
       dc674f42f2bfc5f3c0e96d883ffb46fa92e21f0c2b6ae965c866e2d9f138da23

JSON rules, so that one record has exactly one encoding: `otgate.core.canonical_json`.

`seal` stores the *normalised* data (the JSON value that the encoding describes: plain dicts and lists,
non-finite floats as strings) so that a record read back from storage equals the record that was written.

Chain. The first record has seq 1 and prev_hash `GENESIS_HASH` (64 zeros); record n+1 has seq n+1 and
prev_hash = record n's hash. Without a key anyone can recompute a consistent chain after editing it, so
the unkeyed chain shows accidents and naive edits; a forger is caught only with the HMAC key (kept away
from the AI side) or by comparing the head with a checkpoint kept elsewhere (`verify(checkpoint=...)`).
Deleting records at the end of the trail is only visible against such a checkpoint.

HMAC is written out here (RFC 2104 over hashlib) because the core imports no module outside its allowance;
the tests check it against the RFC 4231 vectors and the standard library's `hmac`.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from otgate.core.canonical_json import canonical_json, encode_str, non_finite, normal_text, normalize

GENESIS_HASH = "0" * 64
_HEX64 = re.compile(r"[0-9a-f]{64}")


class AuditKind(StrEnum):
    CONFIG_LOAD = "config_load"
    GATEWAY_START = "gateway_start"
    GATEWAY_STOP = "gateway_stop"
    RECOMMENDATION = "recommendation"
    DECISION = "decision"
    PLC_WRITE = "plc_write"
    WRITE_CONFIRMED = "write_confirmed"
    WRITE_FAILED = "write_failed"
    MODE_CHANGE = "mode_change"
    AUTONOMY_CHANGE = "autonomy_change"
    ANOMALY = "anomaly"
    ALARM = "alarm"
    OPERATOR_ACTION = "operator_action"
    APPROVAL = "approval"
    LOGIN = "login"
    SELFTEST = "selftest"  # a signed site acceptance self-test report (otgate selftest)
    ENGINE_READ = "engine_read"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """What a caller wants recorded; the store gives it a seq and chains it."""

    kind: str
    actor: str  # "gateway", "engine:<name>", "operator:<user>", ...
    data: Mapping[str, Any]
    at: float  # UTC epoch seconds


@dataclass(frozen=True, slots=True)
class AuditRecord:
    seq: int
    at: float  # UTC epoch seconds
    kind: str
    actor: str
    data: Mapping[str, Any]  # normalised JSON value (see module docstring)
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A record as the store holds it: `data_text` is the canonical JSON text of its data, as written.

    A verifier hashes this text as it is instead of decoding and re-encoding it: the text is what the hash
    was computed over, so any edit to it, even one to an equivalent JSON spelling, breaks the hash."""

    seq: int
    at: float
    kind: str
    actor: str
    data_text: str
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A chain head recorded somewhere the trail's writer cannot rewrite (off-box, printed, signed)."""

    seq: int
    hash: str


@dataclass(frozen=True, slots=True)
class Verification:
    """Outcome of `verify`. `count` is how many records verified before the first problem (all when ok).

    `warnings` name things that do not break the chain but an auditor should see (the clock stepping back).
    """

    ok: bool
    count: int
    first_bad_seq: int | None = None
    problem: str = ""
    last: Checkpoint | None = None  # the head of the verified prefix
    warnings: tuple[str, ...] = field(default=())


def canonical_bytes(
    seq: int, at: float, kind: str, actor: str, data: Mapping[str, Any], prev_hash: str
) -> bytes:
    """The bytes a record's hash covers."""
    body = {"seq": seq, "at": float(at), "kind": kind, "actor": actor, "data": data, "prev_hash": prev_hash}
    return canonical_json(body).encode("utf-8")


# -- hashing ---------------------------------------------------------------------------------------

_BLOCK = 64  # SHA-256 block size in bytes


class _Digester:
    """SHA-256 or HMAC-SHA-256 (RFC 2104) with the padded key hashed once, not once per record."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes | None) -> None:
        self._inner = hashlib.sha256()
        self._outer: hashlib._Hash | None = None
        if key is None:
            return
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def hexdigest(self, message: bytes) -> str:
        inner = self._inner.copy()
        inner.update(message)
        if self._outer is None:
            return inner.hexdigest()
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


@functools.lru_cache(maxsize=8)
def _digester(key: bytes | None) -> _Digester:
    """One per key: the padded key is hashed once per process, not once per append (it is only copied)."""
    return _Digester(key)


def compute_hash(canonical: bytes, key: bytes | None) -> str:
    """SHA-256 of `canonical`, or HMAC-SHA-256 with `key`; lower-case hex."""
    return _digester(key).hexdigest(canonical)


def stored_bytes(record: StoredRecord) -> bytes:
    """The bytes a stored record's hash covers: `canonical_bytes` with the stored data text spliced in.

    The members are written in the canonical (sorted) key order: actor, at, data, kind, prev_hash, seq.
    Each scalar is encoded as `canonical_json` would, without its type dispatch (this runs per record)."""
    return _spliced(record.seq, record.at, record.kind, record.actor, record.data_text, record.prev_hash)


def _spliced(seq: int, at: float, kind: str, actor: str, data_text: str, prev_hash: str) -> bytes:
    at = float(at)
    at_text = float.__repr__(at) if math.isfinite(at) else encode_str(non_finite(at))
    return (
        f'{{"actor":{encode_str(actor)},"at":{at_text},"data":{data_text},'
        f'"kind":{encode_str(kind)},"prev_hash":{encode_str(prev_hash)},'
        f'"seq":{int.__repr__(seq)}}}'
    ).encode()


def _record_hash(digester: _Digester, record: AuditRecord | StoredRecord) -> str:
    if isinstance(record, StoredRecord):
        return digester.hexdigest(stored_bytes(record))
    return digester.hexdigest(
        canonical_bytes(record.seq, record.at, record.kind, record.actor, record.data, record.prev_hash)
    )


def has_valid_hash(record: AuditRecord, key: bytes | None) -> bool:
    """True when the record's hash matches its own contents (says nothing about its neighbours)."""
    return _record_hash(_digester(key), record) == record.hash


# -- building the chain ----------------------------------------------------------------------------


def chain(entries: Iterable[AuditEntry], head: Checkpoint | None, key: bytes | None) -> list[AuditRecord]:
    """Seal `entries` as the records that follow `head` (None: start a new trail at seq 1)."""
    return [record for record, _ in chain_texts(entries, head, key)]


def chain_texts(
    entries: Iterable[AuditEntry], head: Checkpoint | None, key: bytes | None
) -> list[tuple[AuditRecord, str]]:
    """`chain`, each record with the canonical text of its data (what a store keeps, encoded once)."""
    digester = _digester(key)
    seq, prev_hash = (0, GENESIS_HASH) if head is None else (head.seq, head.hash)
    records = []
    for entry in entries:
        at = float(entry.at)
        if not math.isfinite(at):
            raise ValueError(f"audit timestamp must be finite, got {entry.at!r}")
        seq += 1
        kind, actor, data = str(entry.kind), str(entry.actor), normalize(entry.data)
        if not isinstance(data, dict):
            raise TypeError(f"audit data must be a mapping, got {type(entry.data).__name__}")
        text = normal_text(data)  # encoded once, for the hash (spliced) and for the store
        digest = digester.hexdigest(_spliced(seq, at, kind, actor, text, prev_hash))
        records.append((AuditRecord(seq, at, kind, actor, data, prev_hash, digest), text))
        prev_hash = digest
    return records


def seal(entry: AuditEntry, head: Checkpoint | None, key: bytes | None) -> AuditRecord:
    """The one record that follows `head`."""
    return chain([entry], head, key)[0]


# -- verifying -------------------------------------------------------------------------------------


Link = AuditRecord | StoredRecord


def _link_problem(record: Link, previous: Link | None) -> str:
    """What is wrong with how `record` follows `previous` ("" when nothing)."""
    expected_seq = 1 if previous is None else previous.seq + 1
    if previous is not None and record.seq <= previous.seq:
        return f"seq {record.seq} does not increase after {previous.seq} (records reordered or duplicated)"
    if record.seq != expected_seq:
        return f"seq {record.seq} where {expected_seq} was expected (records deleted, inserted or reordered before it)"
    expected_prev = GENESIS_HASH if previous is None else previous.hash
    if record.prev_hash != expected_prev:
        what = "the genesis hash" if previous is None else f"record {previous.seq}'s hash"
        return f"prev_hash is not {what} (a record deleted, inserted or moved here)"
    return ""


def _own_problem(digester: _Digester, record: Link, keyed: bool) -> str:
    if not _HEX64.fullmatch(record.hash):
        return "hash is not 64 lower-case hex digits (record modified)"
    if _record_hash(digester, record) != record.hash:
        if keyed:
            return "hash does not match the record's contents (record modified, or not the key it was written with)"
        return "hash does not match the record's contents (record modified, or written with a key: set OTGATE_AUDIT_HMAC_KEY)"
    return ""


def _clock_warning(record: Link, previous: Link | None) -> str:
    if previous is None or record.at >= previous.at:
        return ""
    step = previous.at - record.at
    return f"record {record.seq}: timestamp {step:.3f} s earlier than record {previous.seq}'s (clock stepped back)"


def verify(
    records: Iterable[AuditRecord] | Iterable[StoredRecord],
    key: bytes | None,
    *,
    checkpoint: Checkpoint | None = None,
) -> Verification:
    """Check a whole trail, from seq 1, in the order given; stop at the first bad record.

    Records may be decoded (`AuditRecord`, re-encoded to hash) or as stored (`StoredRecord`, the stored
    data text hashed as it is: the store's own verify, about three times faster).

    With `checkpoint`, the trail must also contain that record with that hash, which shows a trail
    truncated or rewritten (even consistently, without the key) up to the checkpoint.
    """
    digester = _digester(key)
    previous: Link | None = None
    count, warnings = 0, list[str]()
    checkpoint_seen = checkpoint is None
    for record in records:
        problem = _link_problem(record, previous) or _own_problem(digester, record, key is not None)
        if not problem and checkpoint is not None and record.seq == checkpoint.seq:
            checkpoint_seen = True
            if record.hash != checkpoint.hash:
                problem = f"hash differs from the checkpoint's {checkpoint.hash} (trail rewritten)"
        if problem:
            last = None if previous is None else Checkpoint(previous.seq, previous.hash)
            return Verification(False, count, record.seq, problem, last, tuple(warnings))
        if warning := _clock_warning(record, previous):
            warnings.append(warning)
        previous, count = record, count + 1
    last = None if previous is None else Checkpoint(previous.seq, previous.hash)
    if not checkpoint_seen and checkpoint is not None:
        problem = (
            f"trail ends at seq {count} before checkpoint seq {checkpoint.seq} (records deleted at the end)"
        )
        return Verification(False, count, count + 1, problem, last, tuple(warnings))
    return Verification(True, count, None, "", last, tuple(warnings))
