"""The look-ahead: step responses (first and second order), superposition, and the admissible interval of a
move."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from otgate.core.prediction import (
    TREND_WINDOW_S,
    Bound,
    admissible_move,
    changes,
    forecast,
    still_to_come,
    trend_window_s,
    worst_excursion,
)
from otgate.core.step_response import StepModel, step
from tests.core.test_step_response import SWING

pytestmark = pytest.mark.requirement("R-42")

T_SP = StepModel("TIC-101.RSP", "TT-101", gain=1.0, tau_s=60.0, dead_time_s=5.0)
FEED = StepModel("FT-101", "TT-101", gain=0.5, tau_s=30.0, dead_time_s=0.0)
ENVELOPE = {"TT-101": Bound(hi=335.0)}


@given(
    ages=st.lists(st.floats(0.0, 900.0), min_size=1, max_size=8),
    sizes=st.lists(st.floats(-3.0, 3.0), min_size=8, max_size=8),
)
def test_past_changes_fold_like_their_direct_sum(ages: list[float], sizes: list[float]):
    """What past changes still do, folded into one complex weight per term, equals the plain sum of
    size * (s(age + t) - s(age)) over the changes, for both forms and across their dead times."""
    times = np.linspace(5.0, 400.0, 40)
    a, d = np.array(ages), np.array(sizes[: len(ages)])
    for model in (SWING, T_SP):
        direct = sum(
            size * (step(model, age + times) - step(model, np.array([age])))
            for age, size in zip(a, d, strict=True)
        )
        assert still_to_come(model, a, d, times) == pytest.approx(direct, abs=1e-9)


def test_step_response_known_points():
    t = np.array([0.0, 4.9, 5.0, 65.0, 1e6])
    assert step(T_SP, t) == pytest.approx([0.0, 0.0, 0.0, 1 - math.exp(-1), 1.0])


def test_forecast_at_rest_is_flat():
    fc = forecast([T_SP], {"TT-101": 330.0}, {}, now=1000.0, horizon=245.0)
    assert fc.base["TT-101"] == pytest.approx(np.full(40, 330.0))


def test_forecast_finishes_a_recent_setpoint_step():
    history = {"TIC-101.RSP": [(980.0, 328.0), (990.0, 330.0)], "TT-101": [(990.0, 328.0)]}
    fc = forecast([T_SP], {"TT-101": 328.0}, history, now=1000.0, horizon=600.0)
    # 10 s after a +2 K step: 2*(s(10 + t) - s(10)) still to come.
    expected = 328.0 + 2.0 * (step(T_SP, 10.0 + fc.times) - step(T_SP, np.array([10.0]))[0])
    assert fc.base["TT-101"] == pytest.approx(expected)
    assert fc.base["TT-101"][-1] > 329.8


def test_admissible_interval_is_the_room_left_by_the_gain():
    fc = forecast([T_SP], {"TT-101": 330.0}, {}, now=0.0, horizon=245.0)
    lo, hi = admissible_move([T_SP], ENVELOPE, fc, "TIC-101.RSP")
    assert lo == -math.inf
    assert hi == pytest.approx(5.0 / step(T_SP, fc.times).max())


def test_queued_move_of_another_input_uses_up_the_room():
    fc = forecast([T_SP, FEED], {"TT-101": 330.0}, {}, now=0.0, horizon=245.0)
    _, hi_alone = admissible_move([T_SP, FEED], ENVELOPE, fc, "TIC-101.RSP")
    _, hi_joint = admissible_move([T_SP, FEED], ENVELOPE, fc, "TIC-101.RSP", {"FT-101": 6.0})
    assert 0.0 < hi_joint < hi_alone - 2.5  # the feed's +6 brings +3 K, faster than the setpoint's response


def test_queued_move_of_the_same_input_is_superseded_by_the_proposal():
    fc = forecast([T_SP], {"TT-101": 330.0}, {}, now=0.0, horizon=245.0)
    _, hi = admissible_move([T_SP], ENVELOPE, fc, "TIC-101.RSP", {"TIC-101.RSP": 4.0})
    assert hi == pytest.approx(5.0 / step(T_SP, fc.times).max())


def test_unexplained_rise_continues_in_the_prediction():
    history = {"TT-101": [(970.0 + k, 330.0 + 0.01 * k) for k in range(31)]}
    fc = forecast([T_SP], {"TT-101": 330.3}, history, now=1000.0, horizon=245.0)
    assert fc.base["TT-101"][-1] > 330.3 + 0.01 * 60 * 0.9  # the drift, decaying with tau


def test_worst_excursion_names_variable_time_and_size():
    fc = forecast([T_SP], {"TT-101": 330.0}, {}, now=0.0, horizon=245.0)
    worst = worst_excursion([T_SP], ENVELOPE, fc, "TIC-101.RSP", 8.0)
    assert worst is not None and worst.output == "TT-101" and worst.by > 2.5 and worst.at_s > 100


@given(
    gain=st.floats(-3.0, 3.0).filter(lambda g: abs(g) > 0.05),
    tau=st.floats(0.0, 120.0),
    dead=st.floats(0.0, 30.0),
    current=st.floats(300.0, 345.0),
    past_step=st.floats(-5.0, 5.0),
    age=st.floats(0.0, 200.0),
    queued=st.floats(-5.0, 5.0),
    lo=st.floats(290.0, 320.0),
    width=st.floats(5.0, 40.0),
    pick=st.floats(0.001, 0.999),
)
def test_moves_inside_admissible_never_push_the_prediction_out(
    gain: float,
    tau: float,
    dead: float,
    current: float,
    past_step: float,
    age: float,
    queued: float,
    lo: float,
    width: float,
    pick: float,
):
    model = StepModel("U", "Y", gain, tau, dead)
    disturbance = StepModel("D", "Y", 0.7, 20.0, 0.0)
    models = [model, disturbance]
    envelope = {"Y": Bound(lo, lo + width)}
    history = {"U": [(1000.0 - age - 1, 0.0), (1000.0 - age, past_step)]}
    fc = forecast(models, {"Y": current}, history, now=1000.0, horizon=300.0)
    d_lo, d_hi = admissible_move(models, envelope, fc, "U", {"D": queued})
    base = fc.base["Y"] + queued * step(disturbance, fc.times)
    g = step(model, fc.times)
    ceiling, floor = np.maximum(lo + width, base), np.minimum(lo, base)
    if d_lo <= d_hi:  # an interval exists: every move strictly inside keeps to the envelope (or the base)
        lo_f = max(d_lo, -1e3)
        hi_f = min(d_hi, 1e3)
        move = lo_f + pick * (hi_f - lo_f)
        predicted = base + move * g
        assert np.all(predicted <= ceiling + 1e-7) and np.all(predicted >= floor - 1e-7)
    for outside in (d_hi + 0.01, d_lo - 0.01):
        if math.isfinite(outside):  # and just outside, some point breaks it: the interval is tight
            predicted = base + outside * g
            assert np.any(predicted > ceiling + 1e-9) or np.any(predicted < floor - 1e-9)


# A slow plant's model (the Ricker production rate into reactor pressure): half-hour time constant.
SLOW = StepModel("FIC-204.RSP", "PT-201", gain=10.0, tau_s=2000.0, dead_time_s=400.0)


def test_noise_on_a_slow_output_is_not_extrapolated_as_a_trend():
    noise = np.random.default_rng(7).normal(0.0, 1.0, 600)
    history = {"PT-201": [(400.0 + k, 2700.0 + float(noise[k])) for k in range(600)]}
    fc = forecast([SLOW], {"PT-201": 2700.0}, history, now=999.0, horizon=8400.0)
    # A 30 s slope of 1 kPa noise, extrapolated over 2000 s, would move this by tens of kPa.
    assert np.abs(fc.base["PT-201"] - 2700.0).max() < 3.0


def test_significant_drift_on_a_slow_output_is_extrapolated_with_its_decay():
    noise = np.random.default_rng(8).normal(0.0, 1.0, 600)
    history = {"PT-201": [(400.0 + k, 2700.0 + 0.05 * k + float(noise[k])) for k in range(600)]}
    fc = forecast([SLOW], {"PT-201": 2730.0}, history, now=999.0, horizon=8400.0)
    # 0.05 kPa/s decaying with 2000 s: 100 kPa in the end, 0.05 * 2000 * (1 - exp(-4.2)) at the horizon.
    assert fc.base["PT-201"][-1] - 2730.0 == pytest.approx(0.05 * 2000.0 * (1 - math.exp(-4.2)), rel=0.1)


def test_trend_window_grows_with_the_time_constant():
    assert trend_window_s(7.0) == TREND_WINDOW_S
    assert trend_window_s(2000.0) == pytest.approx(250.0)


def test_changes_of_change_points_equal_those_of_every_sample():
    every = [(float(t), 100.0 if t < 50 else 102.0 if t < 80 else 101.0) for t in range(200)]
    points = [(49.0, 100.0), (50.0, 102.0), (79.0, 102.0), (80.0, 101.0)]
    for memory_s in (500.0, 149.0, 125.0):
        ages_every, sizes_every = changes(every, 199.0, memory_s)
        ages_points, sizes_points = changes(points, 199.0, memory_s)
        # Zero changes (between the two samples of a hold) move nothing in any sum.
        assert ages_points[sizes_points != 0].tolist() == ages_every[sizes_every != 0].tolist()
        assert sizes_points[sizes_points != 0].tolist() == sizes_every[sizes_every != 0].tolist()


@pytest.mark.parametrize("model", [SWING, T_SP], ids=["swing", "first_order"])
def test_a_ramp_inside_the_dead_time_folds_like_its_direct_sum(model: StepModel):
    """A setpoint ramped in a thousand small steps, most of them still inside the dead time: the running
    sums give what one grid per change gives."""
    ages = np.linspace(0.0, 2.0 * model.dead_time_s, 1000)
    sizes = np.random.default_rng(4).uniform(-0.2, 0.3, ages.size)
    times = np.linspace(1.0, 600.0, 40)
    direct = sizes @ (step(model, ages[:, None] + times[None, :]) - step(model, ages)[:, None])
    assert still_to_come(model, ages, sizes, times) == pytest.approx(direct, abs=1e-9)


def test_a_dead_time_of_many_time_constants_is_summed_without_overflow():
    sharp = StepModel("TIC-101.RSP", "TT-101", gain=1.0, tau_s=0.01, dead_time_s=21.0)  # 2100 tau ahead
    ages, sizes, times = np.array([0.5, 3.0]), np.array([1.0, -0.5]), np.linspace(1.0, 60.0, 40)
    direct = sizes @ (step(sharp, ages[:, None] + times[None, :]) - step(sharp, ages)[:, None])
    assert np.all(np.isfinite(still_to_come(sharp, ages, sizes, times)))
    assert still_to_come(sharp, ages, sizes, times) == pytest.approx(direct, abs=1e-9)
