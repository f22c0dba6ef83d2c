"""A demo AI engine: it really optimises (pushes each setpoint toward its economic optimum inside the
envelope `GET /v1/tags` publishes) and now and then misbehaves, so the demo shows rejections too.

It is an `otgate.client.Engine` like any user-written one: state in, proposals out. `otgate demo` runs it
with the SDK's runner over the AI-facing HTTP API; it never touches the gateway any other way.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from otgate.client import Decision, Envelope, Proposal, View

# Where each plant's optimiser wants to go (all inside the hard limits): the CSTR toward higher conversion,
# the Ricker reactor toward lower purge cost (higher pressure, more A in the purge), the tank toward a
# fuller buffer.
OPTIMA: dict[str, float] = {
    "LIC-101.RSP": 720.0,
    "TIC-101.RSP": 329.5,
    "PIC-201.RSP": 2840.0,
    "AIC-201.RSP": 51.0,
    "FIC-204.RSP": 104.0,
}


class DemoEngine:
    def __init__(self, *, name: str = "demo-optimizer", misbehave: bool = True) -> None:
        self.name = name
        self.misbehave = misbehave
        self.cycle = 0
        self.ids = itertools.count(1)
        self.first_sent: list[Proposal] = []
        self.sent_tags: dict[str, str] = {}  # proposal id -> tag, to read the decisions' admissible intervals
        self.admissible: dict[str, tuple[float, float]] = {}  # per tag, the latest the gateway published

    def decided(self, decisions: Sequence[Decision]) -> None:
        """Keep each setpoint's admissible interval: the next proposals stay inside it."""
        for decision in decisions:
            tag = self.sent_tags.pop(decision.id, None)
            if tag is not None and decision.admissible is not None:
                self.admissible[tag] = (decision.admissible.lo, decision.admissible.hi)

    def propose(self, view: View) -> list[Proposal]:
        self.cycle += 1
        cycle = self.cycle
        # Misbehaviour is kept to the first tag and a few cycles in a hundred: a demo should show the
        # gateway refusing, not an engine so broken that it is quarantined in the first minute.
        proposed = [
            self.step(tag, cycle, misbehave=self.misbehave and i == 0)
            for i, tag in enumerate(view.tags.writable)
        ]
        items = [item for item in proposed if item is not None]
        if self.misbehave and cycle % 29 == 0 and self.first_sent:
            items.append(self.first_sent[0])  # misbehaviour: replay an old recommendation (same id)
        return items

    def step(self, envelope: Envelope, cycle: int, *, misbehave: bool = False) -> Proposal | None:
        current = envelope.current_setpoint
        if current is None:
            return None
        lo, hi = envelope.limits.lo, envelope.limits.hi
        target = OPTIMA.get(envelope.tag, (lo + hi) / 2)
        if envelope.tag in self.admissible:  # where the gateway's look-ahead says the process stays inside
            low, high = self.admissible[envelope.tag]
            target = min(max(target, low), high)
        if misbehave and cycle % 13 == 0:
            value, why = hi + 0.1 * (hi - lo), "pushing past the limit for more throughput"  # misbehaviour
        elif misbehave and cycle % 17 == 0:
            value, why = current + 5 * envelope.max_move.up, "big step to reach the optimum faster"
        else:
            up = target > current
            step = (envelope.rate_per_s.up if up else envelope.rate_per_s.down) * max(
                1.0, envelope.min_write_interval_s
            )
            value = current + min(step, abs(target - current)) * (1 if up else -1)
            why = f"moving toward the optimum {target:g} {envelope.unit}"
            if abs(value - current) <= envelope.deadband:
                return None
        proposal = Proposal(envelope.tag, round(value, 6), why, id=f"{self.name}-{next(self.ids)}")
        self.sent_tags[proposal.id or ""] = envelope.tag
        if len(self.first_sent) < 3:
            self.first_sent.append(proposal)
        return proposal
