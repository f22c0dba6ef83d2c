"""What the HMI shows: one JSON-able view of the plant, the recent AI traffic and the trends.

The view is read from the gateway's public state and from the audit trail (the only place the last
recommendation and decision per tag are kept). The trail is read incrementally in a worker thread and
only its tail when it grows fast (an AI flood must not make the operator's page slow). AI rationale is
carried as opaque text; the page renders it escaped and labelled "AI-generated, unverified".
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from otgate.api.hmi_alarms import AlarmLog, alarm_views
from otgate.api.hmi_loop_detail import HISTORY_LEN, interlock_views, loop_actions, trend_lines
from otgate.api.hmi_prediction import loop_prediction
from otgate.core.approval import AwaitingApproval
from otgate.core.audit_chain import AuditKind, AuditRecord
from otgate.core.modes import PlcMode
from otgate.core.text import visible
from otgate.runtime.view import GatewayView

TREND_WINDOW_S = 600.0
TREND_POINTS = 1200
CATCH_UP_MAX_RECORDS = 2000  # per refresh; beyond that only the newest records are read
RATIONALE_MAX_CHARS = 2000  # shown; the trail keeps the whole text
MAX_APPROVALS_SHOWN = 50


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


@dataclass
class Trends:
    """PV and working SP of every loop, one point per scan, over the last `TREND_WINDOW_S`."""

    points: dict[str, deque[tuple[float, float | None, float | None]]] = field(default_factory=dict)
    last_taken_at: float = -math.inf

    def sample(self, view: GatewayView) -> bool:
        snapshot = view.snapshot
        if not math.isfinite(snapshot.taken_at) or snapshot.taken_at <= self.last_taken_at:
            return False
        self.last_taken_at = snapshot.taken_at
        good = {k: v for k, v in snapshot.values.items() if k not in snapshot.bad_quality}
        for name, loop in view.config.loops.items():
            series = self.points.setdefault(name, deque(maxlen=TREND_POINTS))
            # Plotted against the wall clock (people read dates); kept for the window on the same clock.
            series.append(
                (snapshot.stamped_at, _finite(good.get(loop.pv)), _finite(good.get(loop.working_sp)))
            )
            while series and snapshot.stamped_at - series[0][0] > TREND_WINDOW_S:
                series.popleft()
        return True

    def as_dict(self) -> dict[str, list[list[float | None]]]:
        return {
            name: [[t for t, _, _ in s], [pv for _, pv, _ in s], [sp for _, _, sp in s]]
            for name, s in self.points.items()
        }

    def latest(self) -> dict[str, list[float | None]]:
        return {name: list(s[-1]) for name, s in self.points.items() if s}


@dataclass
class RecentTraffic:
    """The last recommendation, decision, approval and confirmed write per tag, read from the trail."""

    by_tag: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The last few per tag, newest first (the same entries, so a later decision or approval shows in both).
    history: dict[str, deque[dict[str, Any]]] = field(default_factory=dict)
    tag_of_id: dict[str, str] = field(default_factory=dict)
    alarm_log: AlarmLog = field(default_factory=AlarmLog)
    next_seq: int = 1

    def read_new(self, view: GatewayView) -> list[AuditRecord]:
        """New trail records since the last call (blocking I/O: call it from a worker thread)."""
        head = view.audit_head
        if head is None or head.seq < self.next_seq:
            return []
        start = max(self.next_seq, head.seq - CATCH_UP_MAX_RECORDS + 1)
        records = [r for r in view.records(start) if r.seq <= head.seq]
        self.next_seq = head.seq + 1
        return records

    def apply(self, record: AuditRecord) -> None:
        data = record.data
        self.alarm_log.apply(record)
        if record.kind == AuditKind.RECOMMENDATION:
            tag = str(data.get("tag", ""))
            self._remember(str(data.get("id", "")), tag)
            entry = self.by_tag[tag] = {
                "id": data.get("id"),
                "engine": record.actor.removeprefix("engine:"),
                "value": data.get("value"),
                "at": record.at,
                "rationale": _clip(data.get("rationale")),
                "decision": None,
                "reasons": [],
                "written_value": None,
                "approval": None,
            }
            self.history.setdefault(tag, deque(maxlen=HISTORY_LEN)).appendleft(entry)
        elif record.kind == AuditKind.DECISION:
            self._on_decision(data)
        elif record.kind == AuditKind.APPROVAL:
            approved = self._entry_for(str(data.get("id", "")))
            if approved is not None:
                approved["approval"] = {"outcome": data.get("outcome"), "by": record.actor}
        elif record.kind == AuditKind.WRITE_CONFIRMED:
            self.by_tag.setdefault(str(data.get("tag", "")), {})["confirmed"] = {
                "value": data.get("value"),
                "at": record.at,
            }

    def _on_decision(self, data: Any) -> None:
        entry = self._entry_for(str(data.get("id", "")))
        if entry is None:
            return
        entry["decision"] = data.get("decision")
        entry["reasons"] = list(data.get("reasons") or [])
        entry["written_value"] = data.get("value")
        entry["revalidated"] = bool(data.get("revalidation"))

    def _entry_for(self, proposal_id: str) -> dict[str, Any] | None:
        tag = self.tag_of_id.get(proposal_id)
        shown = self.history.get(tag, ()) if tag is not None else ()
        return next((entry for entry in shown if entry.get("id") == proposal_id), None)

    def _remember(self, proposal_id: str, tag: str) -> None:
        self.tag_of_id[proposal_id] = tag
        if len(self.tag_of_id) > 4 * max(1, len(self.by_tag)) + 100:  # keep only ids still shown
            shown = {str(e.get("id")) for entries in self.history.values() for e in entries}
            self.tag_of_id = {i: t for i, t in self.tag_of_id.items() if i in shown or i == proposal_id}


def _clip(text: Any) -> str | None:
    if text is None:
        return None
    shown = visible(str(text))  # look-alike and invisible characters escaped (otgate.core.text)
    return shown if len(shown) <= RATIONALE_MAX_CHARS else shown[:RATIONALE_MAX_CHARS] + " [...]"


def plc_mode_name(value: float | None) -> str | None:
    if value is None or not math.isfinite(value):
        return None
    try:
        return PlcMode(int(value)).name
    except ValueError:
        return f"? ({value:g})"


def loop_views(view: GatewayView, recent: RecentTraffic) -> list[dict[str, Any]]:
    snapshot = view.snapshot
    good = {k: v for k, v in snapshot.values.items() if k not in snapshot.bad_quality}
    config = view.config
    views = []
    for name, state in view.loop_states().items():
        loop = config.loops[name]
        tag = config.tags[loop.sp]
        rules = tag.setpoint
        views.append(
            {
                "name": name,
                "description": loop.description,
                "pv_tag": loop.pv,
                "sp_tag": loop.sp,
                "unit": tag.unit,
                "pv_unit": config.tags[loop.pv].unit,
                "pv": _finite(good.get(loop.pv)),
                "sp": _finite(good.get(loop.working_sp)),
                "limits": {"lo": rules.limits.lo, "hi": rules.limits.hi} if rules else None,
                "autonomy": rules.autonomy.value if rules else None,
                "mode": state.mode.value,
                "latched": state.latched,
                "mode_reason": state.reason,
                "plc_mode": plc_mode_name(good.get(loop.mode)),
                "last": recent.by_tag.get(loop.sp),
                "prediction": loop_prediction(view, loop.sp),
                "history": list(recent.history.get(loop.sp, ())),
                "lines": trend_lines(view.plant, name),
                "interlocks": interlock_views(view.plant, name, good),
                "actions": loop_actions(state.mode, state.latched),
            }
        )
    return views


def approval_views(view: GatewayView, now: float) -> list[dict[str, Any]]:
    """The live queue, oldest first, at most MAX_APPROVALS_SHOWN (expired items cannot be approved)."""
    ttl = view.config.gateway.approval_ttl_s
    live = [item for item in view.awaiting() if now - item.queued_at <= ttl]
    live.sort(key=lambda item: item.queued_at)
    return [_approval_view(view, item, ttl, now) for item in live[:MAX_APPROVALS_SHOWN]]


def _approval_view(view: GatewayView, item: AwaitingApproval, ttl: float, now: float) -> dict[str, Any]:
    proposal = item.proposal
    config = view.config
    found = view.plant.loop_by_setpoint.get(proposal.tag)
    values = view.snapshot.values
    sp = _finite(values.get(found[1].working_sp)) if found else None
    rules = config.tags[proposal.tag].setpoint if proposal.tag in config.tags else None
    move = proposal.value - sp if sp is not None and math.isfinite(proposal.value) else None
    return {
        "id": proposal.id,
        "engine": proposal.engine,
        "tag": proposal.tag,
        "loop": found[0] if found else None,
        "value": _finite(proposal.value),
        "pv": _finite(values.get(found[1].pv)) if found else None,
        "sp": sp,
        "move": move,
        "limits": {"lo": rules.limits.lo, "hi": rules.limits.hi} if rules else None,
        "model_digest": proposal.model_digest,
        "rationale": _clip(item.rationale),
        "digest": item.digest,
        "expires_in_s": max(0.0, ttl - (now - item.queued_at)),
        **view.oversight_view(proposal, move),  # risk class, approvals, predicted effect
    }


def plant_view(view: GatewayView, recent: RecentTraffic, now: float) -> dict[str, Any]:
    snapshot = view.snapshot
    return {
        "plant": view.config.plant,
        "at": snapshot.stamped_at if math.isfinite(snapshot.stamped_at) else None,
        "plc_available": snapshot.plc_available,
        "loops": loop_views(view, recent),
        "approvals": approval_views(view, now),
        "alarms": alarm_views(view.alarms(), view.now()),
        "alarm_history": list(recent.alarm_log.events),
        "alarms_per_hour": recent.alarm_log.hours(),
        "engines": [
            {
                "name": name,
                "quarantined": name in view.quarantined(),
                "clock_offset_s": view.engine_clock_offset(name),
            }
            for name in view.config.engines
        ],
        "counters": dict(vars(view.counters())),
    }
