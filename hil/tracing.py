"""One row of the trace: simulator-side truth at the end of a tick, plus the gateway's claims (plots only).

t               simulated time, s
plc.<tag>       what the PLC holds: measurements as transmitted, working setpoints, modes, outputs
true.<name>     true process values, and the true reading behind each measurement tag
mode.<loop>     the PLC's loop mode: 0 MAN, 1 AUTO, 2 REMOTE
trip.<tag>      an interlock trip, 0/1
ai.<tag>        the last value the engines proposed for the tag
writes.<tag>    writes of the tag that reached the PLC during this tick
gw.*            the gateway's own view (up, loop modes): refused in assertions
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Set
from typing import Protocol

from otgate.core.config import PlantConfig
from otgate_simulator.simulation import Simulation

PLC_MODES = {"MAN": 0.0, "AUTO": 1.0, "REMOTE": 2.0}


class _Claims(Protocol):
    def mode_code(self, loop: str) -> float: ...


def trace_row(
    sim: Simulation,
    t: float,
    writes_before: int,
    config: PlantConfig,
    engine_tags: Set[str],
    proposed: Mapping[str, float],
    gateway: _Claims | None,
) -> dict[str, float]:
    row: dict[str, float] = {"t": t}
    for tag, value in sim.image().items():
        row[f"plc.{tag}"] = value
    for key, value in sim.true_values().items():
        row[f"true.{key}"] = value
    for loop, mode in sim.loop_modes().items():
        row[f"mode.{loop}"] = PLC_MODES[mode]
    for trip, tripped in sim.trips().items():
        row[f"trip.{trip}"] = 1.0 if tripped else 0.0
    setpoints = sorted(loop.sp for loop in config.loops.values())
    for tag in sorted({*setpoints, *engine_tags}):
        row[f"ai.{tag}"] = proposed.get(tag, math.nan)
    counts: dict[str, float] = {}
    for record in sim.write_log[writes_before:]:
        counts[record.tag] = counts.get(record.tag, 0.0) + 1.0
    for tag in setpoints:
        row[f"writes.{tag}"] = counts.get(tag, 0.0)
    row["gw.up"] = 0.0 if gateway is None else 1.0
    for loop in sorted(config.loops):
        row[f"gw.{loop}"] = math.nan if gateway is None else gateway.mode_code(loop)
    return row
