"""A tank gateway with an earned-autonomy policy on LIC-101, on the in-memory fake PLC, driven through
simulated days by a manual clock. The fake PLC follows its remote setpoint like the simulator's does."""

from __future__ import annotations

import itertools
from pathlib import Path

from otgate.audit.store import AuditStore
from otgate.core.approval import ApprovalOutcome, proposal_digest
from otgate.core.autonomy_policy import AutonomyPolicy, RiskPolicy, SupervisedExit
from otgate.core.config import PlantConfig
from otgate.core.modes import ModeEvent
from otgate.core.plant import compile_plant
from otgate.core.proposal import Proposal
from otgate.field.fake import FakeLink
from otgate.runtime.clock import ManualClock
from otgate.runtime.gateway import Gateway
from otgate.runtime.state import Answer
from tests.conftest import REMOTE_PLC, TANK_CONFIG

DIGEST = "sha256:" + "a1" * 32
NEW_DIGEST = "sha256:" + "b2" * 32
# Every move of 0.4 mm against max_move 20 is 0.02: above 0.01, so "high" (one operator) unless bigger.
POLICY = AutonomyPolicy(
    to_autonomous=SupervisedExit(min_reviewed=20, max_operator_rejection=0.05),
    risk=RiskPolicy(high_move_fraction=0.01, highest_move_fraction=0.5),
)


def earned_config(policy: AutonomyPolicy = POLICY) -> PlantConfig:
    loop = TANK_CONFIG.loops["LIC-101"].model_copy(update={"autonomy": policy})
    engine = TANK_CONFIG.engines["optimizer"]
    # The test engine proposes every few minutes; silence is judged on a longer horizon here.
    quiet = engine.model_copy(update={"monitor": engine.monitor.model_copy(update={"silent_after_s": 900.0})})
    return TANK_CONFIG.model_copy(update={"loops": {"LIC-101": loop}, "engines": {"optimizer": quiet}})


class Day:
    """Drives one gateway: time passes, the PLC follows, the engine proposes, operators answer."""

    def __init__(self, tmp_path: Path, config: PlantConfig | None = None) -> None:
        self.fake = FakeLink(TANK_CONFIG.tags, REMOTE_PLC)
        self.store = AuditStore(tmp_path, None)
        self.clock = ManualClock(1_800_000_000.0)
        self.gateway = Gateway(
            compile_plant(config or earned_config()), {"plc1": self.fake}, self.store, self.clock
        )
        self.ids = itertools.count(1)
        self.wiggle = itertools.cycle((0.0, 1.5, -1.0))

    async def tick(self, seconds: float) -> None:
        self.clock.advance(seconds)
        values = self.fake.values
        values["LIC-101.SP"] = values["LIC-101.RSP"]  # the PLC in REMOTE takes the remote setpoint
        values["LIT-101"] = values["LIC-101.SP"] - 5.0 + next(self.wiggle)  # a live, settled level
        await self.gateway.scan(self.clock.monotonic())

    async def engage(self) -> None:
        self.gateway.operator_action("alice", ["LIC-101"], ModeEvent.ENGAGE, "test")
        await self.tick(1.0)
        await self.tick(1.0)

    def proposal(self, delta: float, digest: str = DIGEST) -> Proposal:
        value = self.fake.values["LIC-101.SP"] + delta
        return Proposal(
            f"rec-{next(self.ids)}", "optimizer", "LIC-101.RSP", value, self.clock.now(), None, digest
        )

    def propose(self, delta: float, digest: str = DIGEST) -> tuple[Proposal, Answer]:
        proposal = self.proposal(delta, digest)
        (answer,) = self.gateway.submit([proposal])
        return proposal, answer

    def answer(self, user: str, proposal: Proposal, approve: bool = True) -> ApprovalOutcome:
        return self.gateway.decide_approval(user, proposal.id, proposal_digest(proposal), approve)

    def level(self) -> str | None:
        found = self.gateway.ledger.level("optimizer", "LIC-101")
        return found.value if found is not None else None

    def row(self) -> dict[str, object]:
        (row,) = [
            r for r in self.gateway.ledger.summary(self.clock.monotonic(), "optimizer") if r["current_model"]
        ]
        return row

    def sign_off(self, user: str = "erin") -> bool:
        key = next(
            k for k in self.gateway.ledger.entries if k.digest == self.gateway.ledger.digests["optimizer"]
        )
        return self.gateway.ledger.sign_off(user, key, self.clock.monotonic()) is not None

    def changes(self) -> list[dict[str, object]]:
        return [dict(r.data) for r in self.store.records() if r.kind == "autonomy_change"]

    def rsp_writes(self) -> list[float]:
        return [w.value for w in self.fake.writes if w.tag == "LIC-101.RSP"]
