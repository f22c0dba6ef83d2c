"""What a run leaves behind (`RunRecord`), and its fingerprint (`trace_hash`).

Assertions, plots, reports and artefacts read only a `RunRecord`: the trace rows (simulator-side truth),
the events as applied, the PLC's write log and the audit trail with the tick each record was written in.
"""

from __future__ import annotations

import hashlib
import math
import struct
from dataclasses import dataclass, field
from pathlib import Path

from otgate.audit.store import AuditStore
from otgate.core.audit_chain import AuditRecord
from otgate.core.canonical_json import canonical_json
from otgate_hil.scenario import Scenario
from otgate_simulator.frame_faults import Delivery
from otgate_simulator.simulation import WriteRecord


@dataclass(frozen=True)
class Event:
    t: float
    label: str
    action: str
    detail: str = ""


@dataclass
class RunRecord:
    """Everything a run leaves behind; assertions and reports read only this."""

    scenario: Scenario
    subject: str
    protocol: str
    columns: list[str]
    rows: list[dict[str, float]]
    events: list[Event]
    writes: list[WriteRecord]
    audit: list[tuple[float, AuditRecord]]  # (simulated time of the tick it was written in, record)
    statuses: dict[int, int] = field(default_factory=dict)  # HTTP status -> count
    proposals: list[tuple[float, str, float]] = field(default_factory=list)  # (t, tag, value) sent
    ports: tuple[int, ...] = ()  # the run's ephemeral TCP ports, masked in the hash
    deliveries: list[Delivery] = field(default_factory=list)  # write frames through the frame gate
    latencies_s: list[float] = field(default_factory=list)  # wall time per POST (not in the hash)
    wall_s: float = 0.0
    peak_rss_mb: float = 0.0  # the process's peak resident set after the run (not in the hash)
    trace_sha256: str = ""

    def event_times(self, label: str) -> list[float]:
        return [e.t for e in self.events if e.label == label]


def read_audit(data_dir: Path, marks: list[tuple[int, float]]) -> list[tuple[float, AuditRecord]]:
    """Every record of the trail, each with the simulated time of the tick it was written in."""
    store = AuditStore(data_dir, None, read_only=True)
    try:
        records = list(store.records())
    finally:
        store.close()
    out: list[tuple[float, AuditRecord]] = []
    index = 0
    for record in records:
        while index < len(marks) and marks[index][0] < record.seq:
            index += 1
        t = marks[index][1] if index < len(marks) else (marks[-1][1] if marks else 0.0)
        out.append((t, record))
    return out


def trace_hash(record: RunRecord) -> str:
    """SHA-256 over the trace, the PLC write log, the events and the audit trail's content (ports masked)."""
    digest = hashlib.sha256()
    digest.update("\x1f".join(record.columns).encode())
    for row in record.rows:
        digest.update(
            struct.pack(f"<{len(record.columns)}d", *(row.get(c, math.nan) for c in record.columns))
        )
    for w in record.writes:
        digest.update(
            f"{w.sim_time_s!r}|{w.protocol}|{w.tag}|{w.address}|{w.value!r}|{w.accepted}\n".encode()
        )
    for d in record.deliveries:
        digest.update(f"{d.frame}|{d.sent_s!r}|{d.delivered_s!r}|{d.function}|{d.address}\n".encode())
    for e in record.events:
        digest.update(f"{e.t!r}|{e.label}|{e.action}|{e.detail}\n".encode())
    for t, a in record.audit:
        text = canonical_json(a.data)
        for port in record.ports:  # error details name host:port, and port 0 binds a new one every run
            text = text.replace(f":{port}", ":<port>")
        digest.update(f"{t!r}|{a.seq}|{a.at!r}|{a.kind}|{a.actor}|{text}\n".encode())
    return digest.hexdigest()
