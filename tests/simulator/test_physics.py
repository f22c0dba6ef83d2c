"""Plant physics against the [measured] numbers of PLANTS.md."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from otgate_simulator.pid import PiState, pi_step
from otgate_simulator.plants import PLANTS, cstr, ricker, tank
from otgate_simulator.programs.cstr import TEMP_LOOP

# ------------------------------------------------------------------------------------------------ tank


def _tank_rate_mm_per_min(state: tank.TankState, inputs: tank.TankInputs) -> float:
    after = state
    for _ in range(120):
        after = tank.step(after, inputs, 0.5)
    return (after.level_m - state.level_m) * 1000.0


def test_tank_fill_valve_open_pump_off_matches_mass_balance() -> None:
    start = tank.TankState(level_m=0.5, valve=1.0)
    rate = _tank_rate_mm_per_min(start, tank.TankInputs(valve_cmd=1.0, pump_on=False))
    assert rate == pytest.approx(5.0 / (60 * 1.5) * 1000.0, rel=1e-6)
    assert rate == pytest.approx(55.6, rel=0.02)


def test_tank_drain_valve_closed_pump_on_matches_mass_balance() -> None:
    start = tank.TankState(level_m=0.8, valve=0.0)
    rate = _tank_rate_mm_per_min(start, tank.TankInputs(valve_cmd=0.0, pump_on=True))
    assert -rate == pytest.approx(27.2, rel=0.02)


def test_tank_nominal_state_is_balanced() -> None:
    state = tank.initial_state()
    after = tank.step(state, tank.TankInputs(valve_cmd=state.valve), 60.0)
    assert state.level_m == 0.65
    assert after.level_m == pytest.approx(0.65, abs=1e-9)


def test_tank_overfill_clamps_at_rim() -> None:
    state = tank.TankState(level_m=1.59, valve=1.0)
    after = tank.step(state, tank.TankInputs(valve_cmd=1.0, pump_on=False), 600.0)
    assert after.level_m == 1.6


def test_tank_empty_tank_stays_at_zero() -> None:
    state = tank.TankState(level_m=0.01, valve=0.0)
    after = tank.step(state, tank.TankInputs(valve_cmd=0.0, extra_outflow_m3h=3.0), 600.0)
    assert after.level_m == 0.0


def test_tank_valve_lag_reaches_63_percent_after_tau() -> None:
    state = tank.TankState(level_m=0.65, valve=0.0)
    after = tank.step(state, tank.TankInputs(valve_cmd=1.0), 5.0)
    assert after.valve == pytest.approx(1 - np.exp(-1.0), abs=1e-3)


# ------------------------------------------------------------------------------------------------ CSTR


def _cstr_energy_balance(temp_k: float, coolant_k: float) -> float:
    # Steady state: C_A from the mass balance substituted into dT/dt.
    x = np.array([cstr.steady_coolant_k(temp_k)[0], temp_k, coolant_k])
    return float(cstr.derivative_per_min(x, cstr.CstrInputs(coolant_sp_k=coolant_k))[1])


def _bisect(lo: float, hi: float, coolant_k: float) -> float:
    f_lo = _cstr_energy_balance(lo, coolant_k)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        f_mid = _cstr_energy_balance(mid, coolant_k)
        if (f_mid > 0) == (f_lo > 0):
            lo, f_lo = mid, f_mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


@pytest.mark.parametrize(
    ("bracket", "expected_k"), [((300, 340), 324.5), ((340, 360), 350.0), ((360, 400), 369.7)]
)
def test_cstr_open_loop_steady_states_at_tc_300_match_reference(
    bracket: tuple[float, float], expected_k: float
) -> None:
    assert _bisect(*bracket, coolant_k=300.0) == pytest.approx(expected_k, abs=0.5)


@pytest.mark.parametrize("offset_k", [-3.0, 3.0])
def test_cstr_open_loop_from_nearby_start_settles_on_cold_branch(offset_k: float) -> None:
    conc = cstr.steady_coolant_k(324.5)[0]
    state = cstr.CstrState(conc_mol_l=conc, temp_k=324.5 + offset_k, coolant_k=300.0)
    state = cstr.step(state, cstr.CstrInputs(coolant_sp_k=300.0), 20 * 60.0)
    assert state.temp_k == pytest.approx(324.5, abs=0.5)


def _eigenvalues_at(temp_k: float) -> np.ndarray:
    x = np.array([cstr.steady_coolant_k(temp_k)[0], temp_k, 300.0])
    inputs = cstr.CstrInputs(coolant_sp_k=300.0)
    jacobian = np.zeros((2, 2))
    for j in range(2):
        dx = np.zeros(3)
        dx[j] = 1e-6
        diff = cstr.derivative_per_min(x + dx, inputs) - cstr.derivative_per_min(x - dx, inputs)
        jacobian[:, j] = diff[:2] / 2e-6
    return np.linalg.eigvals(jacobian)


def test_cstr_middle_steady_state_is_the_reference_saddle() -> None:
    eigenvalues = sorted(_eigenvalues_at(_bisect(340, 360, coolant_k=300.0)).real)
    assert eigenvalues == pytest.approx([-0.454, 2.83], abs=0.01)


def test_cstr_hot_steady_state_is_an_unstable_focus() -> None:
    # PLANTS.md calls 369.7 K stable, but with these parameters the linearisation there has eigenvalues
    # +1.36 ± 1.54i 1/min (trace > 0), and trajectories from 369.7 ± 3 K spiral out to the cold branch.
    eigenvalues = _eigenvalues_at(_bisect(360, 400, coolant_k=300.0))
    assert all(ev.real > 1.0 and abs(ev.imag) > 1.0 for ev in eigenvalues)


def test_cstr_nominal_state_is_steady_at_325k() -> None:
    state = cstr.initial_state()
    x = np.array([state.conc_mol_l, state.temp_k, state.coolant_k])
    assert np.abs(cstr.derivative_per_min(x, cstr.CstrInputs(coolant_sp_k=state.coolant_k))).max() < 1e-9
    assert cstr.conversion(state) == pytest.approx(0.13, abs=0.005)


def _closed_loop_peak(sp_k: float, minutes: float) -> tuple[float, float]:
    state = cstr.initial_state()
    pi = PiState(state.coolant_k, last_error=0.0)
    peak = state.temp_k
    for _ in range(int(minutes * 120)):
        pi = pi_step(TEMP_LOOP.tuning, pi, sp_k, state.temp_k, 0.5)
        state = cstr.step(state, cstr.CstrInputs(coolant_sp_k=pi.output), 0.5)
        peak = max(peak, state.temp_k)
    return peak, state.temp_k


def test_cstr_closed_loop_step_to_340k_ignites() -> None:
    peak, _ = _closed_loop_peak(340.0, 10.0)
    assert peak > 450.0


def test_cstr_closed_loop_step_to_330k_settles() -> None:
    peak, final = _closed_loop_peak(330.0, 15.0)
    assert peak < 332.0
    assert final == pytest.approx(330.0, abs=0.1)


def test_cstr_quench_kills_reaction() -> None:
    state = cstr.step(
        cstr.initial_state(), cstr.CstrInputs(coolant_sp_k=250.0, feed_open=False, quench=True), 1.0
    )
    assert state.conc_mol_l == 0.0


def test_cstr_runaway_stays_finite() -> None:
    state = cstr.CstrState(conc_mol_l=1.0, temp_k=400.0, coolant_k=350.0)
    for _ in range(600):
        state = cstr.step(state, cstr.CstrInputs(coolant_sp_k=350.0), 1.0)
        assert np.isfinite(state.temp_k)


# ------------------------------------------------------------------------------------------------ Ricker


def test_ricker_nominal_holdups_are_a_steady_state() -> None:
    x = ricker.to_array(ricker.initial_state())
    residual = ricker.derivative_per_h(x, ricker.RickerInputs(ricker.NOMINAL_VALVES_PCT))
    out = ricker.outputs(x)
    assert np.abs(residual).max() < 1e-3
    assert out.pressure_kpa == pytest.approx(2700.0, abs=1.0)
    assert out.level_pct == pytest.approx(44.18, abs=0.01)
    assert out.flows_kmol_h == pytest.approx((201.4, 5.62, 7.05, 100.0), abs=0.05)
    assert (out.ya, out.yb, out.yc) == pytest.approx((0.47, 0.143, 0.387), abs=0.001)


def test_ricker_nominal_valves_held_open_loop_keep_2700_kpa() -> None:
    state = ricker.initial_state()
    inputs = ricker.RickerInputs(ricker.NOMINAL_VALVES_PCT)
    for _ in range(120):  # 2 h
        state = ricker.step(state, inputs, 60.0)
    assert ricker.outputs(ricker.to_array(state)).pressure_kpa == pytest.approx(2700.0, abs=10.0)


def test_ricker_feed_valve_forced_open_reaches_shutdown_pressure_in_minutes() -> None:
    state = ricker.initial_state()
    inputs = ricker.RickerInputs((100.0, *ricker.NOMINAL_VALVES_PCT[1:]))
    minutes = 0
    while ricker.outputs(ricker.to_array(state)).pressure_kpa < 3000.0 and minutes < 60:
        state = ricker.step(state, inputs, 60.0)
        minutes += 1
    assert 3 <= minutes <= 10  # PLANTS.md: about 6 min


def test_ricker_liquid_clamped_at_full_vessel() -> None:
    state = ricker.initial_state()
    inputs = ricker.RickerInputs((*ricker.NOMINAL_VALVES_PCT[:3], 0.0))
    for _ in range(18):  # 3 h: the product valve closed fills the vessel in about 1.5 h
        state = ricker.step(state, inputs, 600.0)
    out = ricker.outputs(ricker.to_array(state))
    assert out.level_pct <= 100.0 + 1e-9
    assert np.isfinite(out.pressure_kpa)


def test_ricker_analyser_reports_one_sample_late() -> None:
    state = ricker.initial_state()
    inputs = ricker.RickerInputs((*ricker.NOMINAL_VALVES_PCT[:1], 60.0, *ricker.NOMINAL_VALVES_PCT[2:]))
    seen = []
    for _ in range(int(0.3 * 3600)):
        state = ricker.step(state, inputs, 1.0)
        seen.append(state.analyser_out)
    changes = [i for i in range(1, len(seen)) if seen[i] != seen[i - 1]]
    assert changes[0] == pytest.approx(2 * 360 - 1, abs=1)  # the first changed sample, shown one period later
    assert all(b - a == pytest.approx(360, abs=1) for a, b in itertools.pairwise(changes))


def test_plant_registry_names_all_three() -> None:
    assert set(PLANTS) == {"tank", "cstr", "ricker"}
    for model in PLANTS.values():
        state = model.initial_state()
        assert model.step is not None and state is not None
