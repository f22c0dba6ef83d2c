"""The look-ahead's memory: setpoint inputs as change points, outputs as every sample."""

from __future__ import annotations

import pytest

from otgate.core.prediction import forecast
from otgate.core.process_memory import ProcessMemory, judged_s
from tests.core.plants import CSTR

pytestmark = pytest.mark.requirement("R-42")


def _setpoint(t: int) -> float:
    """A hold, a PLC ramp of five steps, a hold, a step back."""
    return 325.0 + 0.2 * min(max(t - 20, 0), 5) - (1.0 if t >= 40 else 0.0)


def _run(memory: ProcessMemory, scans: int) -> dict[str, list[tuple[float, float]]]:
    every: dict[str, list[tuple[float, float]]] = {"TIC-101.RSP": [], "TT-101": [], "TT-102": []}
    for t in range(scans):
        values = {"TIC-101.SP": _setpoint(t), "TT-101": 325.0 + 0.01 * (t % 7), "TT-102": 300.0}
        memory.observe(values, set(), float(t))
        every["TIC-101.RSP"].append((float(t), values["TIC-101.SP"]))
        every["TT-101"].append((float(t), values["TT-101"]))
        every["TT-102"].append((float(t), values["TT-102"]))
    return every


def test_process_memory_setpoint_held_keeps_only_its_change_points():
    memory = ProcessMemory(CSTR)
    _run(memory, 60)
    # The first sample, then six changes (five ramp steps and the step back), each with the sample before
    # it where that is not already kept: 0, 20, 21..25, 39, 40.
    assert [t for t, _ in memory.samples["TIC-101.RSP"]] == [
        0.0,
        20.0,
        21.0,
        22.0,
        23.0,
        24.0,
        25.0,
        39.0,
        40.0,
    ]
    # Outputs keep every sample (trend and noise come from them) over the longest window judged: here the
    # 49 s horizon, which the scans at 10..59 fill.
    assert judged_s(CSTR) == 49.0
    assert [t for t, _ in memory.samples["TT-101"]] == [float(t) for t in range(10, 60)]


def test_process_memory_change_points_forecast_like_every_sample():
    memory = ProcessMemory(CSTR)
    every = _run(memory, 60)
    now = 59.0
    from_points = forecast(CSTR.models, {"TT-101": 325.0}, memory.samples, now, CSTR.horizon_s)
    from_every = forecast(CSTR.models, {"TT-101": 325.0}, every, now, CSTR.horizon_s)
    assert from_points.base["TT-101"] == pytest.approx(from_every.base["TT-101"], abs=1e-9)


def test_process_memory_changes_older_than_settling_are_dropped():
    memory = ProcessMemory(CSTR)
    _run(memory, 60)
    end = 60 + int(memory.keep_s["TIC-101.RSP"]) + 5
    for t in range(60, end):
        memory.observe({"TIC-101.SP": 324.0, "TT-101": 325.0, "TT-102": 300.0}, set(), float(t))
    assert len(memory.samples["TIC-101.RSP"]) == 0  # they have done all they will do
    memory.observe({"TIC-101.SP": 324.5, "TT-101": 325.0, "TT-102": 300.0}, set(), float(end))
    # The next change still has the sample before it, so its size is known.
    assert [v for _, v in memory.samples["TIC-101.RSP"]] == [324.0, 324.5]
