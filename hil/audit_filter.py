"""Which audit records an assertion means: `kind`, `actor` (prefix), `tag` (data.tag), `reason` (a decision
reason code), `contains` (text anywhere in the data) and `fields` (dotted paths and the values they equal).

    fields: {data.outcome: mismatch}             an approval refused for its digest
    fields: {data.event: manual_setpoint, data.verdict: rejected}
    fields: {actor: "operator:operator"}

A path that does not exist matches nothing. Numbers compare as numbers (1 equals 1.0).
"""

from __future__ import annotations

from typing import Any

from otgate.core.audit_chain import AuditRecord
from otgate.core.canonical_json import canonical_json
from otgate_hil.assertion_spec import AuditFilter

_MISSING = object()


def field_of(record: AuditRecord, path: str) -> Any:
    """The value at a dotted path: `kind`, `actor`, `seq`, `at`, or `data.<key>[.<key>...]`."""
    head, _, rest = path.partition(".")
    if head != "data":
        return (
            getattr(record, head, _MISSING)
            if not rest and head in {"kind", "actor", "seq", "at"}
            else _MISSING
        )
    value: Any = record.data
    for key in rest.split(".") if rest else []:
        if not isinstance(value, dict) or key not in value:
            return _MISSING
        value = value[key]
    return value


def _equal(found: Any, wanted: Any) -> bool:
    if isinstance(found, bool) or isinstance(wanted, bool):
        return found is wanted
    if isinstance(found, int | float) and isinstance(wanted, int | float):
        return float(found) == float(wanted)
    return bool(found == wanted)


def audit_matches(record: AuditRecord, spec: AuditFilter) -> bool:
    data = record.data
    if spec.kind is not None and record.kind != spec.kind:
        return False
    if spec.actor is not None and not record.actor.startswith(spec.actor):
        return False
    if spec.tag is not None and data.get("tag") != spec.tag:
        return False
    if spec.reason is not None:
        reasons = data.get("reasons") or []
        if not any(isinstance(r, dict) and r.get("code") == spec.reason for r in reasons):
            return False
    for path, wanted in spec.fields.items():
        found = field_of(record, path)
        if found is _MISSING or not _equal(found, wanted):
            return False
    return spec.contains is None or spec.contains in canonical_json(data)
