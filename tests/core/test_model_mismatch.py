"""The prediction-error monitor (issue 15): a modelled variable that stays off its model's prediction."""

from __future__ import annotations

import numpy as np
import pytest

from otgate.core.model_mismatch import check_model_mismatch, prediction_error
from otgate.core.monitors import AnomalyCode
from otgate.core.step_response import StepModel, step
from otgate.core.supervision import affected_loops
from tests.core.plants import CSTR

pytestmark = pytest.mark.requirement("R-15", "R-42")

MODEL = StepModel("SP", "Y", gain=2.0, tau_s=10.0, dead_time_s=5.0)
WINDOW_S = 45.0  # dead time + 4 time constants: the horizon the look-ahead relies on
MOVE_AT = 100.0


def record(
    until: float, *, gain: float = 2.0, drift_per_s: float = 0.0, noise: float = 0.05, seed: int = 1
) -> dict[str, list[tuple[float, float]]]:
    """1 s samples of a setpoint stepped by +1 at MOVE_AT and of an output that follows `gain`, plus a
    drift (a biased sensor, an unmodelled disturbance) from MOVE_AT on."""
    rng = np.random.default_rng(seed)
    times = np.arange(0.0, until + 0.5, 1.0)
    truth = StepModel("SP", "Y", gain, MODEL.tau_s, MODEL.dead_time_s)
    y = 50.0 + step(truth, times - MOVE_AT) + drift_per_s * np.maximum(times - MOVE_AT, 0.0)
    y += rng.normal(0.0, noise, times.size)
    sp = np.where(times >= MOVE_AT, 11.0, 10.0)
    return {"SP": list(zip(times, sp, strict=True)), "Y": list(zip(times, y, strict=True))}


def run(samples: dict[str, list[tuple[float, float]]], start: float, end: float) -> list[tuple[float, str]]:
    """Judge every second from `start` to `end` on the samples seen so far; (time, code) of each anomaly."""
    since: dict[str, float] = {}
    found = []
    for now in np.arange(start, end + 0.5, 1.0):
        seen = {name: [(t, v) for t, v in s if t <= now] for name, s in samples.items()}
        found += [
            (float(now), a.code.value) for a in check_model_mismatch([MODEL], seen, WINDOW_S, since, now)
        ]
    return found


def test_mismatch_output_that_follows_its_model_raises_nothing():
    assert run(record(400.0), 50.0, 400.0) == []


@pytest.mark.parametrize("seed", [2, 3, 4])
def test_mismatch_noise_alone_raises_nothing(seed: int):
    assert run(record(400.0, noise=0.3, seed=seed), 50.0, 400.0) == []


def test_mismatch_drift_the_model_does_not_explain_is_model_mismatch_after_the_window():
    found = run(record(400.0, drift_per_s=0.02), 50.0, 400.0)
    assert found, "a 0.02/s drift against a 0.05 noise must be caught"
    first = found[0][0]
    assert found[0][1] == AnomalyCode.MODEL_MISMATCH.value
    assert first >= MOVE_AT + WINDOW_S  # persistent for the window, never on the first miss


def test_mismatch_gain_tripled_is_model_mismatch():
    assert run(record(400.0, gain=6.0), 50.0, 400.0)


def test_mismatch_gain_off_by_less_than_the_tolerance_is_not():
    assert run(record(400.0, gain=2.6), 50.0, 400.0) == []


def test_mismatch_short_window_seen_is_not_judged():
    samples = record(120.0)
    assert prediction_error([MODEL], samples, "Y", WINDOW_S, 30.0) is None


def test_mismatch_error_reports_the_explained_change():
    judged = prediction_error([MODEL], record(200.0, noise=0.0), "Y", WINDOW_S, MOVE_AT + 30.0)
    assert judged is not None
    assert judged.explained == pytest.approx(float(step(MODEL, np.array([30.0]))[0]), rel=1e-6)
    assert abs(judged.error) < 0.3  # the edge means lag a step by a few samples, well inside the band


def test_mismatch_takes_the_ai_off_the_loops_that_move_the_variable():
    (anomaly,) = check_model_mismatch(
        CSTR.models,
        {"TT-101": [(float(t), 325.0 + 0.1 * t) for t in range(200)]},
        49.0,
        {"TT-101": 100.0},
        199.0,
    )
    assert anomaly.code is AnomalyCode.MODEL_MISMATCH and anomaly.subject == "TT-101"
    assert affected_loops(CSTR, anomaly) == ["TIC-101"]
