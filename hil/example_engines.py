"""Two engines to show what `otgate hil certify` tells apart (docs/AUTONOMY.md).

`CarefulDemo` is the demo optimiser with its demo misbehaviour switched off: it moves each setpoint toward
its optimum at the published rate, inside the limits and the admissible interval. `Reckless` is
deliberately bad: it chases a target beyond the hard limits with moves many times the allowed size.
"""

from __future__ import annotations

import itertools

from otgate.client import Proposal, View
from otgate.client.demo_engine import DemoEngine


class CarefulDemo(DemoEngine):
    def __init__(self) -> None:
        super().__init__(name="careful-demo", misbehave=False)


class Reckless:
    def __init__(self) -> None:
        self.ids = itertools.count(1)

    def propose(self, view: View) -> list[Proposal]:
        proposals = []
        for envelope in view.tags.writable:
            if envelope.current_setpoint is None:
                continue
            span = envelope.limits.hi - envelope.limits.lo
            target = envelope.limits.hi + 0.2 * span  # "more is better": past the limit
            step = min(5 * envelope.max_move.up, target - envelope.current_setpoint)
            proposals.append(
                Proposal(
                    envelope.tag,
                    envelope.current_setpoint + step,
                    "push harder",
                    id=f"reckless-{next(self.ids)}",
                )
            )
        return proposals
