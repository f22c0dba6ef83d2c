"""A setpoint write on its way to the write gate, and what the gate made of it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from otgate.core.proposal import Proposal
from otgate.core.validation import WriteSource


@dataclass(frozen=True)
class WriteIntent:
    """A setpoint write waiting for the write gate (a ramp takes one step per scan): what, for whom,
    the trail record that decided it, and the config generation it was decided under."""

    proposal: Proposal
    decision_seq: int
    source: WriteSource
    generation: int


class GateResult(StrEnum):
    WRITTEN = "written"  # written and confirmed by read-back
    WAITING = "waiting"  # not yet: the minimum write interval has not passed
    DONE = "done"  # nothing (more) to write: the setpoint is where it was asked to go
    REFUSED = "refused"  # the gate refused it; recorded, and the intent is gone
    FAILED = "failed"  # sent but not confirmed: the loop has fallen back
