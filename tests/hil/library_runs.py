"""Runs of library scenarios against otgate, each made once per test session and shared.

Several tests judge the same run (the library test, the predictive on/off test, the hash-repeat test's
first run); a run is a pure function of the scenario file, so running it again would only repeat work.
"""

from __future__ import annotations

from pathlib import Path

from otgate_hil.record import RunRecord
from otgate_hil.runner import run_scenario
from otgate_hil.scenario import load_scenario, scenario_paths

LIBRARY = Path(__file__).resolve().parents[2] / "hil" / "scenarios"
FILES = scenario_paths([LIBRARY])
_runs: dict[Path, RunRecord] = {}


async def otgate_run(path: Path) -> RunRecord:
    """The library scenario at `path` run against otgate (first call runs it, later calls share it)."""
    if path not in _runs:
        _runs[path] = await run_scenario(load_scenario(path))
    return _runs[path]
