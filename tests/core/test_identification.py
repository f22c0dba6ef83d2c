"""Identification of step-response models (first and second order) from bump-test records."""

from __future__ import annotations

import numpy as np
import pytest

from otgate.core.identification import fit_fopdt, fit_one_term, fit_two_terms
from otgate.core.step_response import StepModel
from tests.core.test_step_response import integrated


def fopdt(u: np.ndarray, gain: float, tau: float, dead: int) -> np.ndarray:
    y = np.zeros_like(u)
    a = np.exp(-1.0 / tau)
    for k in range(1, len(u)):
        y[k] = a * y[k - 1] + (1 - a) * gain * (u[k - 1 - dead] - u[0] if k - 1 - dead >= 0 else 0.0)
    return y


def test_fit_recovers_a_known_model_from_a_bump():
    u = np.r_[np.zeros(60), np.ones(600)]
    y = 300.0 + fopdt(u, 2.0, 45.0, 12) + np.random.default_rng(1).normal(0, 0.01, len(u))
    fit = fit_fopdt(u, y, 1.0, 60.0, 600.0)
    assert fit.gain == pytest.approx(2.0, rel=0.03)
    assert fit.tau_s == pytest.approx(45.0, rel=0.1)
    assert fit.dead_time_s == pytest.approx(13.0, abs=2.0)  # the record's one-sample hold counts as delay
    assert fit.explained > 0.99


def test_fit_refuses_a_record_whose_input_never_moved():
    with pytest.raises(ValueError, match="never moved"):
        fit_fopdt(np.zeros(100), np.zeros(100), 1.0, 10.0, 100.0)


def test_fit_two_recovers_an_inverse_response_and_beats_one_term():
    # A fast negative term and a slow positive one: the output dips, then settles above its start.
    u = np.r_[np.zeros(60), np.ones(3000)]
    y = 5.0 + fopdt(u, -1.5, 60.0, 10) + fopdt(u, 3.0, 600.0, 40)
    y += np.random.default_rng(2).normal(0, 0.01, len(u))
    u, y = u[::3], y[::3]  # a 3 s grid, as `otgate identify` thins long records
    one = fit_fopdt(u, y, 3.0, 120.0, 1000.0)
    two = fit_two_terms(u, y, 3.0, 120.0, 1000.0)
    fast, slow = two.terms
    assert fast.gain == pytest.approx(-1.5, rel=0.15)
    assert slow.gain == pytest.approx(3.0, rel=0.05)
    assert slow.tau_s == pytest.approx(600.0, rel=0.2)
    assert fast.tau_s < slow.tau_s
    assert two.rms < 0.3 * one.rms  # one term cannot draw the dip
    assert two.explained > 0.999


def test_fit_two_refuses_a_record_whose_input_never_moved():
    with pytest.raises(ValueError, match="never moved"):
        fit_two_terms(np.zeros(100), np.zeros(100), 1.0, 10.0, 100.0)


def test_fit_two_terms_draws_a_swing_with_a_second_order_term():
    """A first-order rise with a slow underdamped swing on it (the Ricker pressure's answer to its
    setpoints): the record comes from integrating the differential equation, not from the fitter's own
    step response. With second-order candidates the fit finds the swing; first-order terms cannot."""
    swing = StepModel("u", "y", gain=2.0, tau_s=300.0, dead_time_s=0.0, damping=0.25)
    times, values = integrated(swing, 6000.0, dt=0.05)
    grid = np.arange(0.0, 6000.0, 10.0)
    u = np.r_[np.zeros(6), np.ones(len(grid))]
    y = np.r_[np.zeros(6), np.interp(grid, times, values)] + fopdt(u, 1.0, 20.0, 0)  # tau 200 s on 10 s
    y += np.random.default_rng(3).normal(0, 0.01, len(u))
    first_order = fit_two_terms(u, y, 10.0, 300.0, 3000.0)
    both = fit_two_terms(u, y, 10.0, 300.0, 3000.0, second_order=True)
    # The split between the two terms is not unique on a grid; the swing and the end value are.
    assert any(term.damping is not None for term in both.terms)
    assert sum(term.gain for term in both.terms) == pytest.approx(3.0, rel=0.05)
    assert both.rms < 0.3 * first_order.rms  # 0.059 vs 0.224 here: the grids, not the form, limit it
    assert both.explained > 0.999


def test_fit_one_term_with_second_order_candidates_prefers_the_swing():
    swing = StepModel("u", "y", gain=-1.5, tau_s=200.0, dead_time_s=0.0, damping=0.3)
    times, values = integrated(swing, 4000.0, dt=0.05)
    grid = np.arange(0.0, 4000.0, 10.0)
    u = np.r_[np.zeros(6), np.ones(len(grid))]
    y = np.r_[np.zeros(6), np.interp(grid, times, values)]
    fit = fit_one_term(u, y, 10.0, 300.0, 2000.0, second_order=True)
    (term,) = fit.terms
    assert term.damping == pytest.approx(0.3, abs=0.1)
    assert term.gain == pytest.approx(-1.5, rel=0.05)
    assert fit.rms < 0.3 * fit_fopdt(u, y, 10.0, 300.0, 2000.0).rms  # 0.044 vs 0.173 here
