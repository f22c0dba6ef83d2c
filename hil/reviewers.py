"""Standing reviewers: operators on shift who answer the approval queue of a setpoint at a steady pace.

`operator.reviews {tag, every, reject_every}` puts one on the tag from that moment; every `every` after
it, everything queued for the tag is answered through the HMI (`hil.hmi_operator`), oldest first, each
`reject_every`-th answer a rejection. `operator.reviews_stop {tag}` sends them home. Their answers come
`every` apart while proposals arrive at the engine's own period, so reading times vary as a person's do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from otgate_hil.hmi_operator import OperatorAction
from otgate_hil.scenario import Injection


@dataclass(frozen=True)
class Reviewer:
    tag: str
    since_s: float
    every_s: float
    user: str
    reject_every: int | None


class Reviewers:
    def __init__(self) -> None:
        self.on_duty: dict[str, Reviewer] = {}

    def apply(self, item: Injection, t: float) -> None:
        tag = item.tag or ""
        if item.do == "operator.reviews_stop":
            self.on_duty.pop(tag, None)
        else:
            every = float(item.every or 1.0)
            self.on_duty[tag] = Reviewer(tag, t, every, item.user, item.reject_every)

    def due(self, t: float) -> list[OperatorAction]:
        """The reviews due this tick (one per reviewer whose pace falls on it)."""
        found = []
        for r in self.on_duty.values():
            turns = (t - r.since_s) / r.every_s
            if t > r.since_s and math.isclose(turns, round(turns), abs_tol=1e-9):
                found.append(OperatorAction("review", user=r.user, tag=r.tag, reject_every=r.reject_every))
        return found
