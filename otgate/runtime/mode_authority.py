"""The one place a loop's mode changes (the table in `otgate.core.modes` decides, the trail records,
then it happens), and how anomalies act on modes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from otgate.core.audit_chain import AuditKind
from otgate.core.modes import Direction, LoopState, ModeEvent, direction, transition
from otgate.core.monitors import Anomaly
from otgate.core.supervision import (
    affected_loops,
)
from otgate.runtime.records import describe
from otgate.runtime.state import GATEWAY, REMOTE_MODES, GatewayState

log = logging.getLogger(__name__)


class ModeAuthority(GatewayState):
    """Mode changes through the table, recorded first when they lead away from conventional control."""

    def is_toward_safety(self, loop_names: Sequence[str], event: ModeEvent) -> bool:
        """Whether `event` takes every one of these loops toward conventional control (lock-out rule)."""
        return all(direction(self.loops[n].state, event) is Direction.TOWARD_SAFETY for n in loop_names)

    def _change_mode(
        self, name: str, event: ModeEvent, reason: str, now: float, actor: str = GATEWAY
    ) -> LoopState | None:
        """The one place a loop's mode changes: the table decides, the trail records, then it happens.

        A change away from conventional control happens only once recorded; a change toward safety
        happens even when the trail cannot record it (the trail failure has closed the AI path anyway)."""
        runtime = self.loops[name]
        before = runtime.state
        after = transition(before, event, reason)
        if after is None:
            return None
        if after != before:
            data = {"loop": name, "from": describe(before), "to": describe(after), "reason": reason}
            recorded = self._audit(AuditKind.MODE_CHANGE, actor, data) >= 0
            if not recorded and direction(before, event) is Direction.AWAY:
                return None
        self._enter(name, after, now)
        return after

    def fall_back(self, loop_names: Sequence[str], reason: str, now: float) -> None:
        for name in loop_names:
            self._change_mode(name, ModeEvent.FALLBACK, reason, now)

    def act_on(self, anomalies: Sequence[Anomaly], now: float) -> None:
        """Alarm, quarantine and fall back for each anomaly; the trail gets each condition once."""
        for anomaly in anomalies:
            code = f"{anomaly.code.value}:{anomaly.subject}"
            priority = "high" if anomaly.fallback else "medium"
            if self.raise_alarm(code, anomaly.detail, priority):
                data = {"anomaly": anomaly.code.value, "subject": anomaly.subject, "detail": anomaly.detail}
                self._audit(AuditKind.ANOMALY, GATEWAY, data)
                self.ledger.on_anomaly(anomaly.subject, anomaly.code.value, now)
            if anomaly.quarantine and anomaly.subject not in self.quarantined:
                self.quarantined.add(anomaly.subject)
                self._audit(
                    AuditKind.ANOMALY,
                    GATEWAY,
                    {"quarantined": anomaly.subject, "because": anomaly.code.value},
                )
            if anomaly.fallback:
                loops = [
                    n for n in affected_loops(self.plant, anomaly) if self.loops[n].state.mode in REMOTE_MODES
                ]
                self.fall_back(loops, f"{anomaly.code.value}: {anomaly.detail}", now)
