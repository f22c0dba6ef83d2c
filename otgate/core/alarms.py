"""The gateway's own alarms: one alarm per condition, with a priority and a count, never one per event.

ISA-18.2 practice: a condition that repeats counts up on its existing alarm instead of flooding the
operator; an alarm clears when its condition is gone and stays listed (inactive) until acknowledged.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


@dataclass
class Alarm:
    code: str
    message: str
    priority: str  # "high" | "medium" | "low"
    count: int = 1
    first_at: float = 0.0
    last_at: float = 0.0
    active: bool = True
    acknowledged_by: str | None = None


class AlarmBoard:
    def __init__(self) -> None:
        self.alarms: dict[str, Alarm] = {}

    def __contains__(self, code: object) -> bool:
        return code in self.alarms

    def __getitem__(self, code: str) -> Alarm:
        return self.alarms[code]

    def __iter__(self) -> Iterator[str]:
        return iter(self.alarms)

    def values(self) -> list[Alarm]:
        return list(self.alarms.values())

    def is_active(self, code: str) -> bool:
        alarm = self.alarms.get(code)
        return alarm is not None and alarm.active

    def raise_(self, code: str, message: str, priority: str, now: float) -> bool:
        """Raise or count up; True when the alarm is newly active (the caller records that once)."""
        alarm = self.alarms.get(code)
        if alarm is not None and alarm.active:
            alarm.count += 1
            alarm.last_at = now
            return False
        self.alarms[code] = Alarm(code, message, priority, 1, now, now)
        return True

    def clear(self, code: str) -> None:
        alarm = self.alarms.get(code)
        if alarm is not None:
            alarm.active = False

    def acknowledge(self, code: str, user: str) -> bool:
        alarm = self.alarms.get(code)
        if alarm is None:
            return False
        alarm.acknowledged_by = user
        return True
