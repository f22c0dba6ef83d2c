"""What the doors (the AI API, the HMI, metrics, the OPC UA northbound) may read of the gateway.

A read-only view: immutable values and copies, never the gateway's working parts, so no door can change
state except through the gateway's commands (`submit`, `operator_action`, ...), each of which is recorded.
`tests/test_architecture.py` keeps the doors to this view and those commands.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from otgate.core.alarms import Alarm
from otgate.core.approval import AwaitingApproval
from otgate.core.audit_chain import AuditRecord, Checkpoint
from otgate.core.autonomy import Entry, Key
from otgate.core.autonomy_policy import AutonomyPolicy
from otgate.core.config import Autonomy, PlantConfig
from otgate.core.modes import LoopState
from otgate.core.plant import Plant
from otgate.core.proposal import Proposal, Snapshot
from otgate.runtime.gateway import Gateway
from otgate.runtime.state import Answer, Counters


class GatewayView:
    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway

    @property
    def config(self) -> PlantConfig:
        return self._gateway.plant.config

    @property
    def plant(self) -> Plant:
        return self._gateway.plant

    @property
    def snapshot(self) -> Snapshot:
        return self._gateway.snapshot

    @property
    def scans(self) -> int:
        return self._gateway.scans

    @property
    def config_sha256(self) -> str | None:
        """The SHA-256 of the config file in force (None when the config did not come from a file)."""
        loaded = self._gateway.config_file
        return loaded.sha256 if loaded is not None else None

    @property
    def audit_failed(self) -> bool:
        return self._gateway.audit_failed

    def loop_states(self) -> Mapping[str, LoopState]:
        return {name: runtime.state for name, runtime in self._gateway.loops.items()}

    def loop_state(self, name: str) -> LoopState:
        return self._gateway.loops[name].state

    def plc_confirmed(self, name: str) -> bool:
        """Whether the PLC confirmed REMOTE for this loop's current engagement."""
        return self._gateway.loops[name].remote_confirmed

    def alarms(self) -> list[Alarm]:
        return [dataclasses.replace(alarm) for alarm in self._gateway.alarms.values()]

    def active_alarms(self) -> list[Alarm]:
        return [alarm for alarm in self.alarms() if alarm.active]

    def counters(self) -> Counters:
        return dataclasses.replace(self._gateway.counters)

    def quarantined(self) -> frozenset[str]:
        return frozenset(self._gateway.quarantined)

    def awaiting(self) -> list[AwaitingApproval]:
        return list(self._gateway.awaiting.values())

    def answer(self, engine: str, proposal_id: str) -> Answer | None:
        """The gateway's answer to `engine`'s proposal `proposal_id`, while it is among the latest kept."""
        return self._gateway.answers.get((engine, proposal_id))

    def engine_clock_offset(self, engine: str) -> float | None:
        return self._gateway.engine_clock_offset(engine)

    def earned_level(self, engine: str, loop: str) -> Autonomy | None:
        """The level an engine's current model has earned on a loop (None: the loop has no policy)."""
        return self._gateway.ledger.level(engine, loop)

    def autonomy_summary(self, engine: str | None = None) -> list[dict[str, Any]]:
        """The evidence ledger's entries (one engine's when given), as plain data (docs/AUTONOMY.md)."""
        return self._gateway.ledger.summary(self._gateway.clock.monotonic(), engine=engine)

    def current_snapshot(self) -> Snapshot:
        """The latest snapshot with the loops' modes and the moves queued but not yet read back."""
        return self._gateway.current_snapshot()

    def samples(self, tag: str) -> Sequence[tuple[float, float]]:
        """Recent samples of a tag the look-ahead keeps (time, value)."""
        return tuple(self._gateway.memory.samples.get(tag, ()))

    def alarm(self, code: str) -> Alarm | None:
        return dataclasses.replace(self._gateway.alarms[code]) if code in self._gateway.alarms else None

    def oversight_view(self, proposal: Proposal, move: float | None) -> dict[str, Any]:
        """A supervised proposal's risk class, approvals and predicted effect (docs/AUTONOMY.md)."""
        return self._gateway.ledger.oversight_view(proposal, move)

    def autonomy_history(self) -> list[dict[str, Any]]:
        return list(self._gateway.ledger.history)

    def autonomy_entry(self, key: Key) -> Entry | None:
        return self._gateway.ledger.entries.get(key)

    def autonomy_policy(self, loop: str) -> AutonomyPolicy | None:
        return self._gateway.ledger.policy(loop)

    @property
    def audit_head(self) -> Checkpoint | None:
        return self._gateway.audit.head

    @property
    def data_dir(self) -> Path:
        """The folder of the audit trail, where the gateway keeps its files."""
        return self._gateway.audit.path.parent

    def records(self, from_seq: int = 1) -> Iterator[AuditRecord]:
        return self._gateway.audit.records(from_seq)

    def now(self) -> float:
        """Wall-clock time, for stamps shown to people."""
        return self._gateway.clock.now()

    def monotonic(self) -> float:
        """The gateway's time base, for durations."""
        return self._gateway.clock.monotonic()
