"""The PLC's write log joined to where each write came from: the frame and the proposal.

Each entry of the simulator's write log (what the PLC applied, when) is matched to

    the frame      the earliest write frame the fault proxy delivered at that time to that register
                   (`simulator.frame_faults.Delivery`), which says when the gateway sent it;
    the proposal   the gateway's `plc_write` audit record of that tick, tag and value, whose
                   `proposal_id` names the recommendation (or operator setpoint) it carried out.

Without a frame gate every write is taken as sent when applied (no link delay is modelled). A gateway that
does not say what it wrote (the pass-through) leaves `proposal` empty.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from otgate_hil.record import RunRecord

EPS = 1e-9


@dataclass(frozen=True)
class Application:
    applied_s: float
    tag: str
    value: float
    accepted: bool
    sent_s: float
    frame: int | None
    proposal: str | None

    @property
    def age_s(self) -> float:
        return self.applied_s - self.sent_s


def applications(record: RunRecord) -> list[Application]:
    unused = list(record.deliveries)
    out = []
    for w in record.writes:
        register = int(w.address.split(":", 1)[1]) if w.address.startswith("holding:") else None
        match = next(
            (d for d in unused if d.address == register and abs(d.delivered_s - w.sim_time_s) < EPS), None
        )
        if match is not None:
            unused.remove(match)
        sent = match.sent_s if match is not None else w.sim_time_s
        out.append(
            Application(
                w.sim_time_s,
                w.tag,
                w.value,
                w.accepted,
                sent,
                None if match is None else match.frame,
                _proposal(record, w.tag, w.value, sent),
            )
        )
    return out


def _proposal(record: RunRecord, tag: str, value: float, sent_s: float) -> str | None:
    for t, audit in record.audit:
        if abs(t - sent_s) > EPS or audit.kind != "plc_write":
            continue
        data = audit.data
        written = data.get("value")
        if data.get("tag") != tag or not isinstance(written, int | float):
            continue
        # The PLC holds float32: compare at its precision.
        if math.isclose(float(written), value, rel_tol=1e-6, abs_tol=1e-6):
            found = data.get("proposal_id")
            return str(found) if found is not None else None
    return None
