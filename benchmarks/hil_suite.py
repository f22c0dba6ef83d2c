"""`hil_suite`: wall time of the whole HIL scenario library (`hil/scenarios/`), Modbus.

Row `hil_suite`: one run of every scenario against otgate, judged, without reports (plots excluded). Baseline:
the same scenarios, in the same run, against the pass-through gateway (which forwards every proposal and
does no monitoring): the cost of the simulator, the scripted engines, the sockets and the judging. Ratio:
how much longer the library takes because otgate is in the loop. Target: under 90 s (issue 16, 45 or more
scenarios). Extra: the simulated time the library covers and the simulated-to-wall ratio (how many seconds
of plant time one wall second runs, otgate in the loop, the whole library included).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from benchmarks.figure import Figure, figure
from otgate_hil.scenario import load_scenario, scenario_paths
from otgate_hil.suite import DEFAULT_SCENARIOS, run_all

TARGET_S = 90.0


@dataclass(frozen=True)
class Size:
    scenarios: int | None = None  # None: the whole library


TINY = Size(scenarios=1)


def run(size: Size) -> list[Figure]:
    paths = scenario_paths([DEFAULT_SCENARIOS])[: size.scenarios]
    scenarios = [(path, load_scenario(path)) for path in paths]
    simulated_s = sum(scenario.duration for _, scenario in scenarios)
    timed = {}
    for subject in ("otgate", "passthrough"):
        began = time.perf_counter()
        asyncio.run(run_all(scenarios, subject=subject))
        timed[subject] = time.perf_counter() - began
    return [
        figure(
            "hil_suite",
            "s",
            [timed["otgate"]],
            [timed["passthrough"]],
            what=f"{len(scenarios)} scenarios against otgate; baseline: the same against the pass-through gateway",
            target=TARGET_S,
            extra={
                "scenarios": len(scenarios),
                "simulated_s": simulated_s,
                "sim_to_wall": round(simulated_s / timed["otgate"], 1),
            },
        )
    ]
