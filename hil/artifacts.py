"""A run's raw artefacts on disk: the trace (CSV), the PLC write log, the audit trail and the events (JSONL).

These are what the report links to, and what anyone re-checking a verdict reads: every assertion is a
function of these four files.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from otgate.core.canonical_json import canonical_json
from otgate_hil.record import RunRecord


def _number(value: float) -> float | str:
    return value if math.isfinite(value) else repr(value)


def write_artifacts(record: RunRecord, directory: Path) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = {
        "trace": directory / "trace.csv",
        "plc_writes": directory / "plc_writes.jsonl",
        "audit": directory / "gw_audit.jsonl",
        "events": directory / "events.jsonl",
    }
    with paths["trace"].open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(record.columns)
        for row in record.rows:
            writer.writerow([repr(row.get(c, math.nan)) for c in record.columns])
    with paths["plc_writes"].open("w", encoding="utf-8") as handle:
        for w in record.writes:
            item = {
                "t": w.sim_time_s,
                "protocol": w.protocol,
                "tag": w.tag,
                "address": w.address,
                "value": _number(w.value),
                "accepted": w.accepted,
            }
            handle.write(json.dumps(item) + "\n")
    with paths["audit"].open("w", encoding="utf-8") as handle:
        for t, a in record.audit:
            handle.write(
                f'{{"t": {t!r}, "seq": {a.seq}, "at": {a.at!r}, "kind": {json.dumps(a.kind)}, '
                f'"actor": {json.dumps(a.actor)}, "data": {canonical_json(a.data)}, "hash": "{a.hash}"}}\n'
            )
    with paths["events"].open("w", encoding="utf-8") as handle:
        for e in record.events:
            handle.write(
                json.dumps({"t": e.t, "label": e.label, "action": e.action, "detail": e.detail}) + "\n"
            )
    return paths
