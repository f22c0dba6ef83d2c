"""Runs a list of scenarios one after the other: run, judge, and (with a report directory) plot and save the
artefacts of each, with a one-line progress report per scenario.

Progress is plain text on stderr (a bar, the scenario, its verdict, its wall time and the running total), so
it reads the same in a terminal and in a CI log and needs no extra dependency.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from otgate_hil.artifacts import write_artifacts
from otgate_hil.assertions import judge
from otgate_hil.plot import render_plot
from otgate_hil.report import ScenarioResult
from otgate_hil.runner import run_scenario
from otgate_hil.scenario import Scenario, load_scenario, scenario_paths

DEFAULT_SCENARIOS = Path(__file__).resolve().parent / "scenarios"
BAR = 24


async def run_all(
    scenarios: Sequence[tuple[Path, Scenario]],
    *,
    report: Path | None = None,
    protocol: str | None = None,
    subject: str = "otgate",
    progress: TextIO | None = None,
    on_result: Callable[[ScenarioResult], None] | None = None,
) -> list[ScenarioResult]:
    results: list[ScenarioResult] = []
    started = time.perf_counter()
    for index, (path, scenario) in enumerate(scenarios, 1):
        record = await run_scenario(scenario, subject=subject, protocol=protocol)
        result = ScenarioResult(record, judge(record), path)
        if report is not None:
            folder = report / scenario.metadata.id
            result.plot = render_plot(record, result.outcomes, folder / "trend.png")
            result.artifacts = write_artifacts(record, folder)
        results.append(result)
        if on_result is not None:
            on_result(result)
        if progress is not None:
            _progress(progress, index, len(scenarios), result, time.perf_counter() - started)
    return results


def run_library(
    paths: Sequence[Path] = (DEFAULT_SCENARIOS,), *, protocol: str | None = None
) -> list[ScenarioResult]:
    """Run the library (or `paths`) without reports: for benchmarks (`hil_suite`) and scripts."""
    scenarios = [(path, load_scenario(path)) for path in scenario_paths(list(paths))]
    return asyncio.run(run_all(scenarios, protocol=protocol))


def _progress(out: TextIO, index: int, total: int, result: ScenarioResult, elapsed_s: float) -> None:
    filled = round(BAR * index / total)
    meta = result.record.scenario.metadata
    verdict = "PASS" if result.passed else "FAIL"
    out.write(
        f"[{'#' * filled}{'.' * (BAR - filled)}] {index:>3}/{total} {meta.id:<5} {verdict} "
        f"{result.record.wall_s:5.2f} s  {meta.title}  (total {elapsed_s:.1f} s)\n"
    )
    out.flush()
