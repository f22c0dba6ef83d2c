"""The gateway's own alarms: one alarm per condition, with a priority and a count, never one per event.

ISA-18.2 practice: a condition that repeats counts up on its existing alarm instead of flooding the
operator; an alarm clears when its condition is gone and stays listed (inactive) until acknowledged.

Shelving (ISA-18.2, REQUIREMENTS #26): an operator may hide a nuisance alarm for a bounded time with a
reason; it unshelves itself at expiry. Safety-class alarms (priority high: a lost link, an unconfirmed
fallback or write, a dead trail, the AI taken out of a loop) cannot be shelved — hiding them is exactly
how an operator misses the moment the AI was disengaged. Times are wall-clock (they are for people).
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
    acknowledged_at: float | None = None
    cleared_at: float | None = None
    shelved_by: str | None = None
    shelved_reason: str | None = None
    shelved_until: float | None = None


PRIORITY_ORDER = {"high": 0, "medium": 1, "low": 2}  # high first, as the operator must act on it first
MAX_SHELVE_S = 8 * 3600.0  # one shift at most: a shelved alarm must come back to someone
UNSHELVABLE_PRIORITIES = frozenset({"high"})


def shelve_refusal(alarm: Alarm, reason: str, duration_s: float) -> str | None:
    """Why this shelving is refused, or None when it may go ahead."""
    if alarm.priority in UNSHELVABLE_PRIORITIES:
        return "safety-class alarm (priority high): it cannot be shelved"
    if not reason.strip():
        return "a reason is required"
    if not 0 < duration_s <= MAX_SHELVE_S:
        return f"duration must be more than 0 and at most {MAX_SHELVE_S:g} s"
    return None


def sort_key(alarm: Alarm) -> tuple[int, bool, float]:
    """High priority first, then active before cleared, then the newest first."""
    return (PRIORITY_ORDER.get(alarm.priority, len(PRIORITY_ORDER)), not alarm.active, -alarm.last_at)


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

    def clear(self, code: str, now: float | None = None) -> None:
        alarm = self.alarms.get(code)
        if alarm is not None:
            if alarm.active:
                alarm.cleared_at = now
            alarm.active = False

    def acknowledge(self, code: str, user: str, now: float | None = None) -> bool:
        alarm = self.alarms.get(code)
        if alarm is None:
            return False
        alarm.acknowledged_by = user
        alarm.acknowledged_at = now
        return True

    def shelve(self, code: str, user: str, reason: str, until: float) -> None:
        alarm = self.alarms[code]
        alarm.shelved_by, alarm.shelved_reason, alarm.shelved_until = user, reason, until

    def unshelve_expired(self, now: float) -> list[tuple[str, str]]:
        """Unshelves every alarm whose shelving has run out; (code, who shelved it) of each, to record."""
        expired = [a for a in self.alarms.values() if a.shelved_until is not None and a.shelved_until <= now]
        done = []
        for alarm in expired:
            entry = (alarm.code, alarm.shelved_by or "")
            alarm.shelved_by = alarm.shelved_reason = alarm.shelved_until = None
            done.append(entry)
        return done
