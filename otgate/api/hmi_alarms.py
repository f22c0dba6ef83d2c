"""The alarm views of the HMI (ISA-18.2): the live list sorted high priority first with its times, the
alarm history read from the trail, and new alarms per hour for alarm-flood review (ISA-18.2 counts a flood
at more than 10 new alarms in 10 minutes per operator; the hourly counts show where to look)."""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from otgate.core.alarms import Alarm, sort_key
from otgate.core.audit_chain import AuditKind, AuditRecord
from otgate.core.text import visible

LOG_LEN = 200
HOURS_SHOWN = 24
ALARM_EVENTS = {"acknowledge_alarm": "acknowledged", "shelve_alarm": "shelved", "unshelve_alarm": "unshelved"}


@dataclass
class AlarmLog:
    """Alarm events from the trail, newest first, and the number of new alarms per UTC hour."""

    events: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=LOG_LEN))
    per_hour: Counter[str] = field(default_factory=Counter)

    def apply(self, record: AuditRecord) -> None:
        data = record.data
        if record.kind == AuditKind.ALARM:
            self.per_hour[time.strftime("%Y-%m-%dT%H:00Z", time.gmtime(record.at))] += 1
            self._add(record, "raised", data.get("code"), data.get("priority"), "gateway")
        elif record.kind == AuditKind.OPERATOR_ACTION and data.get("event") in ALARM_EVENTS:
            self._add(record, ALARM_EVENTS[str(data.get("event"))], data.get("code"), None, record.actor)

    def _add(self, record: AuditRecord, event: str, code: Any, priority: Any, by: str) -> None:
        self.events.appendleft(
            {"at": record.at, "event": event, "code": visible(str(code)), "priority": priority, "by": by}
        )

    def hours(self) -> list[dict[str, Any]]:
        recent = sorted(self.per_hour.items())[-HOURS_SHOWN:]
        return [{"hour": hour, "count": n} for hour, n in reversed(recent)]


def alarm_views(alarms: Iterable[Alarm], now: float) -> list[dict[str, Any]]:
    """Sorted high priority first; a shelving past its expiry shows as over even before it is recorded."""
    return [
        {
            "code": a.code,
            "message": a.message,
            "priority": a.priority,
            "count": a.count,
            "active": a.active,
            "raised_at": a.first_at,
            "last_at": a.last_at,
            "acknowledged_by": a.acknowledged_by,
            "acknowledged_at": a.acknowledged_at,
            "cleared_at": None if a.active else a.cleared_at,
            "shelved": a.shelved_until is not None and a.shelved_until > now,
            "shelved_by": a.shelved_by,
            "shelved_reason": a.shelved_reason,
            "shelved_until": a.shelved_until,
            "shelvable": a.priority != "high",
        }
        for a in sorted(alarms, key=sort_key)
    ]
