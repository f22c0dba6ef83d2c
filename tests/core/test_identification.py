"""FOPDT identification from bump-test records."""

from __future__ import annotations

import numpy as np
import pytest

from otgate.core.identification import fit_fopdt, fit_two_fopdt


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
    two = fit_two_fopdt(u, y, 3.0, 120.0, 1000.0)
    fast, slow = two.terms
    assert fast.gain == pytest.approx(-1.5, rel=0.15)
    assert slow.gain == pytest.approx(3.0, rel=0.05)
    assert slow.tau_s == pytest.approx(600.0, rel=0.2)
    assert fast.tau_s < slow.tau_s
    assert two.rms < 0.3 * one.rms  # one term cannot draw the dip
    assert two.explained > 0.999


def test_fit_two_refuses_a_record_whose_input_never_moved():
    with pytest.raises(ValueError, match="never moved"):
        fit_two_fopdt(np.zeros(100), np.zeros(100), 1.0, 10.0, 100.0)
