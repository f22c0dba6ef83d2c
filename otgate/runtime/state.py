"""The gateway's state: loops, queues, alarms, the latest snapshot, and the trail it records into.

One asyncio loop owns all of it (the AI API hands its work over to that loop), so the synchronous
sections of the scan and of every request never interleave and need no locks. Each layer above this
one adds one concern: mode authority, write gate, PLC handshake, scan cycle, engine side, operators.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import Any

from otgate.audit.store import AuditStore, AuditStoreError
from otgate.audit.writer import AuditWriter
from otgate.config.loader import LoadedConfig
from otgate.core.alarms import AlarmBoard
from otgate.core.approval import AwaitingApproval
from otgate.core.audit_chain import AuditEntry, AuditKind
from otgate.core.clock_offset import ClockOffset
from otgate.core.decision import Decision
from otgate.core.modes import LoopMode, LoopState, ModeEvent, transition
from otgate.core.monitors import MonitorStates
from otgate.core.plant import Plant
from otgate.core.process_memory import ProcessMemory
from otgate.core.proposal import History, Snapshot, WriteEvent
from otgate.core.validation import WriteSource
from otgate.field.link import FieldLink
from otgate.runtime.clock import Clock
from otgate.runtime.intent import WriteIntent
from otgate.runtime.ledger import Ledger

log = logging.getLogger(__name__)
GATEWAY = "gateway"
# Modes in which the gateway holds the PLC loop in REMOTE: the AI's setpoints, or an operator's own.
REMOTE_MODES = frozenset({LoopMode.AI, LoopMode.MANUAL})


class AuditUnavailable(Exception):
    """The trail cannot record: the AI path fails closed (HTTP 503) until it can."""


@dataclass
class LoopRuntime:
    state: LoopState = field(default_factory=LoopState)
    remote_confirmed: bool = False
    engaged_at: float | None = None  # when the PLC confirmed REMOTE for this engagement
    engage_requested_at: float | None = None
    release_requested_at: float | None = None


@dataclass(frozen=True)
class Answer:
    decision: Decision
    audit_seq: int


@dataclass
class Counters:
    recommendations: int = 0
    accepted: int = 0
    rejected: int = 0
    fallbacks: int = 0


class GatewayState:
    """Everything the gateway knows, with the bookkeeping every layer above shares."""

    def __init__(self, plant: Plant, links: Mapping[str, FieldLink], audit: AuditStore, clock: Clock) -> None:
        self.plant = plant
        self.links = dict(links)
        self.audit = audit
        self.clock = clock
        self.loops = {name: LoopRuntime() for name in plant.config.loops}
        self.seen_ids: dict[str, float] = {}
        # The latest answers per (engine, proposal id), for `GET /v1/decisions/{id}`; older ones are in the trail.
        self.answers: OrderedDict[tuple[str, str], Answer] = OrderedDict()
        self.writes: dict[str, deque[WriteEvent]] = {}
        self.quarantined: set[str] = set()
        self.engine_clocks: dict[str, ClockOffset] = {}  # per engine: its timestamps against arrival
        self.wall_suspect = False  # the wall clock stepped; no engine has agreed with it since
        self.pending: dict[str, WriteIntent] = {}  # per setpoint tag, oldest first
        self.generation = 0  # config generation: a reload makes every earlier decision void
        self.awaiting: dict[str, AwaitingApproval] = {}
        self.alarms = AlarmBoard()
        self.monitors = MonitorStates()
        self.memory = ProcessMemory(plant)  # recent samples for the look-ahead
        self.outside_envelope: dict[str, float] = {}  # enveloped variable -> since when it is outside
        self.mismatch_since: dict[str, float] = {}  # modelled variable -> since when it is off its model
        self._scan_alarms: set[str] = set()
        self.config_file: LoadedConfig | None = None
        self.config_changed: str | None = None
        self.config_checked_at = -math.inf
        self.counters = Counters()
        self.heartbeat = 0
        self.last_beat_at = -math.inf
        self.manual_ids = 0
        self.scans = 0
        # Asks the scan loop for a scan now (the service sets it): an operator's toward-safety action
        # reaches the PLC without waiting for the next scan tick.
        self.scan_now: Callable[[], None] = lambda: None
        self.snapshot = Snapshot(taken_at=-math.inf, values={}, plc_available=False)
        self.audit_failed = False
        self.audit_writer = AuditWriter(audit)
        self._deferred: list[Future[None]] | None = None  # inside submit_durably: commits to wait for
        self.ledger = Ledger(plant, self._audit, self.raise_alarm, self.clear_alarm)  # docs/AUTONOMY.md
        self.ledger.on_demoted = self._drop_engine_pending

    def loop_modes(self) -> dict[str, LoopMode]:
        return {name: runtime.state.mode for name, runtime in self.loops.items()}

    def current_snapshot(self) -> Snapshot:
        s = self.snapshot
        queued = self._queued_moves() if s.forecast is not None else {}
        return replace(s, loop_modes=self.loop_modes(), queued=queued)

    def _queued_moves(self) -> dict[str, float]:
        """Per setpoint: moves decided but not yet in this scan's readings (queued writes and ramps of every
        engine and operator, and writes made since the read), so no two can jointly do what neither may."""
        values, taken_at = self.snapshot.values, self.snapshot.taken_at
        queued: dict[str, float] = {}
        for tag, intent in self.pending.items():
            readback = values.get(self.plant.loop_by_setpoint[tag][1].working_sp)
            if readback is not None:
                queued[tag] = intent.proposal.value - readback
        for tag, events in self.writes.items():
            for event in reversed(events):
                if event.at <= taken_at:
                    break
                queued[tag] = queued.get(tag, 0.0) + event.value - event.previous
        return queued

    def history(self) -> History:
        return History(self.seen_ids.keys(), self.writes, self.quarantined)

    def _remote_loops(self) -> list[str]:
        """Loops the gateway holds in REMOTE at the PLC: the AI's, and the operators' manual ones."""
        return [name for name, runtime in self.loops.items() if runtime.state.mode in REMOTE_MODES]

    def raise_alarm(self, code: str, message: str, priority: str) -> bool:
        """Raise or count up an alarm (stamped with the wall clock, for people); a newly active one is
        audited (repeats are counted, not recorded)."""
        if not self.alarms.raise_(code, message, priority, self.clock.now()):
            return False
        self._audit(AuditKind.ALARM, GATEWAY, {"code": code, "message": message, "priority": priority})
        return True

    def clear_alarm(self, code: str) -> None:
        self.alarms.clear(code, self.clock.now())

    def _audit(self, kind: str, actor: str, data: dict[str, Any]) -> int:
        """Record one entry; -1 when the trail cannot (the gateway has then closed the AI path)."""
        seqs = self._audit_many([(kind, actor, data)])
        return seqs[0] if seqs else -1

    def _audit_many(self, entries: list[tuple[str, str, dict[str, Any]]]) -> list[int] | None:
        """Record entries in one durable transaction, stamped with the wall clock; None when the trail cannot."""
        if self.audit_failed:
            return None
        at = self.clock.now()
        batch = [AuditEntry(kind, actor, data, at) for kind, actor, data in entries]
        try:
            if self._deferred is None:
                records = self.audit.append_many(batch)
            else:  # submit_durably waits for these, off the loop
                records, done = self.audit.submit(batch)
                self._deferred.append(done)
        except AuditStoreError as error:
            self._audit_failure(str(error))
            return None
        return [record.seq for record in records]

    def _enter(self, name: str, after: LoopState, now: float) -> None:
        runtime = self.loops[name]
        before = runtime.state
        runtime.state = after
        if after.mode is not before.mode:
            self._drop_pending(name)  # an AI write never carries into manual, nor an operator's into ai
            # Every new remote mode is a new engagement: the PLC confirms it again and the monitors
            # re-baseline (manual -> ai must not inherit the drift reference of before the manual spell).
            runtime.remote_confirmed = False
            runtime.engaged_at = None
            runtime.engage_requested_at = now if after.mode in REMOTE_MODES else None
        if after.mode is LoopMode.FALLBACK and before.mode is not LoopMode.FALLBACK:
            self.counters.fallbacks += 1
            runtime.release_requested_at = None

    def _audit_failure(self, detail: str) -> None:
        """Without a trail the AI path is closed: every loop back to conventional control."""
        self.audit_failed = True
        now = self.clock.monotonic()
        self.alarms.raise_("AUDIT_FAILURE", f"audit trail unavailable: {detail}", "high", self.clock.now())
        for name, runtime in self.loops.items():
            after = transition(runtime.state, ModeEvent.FALLBACK, "audit trail unavailable")
            if after is not None:  # the table always allows fallback; unrecorded, as the trail is down
                self._enter(name, after, now)
        self.pending.clear()

    def _drop_pending(self, loop_name: str) -> None:
        sp = self.plant.config.loops[loop_name].sp
        self.pending.pop(sp, None)

    def _drop_engine_pending(self, loop_name: str, engine: str) -> None:
        """A demoted engine's queued writes and approvals on the loop go: demotion takes effect at once."""
        sp = self.plant.config.loops[loop_name].sp
        intent = self.pending.get(sp)
        if (
            intent is not None
            and intent.source is not WriteSource.OPERATOR
            and intent.proposal.engine == engine
        ):
            del self.pending[sp]
        for pid in [
            i for i, a in self.awaiting.items() if a.proposal.engine == engine and a.proposal.tag == sp
        ]:
            del self.awaiting[pid]
            self.ledger.forget(pid)
            data = {"id": pid, "outcome": "withdrawn", "why": "engine demoted"}
            self._audit(AuditKind.APPROVAL, GATEWAY, data)
