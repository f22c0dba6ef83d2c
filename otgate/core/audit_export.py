"""Shipped audit lines: the JSON Lines and RFC 5424 layouts of an exported record, parsed back and
verified as a segment of the chain.

JSON line (one record, ASCII, members in this order)::

    {"gateway":"ot-srv-1/tank","seq":7,"at":1700000000.25,"kind":"decision","actor":"gateway",
     "data":{...},"prev_hash":"<64 hex>","hash":"<64 hex>"}

`gateway` names the trail (host and plant) so lines from many zones can share one SIEM index; it is not
part of the hashed record. Every other member is the record as hashed (canonical JSON values), so a
reader can recompute each hash (`otgate audit verify --jsonl FILE`).

RFC 5424 line (the same JSON line as MSG; facility 13 "log audit", severity 5 "notice": PRI 109)::

    <109>1 2023-11-14T22:13:20.250000Z ot-srv-1 otgate - decision [otgate@32473 gateway="ot-srv-1/tank"
     seq="7" hash="<64 hex>"] {"gateway":...}

32473 is the private enterprise number RFC 5612 reserves for documentation; the SD-ID is informative and
the receiver verifies from MSG alone.

A shipped file may start anywhere in the trail (a resumed export, a rotated file): `verify_segment` checks
each record's own hash and that each record links to the one before it in the file; a segment starting at
seq 1 must also start from the genesis hash.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from otgate.core.audit_chain import GENESIS_HASH, AuditRecord, has_valid_hash
from otgate.core.canonical_json import canonical_json

SYSLOG_PRI = 13 * 8 + 5
SD_ID = "otgate@32473"
_MSGID = re.compile(r"[^\x21-\x7e]")


def _ascii(line: str) -> str:
    """Non-ASCII as \\u escapes (astral characters as surrogate pairs, as JSON spells them): a log reader
    sees a look-alike character for what it is, and the line parses back to the hashed data."""
    if line.isascii():
        return line
    out = []
    for char in line:
        code = ord(char)
        if code < 0x80:
            out.append(char)
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            code -= 0x10000
            out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
    return "".join(out)


def jsonl_line(record: AuditRecord, gateway: str) -> str:
    fields: tuple[tuple[str, Any], ...] = (
        ("gateway", gateway),
        ("seq", record.seq),
        ("at", record.at),
        ("kind", record.kind),
        ("actor", record.actor),
        ("data", record.data),
        ("prev_hash", record.prev_hash),
        ("hash", record.hash),
    )
    return _ascii("{" + ",".join(f'"{name}":{canonical_json(value)}' for name, value in fields) + "}")


def _sd_value(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def rfc5424_line(record: AuditRecord, gateway: str, hostname: str, stamp: str) -> str:
    """`stamp`: the record's `at` as an RFC 3339 UTC timestamp (the shell formats it)."""
    msgid = _MSGID.sub("_", record.kind)[:32] or "-"
    host = _MSGID.sub("_", hostname)[:255] or "-"
    sd = f'[{SD_ID} gateway="{_sd_value(gateway)}" seq="{record.seq}" hash="{record.hash}"]'
    return f"<{SYSLOG_PRI}>1 {stamp} {host} otgate - {msgid} {sd} {jsonl_line(record, gateway)}"


@dataclass(frozen=True)
class ShippedRecord:
    gateway: str
    record: AuditRecord


@dataclass(frozen=True)
class SegmentVerification:
    ok: bool
    count: int
    first_seq: int | None = None
    last_seq: int | None = None
    problem: str = ""  # with the line number, when not ok


def verify_segment(
    lines: Iterable[tuple[int, ShippedRecord | str]], key: bytes | None
) -> SegmentVerification:
    """Check a shipped file, given as (line number, parsed record or why the line is not one): every line
    a record of one gateway, each hash right, each link unbroken."""
    previous: ShippedRecord | None = None
    first: int | None = None
    count = 0
    for number, shipped in lines:
        if isinstance(shipped, str):
            return SegmentVerification(False, count, first, _seq(previous), f"line {number}: {shipped}")
        problem = _segment_problem(shipped, previous, key)
        if problem:
            return SegmentVerification(False, count, first, _seq(previous), f"line {number}: {problem}")
        first = shipped.record.seq if first is None else first
        previous, count = shipped, count + 1
    return SegmentVerification(True, count, first, _seq(previous))


def _seq(shipped: ShippedRecord | None) -> int | None:
    return None if shipped is None else shipped.record.seq


def _segment_problem(shipped: ShippedRecord, previous: ShippedRecord | None, key: bytes | None) -> str:
    record = shipped.record
    if previous is not None and shipped.gateway != previous.gateway:
        return f"gateway {shipped.gateway!r} after {previous.gateway!r} (two trails mixed in one file)"
    if previous is not None and record.seq != previous.record.seq + 1:
        return f"seq {record.seq} after {previous.record.seq} (records lost, duplicated or reordered)"
    expected_prev = (
        previous.record.hash
        if previous is not None
        else GENESIS_HASH
        if record.seq == 1
        else record.prev_hash
    )
    if record.prev_hash != expected_prev:
        return f"record {record.seq}: prev_hash does not match the record before it (chain broken)"
    if not has_valid_hash(record, key):
        return f"record {record.seq}: hash does not match its contents (modified, or another key)"
    return ""
