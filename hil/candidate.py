"""A real engine in a HIL run: any `otgate.client.Engine` (state in, proposals out), lock-stepped.

For `otgate hil certify`, the scenario's scripted engines give way to the engine under certification. Each
time it is due, it is shown exactly what the live SDK runner shows it: `GET /v1/tags` and `GET /v1/state`
through the gateway's real API app, parsed into the SDK's `View`; what it proposes is POSTed as the SDK
would send it, and the decisions are handed back to its `decided` if it has one. So the engine that was
certified is the engine that runs (`otgate engine run`), with nothing in between but simulated time.
"""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from otgate.client.engine import Engine
from otgate.client.models import Decision, Proposal, State, Tags, View
from otgate_hil.engines import Submission, body, number


class Reads(Protocol):
    """The part of a gateway under test a candidate engine needs: the AI API's GET endpoints."""

    async def get(self, token: str, path: str) -> bytes: ...


@dataclass
class CandidateEngine:
    id: str
    tag: str
    token: str
    engine: Engine
    start_s: float = 0.0
    stop_s: float | None = None
    period_s: float = 1.0
    silenced: bool = False
    sent: int = 0
    ready: list[Submission] = field(default_factory=list)

    def due(self, t: float) -> bool:
        if self.silenced or t < self.start_s or (self.stop_s is not None and t >= self.stop_s):
            return False
        elapsed = (t - self.start_s) / self.period_s
        return math.isclose(elapsed, round(elapsed), abs_tol=1e-9)

    async def prepare(self, gateway: Reads, t: float, epoch_s: float) -> None:
        """Show the engine the plant as the API shows it now, and keep what it proposes for `act`."""
        if not self.due(t):
            return
        view = View(
            Tags.model_validate_json(await gateway.get(self.token, "/v1/tags")),
            State.model_validate_json(await gateway.get(self.token, "/v1/state")),
        )
        answer = self.engine.propose(view)
        proposals: Iterable[Proposal] = await answer if inspect.isawaitable(answer) else answer
        self.ready = [self._submission(p, epoch_s) for p in proposals if math.isfinite(p.value)]

    def _submission(self, proposal: Proposal, epoch_s: float) -> Submission:
        self.sent += 1
        rec_id = proposal.id or f"{self.id}-{self.sent}"
        payload = body(rec_id, proposal.tag, number(proposal.value), epoch_s, proposal.rationale)
        return Submission(self.token, payload, ((proposal.tag, proposal.value),))

    def act(
        self, t: float, epoch_s: float, working_sp: float, state: Mapping[str, float] | None = None
    ) -> list[Submission]:
        ready, self.ready = self.ready, []
        return ready

    def observe(self, reply: bytes) -> None:
        decided = getattr(self.engine, "decided", None)
        if not callable(decided):
            return
        try:
            data: Any = json.loads(reply)
            decisions = [Decision.model_validate(d) for d in data["decisions"]]
        except (ValueError, KeyError, TypeError):
            return  # an error answer (401, 422, 429): nothing for the engine to learn from
        decided(decisions)
