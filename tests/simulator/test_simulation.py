"""Simulation: plant + PLC + faults + noise, through the interface the protocol servers use."""

from __future__ import annotations

import hashlib
import struct

import numpy as np
import pytest

from otgate.core.config import Access
from otgate_simulator.faults import (
    ActuatorSluggish,
    ActuatorStuck,
    Bias,
    Disturbance,
    Drift,
    Dropout,
    Freeze,
    NoiseBurst,
    PlcRestart,
    WatchdogBroken,
)
from otgate_simulator.simulation import Simulation, WriteRecord

PLANT_NAMES = ("tank", "cstr", "ricker")


def _write(sim: Simulation, tag: str, value: float) -> bool:
    return sim.write_tag(tag, value, protocol="internal", address=tag)


def _beat(sim: Simulation) -> None:
    _write(sim, "PLC.HEARTBEAT", float(sim.tick_count % 65535 + 1))


def _go_remote(sim: Simulation, loop: str) -> None:
    _beat(sim)
    _write(sim, f"{loop}.MODE_REQ", 2.0)
    sim.tick()
    assert sim.loop_modes()[loop] == "REMOTE"


def _run(sim: Simulation, seconds: float, *, beat: bool = False) -> None:
    for _ in range(int(seconds / sim.dt_s)):
        if beat:
            _beat(sim)
        sim.tick()


def _trace_digest(seed: int, ticks: int = 200) -> str:
    sim = Simulation("tank", seed=seed)
    digest = hashlib.sha256()
    for k in range(ticks):
        if k == 5:
            _go_remote(sim, "LIC-101")
        if k == 20:
            _write(sim, "LIC-101.RSP", 700.0)
        _beat(sim)
        sim.tick()
        row = sim.trace_row()
        digest.update(struct.pack(f"<{len(row)}d", *row))
    return digest.hexdigest()


# ------------------------------------------------------------------------------------------- interface


@pytest.mark.parametrize("plant", PLANT_NAMES)
def test_image_every_config_tag_and_nothing_else(plant: str) -> None:
    sim = Simulation(plant)
    sim.tick()
    assert set(sim.image()) == set(sim.config.tags)
    assert all(np.isfinite(v) for v in sim.image().values())


@pytest.mark.parametrize("plant", PLANT_NAMES)
def test_is_writable_exactly_config_write_access(plant: str) -> None:
    sim = Simulation(plant)
    for name, tag in sim.config.tags.items():
        assert sim.is_writable(name) is (tag.access is Access.WRITE)
    assert not sim.is_writable("NO-SUCH-TAG")


def test_write_tag_read_only_refused_logged_and_ignored() -> None:
    sim = Simulation("cstr")
    accepted = sim.write_tag("TSHH-101.BYPASS", 1.0, protocol="modbus", address="holding:18")
    sim.tick()
    assert not accepted
    assert sim.write_log == [WriteRecord(0.0, "modbus", "TSHH-101.BYPASS", "holding:18", 1.0, False)]
    assert sim.read_tag("TSHH-101.BYPASS") == 0.0


def test_write_tag_writable_logged_with_sim_time() -> None:
    sim = Simulation("tank")
    sim.tick()
    assert sim.write_tag("LIC-101.RSP", 700.0, protocol="opcua", address="ns=2;s=LIC-101.RSP")
    assert sim.write_log[-1] == WriteRecord(1.0, "opcua", "LIC-101.RSP", "ns=2;s=LIC-101.RSP", 700.0, True)


def test_tick_advances_time_by_dt() -> None:
    sim = Simulation("tank")
    _run(sim, 10.0)
    assert (sim.time_s, sim.tick_count) == (10.0, 10)


@pytest.mark.parametrize("plant", PLANT_NAMES)
def test_initial_state_nominal_all_loops_auto_no_trips(plant: str) -> None:
    sim = Simulation(plant)
    assert set(sim.loop_modes().values()) == {"AUTO"}
    assert not any(sim.trips().values())


# --------------------------------------------------------------------------------------------- loops


def test_tank_auto_holds_setpoint() -> None:
    sim = Simulation("tank")
    _run(sim, 1200.0)
    assert sim.true_values()["h_m"] == pytest.approx(0.65, abs=0.01)
    assert sim.read_tag("LIC-101.SP") == 650.0


def test_cstr_auto_holds_setpoint() -> None:
    sim = Simulation("cstr")
    _run(sim, 600.0)
    assert sim.true_values()["T_K"] == pytest.approx(325.0, abs=0.3)


def test_ricker_auto_holds_setpoints() -> None:
    sim = Simulation("ricker")
    _run(sim, 3600.0)
    truth = sim.true_values()
    assert truth["P_kPa"] == pytest.approx(2700.0, abs=10.0)
    assert truth["yA"] == pytest.approx(0.47, abs=0.005)
    assert truth["F4_kmol_h"] == pytest.approx(100.0, abs=1.0)
    assert truth["level_pct"] == pytest.approx(44.18, abs=1.0)


def test_tank_remote_follows_written_setpoint_at_rate_limit() -> None:
    sim = Simulation("tank")
    _go_remote(sim, "LIC-101")
    _write(sim, "LIC-101.RSP", 700.0)
    previous, reached_at = sim.read_tag("LIC-101.SP"), None
    for _ in range(900):
        _beat(sim)
        sim.tick()
        sp = sim.read_tag("LIC-101.SP")
        assert abs(sp - previous) <= 1.0 * sim.dt_s + 1e-9  # PLC ramp 1 mm/s
        previous = sp
        if reached_at is None and sp == 700.0:
            reached_at = sim.time_s
    assert reached_at is not None and reached_at <= 1.0 + 50.0 + 1.0
    assert sim.loop_modes()["LIC-101"] == "REMOTE"
    assert sim.true_values()["h_m"] == pytest.approx(0.70, abs=0.01)


def test_cstr_remote_follows_written_setpoint_and_settles() -> None:
    sim = Simulation("cstr")
    _go_remote(sim, "TIC-101")
    _write(sim, "TIC-101.RSP", 330.0)
    _run(sim, 240.0, beat=True)
    assert sim.read_tag("TIC-101.SP") == pytest.approx(325.0 + 4.0, abs=0.02)  # 1 K/min
    _run(sim, 900.0, beat=True)
    assert sim.read_tag("TIC-101.SP") == 330.0
    assert sim.true_values()["T_K"] == pytest.approx(330.0, abs=0.3)


def test_cstr_remote_setpoint_above_plc_clamp_stops_at_clamp() -> None:
    sim = Simulation("cstr")
    _go_remote(sim, "TIC-101")
    _write(sim, "TIC-101.RSP", 400.0)
    sim.set_bypass("TSHH-101", True)
    _run(sim, 60.0 * 30, beat=True)
    assert sim.read_tag("TIC-101.SP") == 345.0


def test_cstr_remote_ramp_to_340k_ignites_with_trip_bypassed() -> None:
    sim = Simulation("cstr")
    sim.set_bypass("TSHH-101", True)
    _go_remote(sim, "TIC-101")
    _write(sim, "TIC-101.RSP", 340.0)
    peak = 0.0
    for _ in range(40 * 60):
        _beat(sim)
        sim.tick()
        peak = max(peak, sim.true_values()["T_K"])
    assert peak > 450.0
    assert not sim.trips()["TSHH-101"]


def test_ricker_remote_pressure_setpoint_followed_at_rate_limit() -> None:
    sim = Simulation("ricker")
    _go_remote(sim, "PIC-201")
    _write(sim, "PIC-201.RSP", 2750.0)
    _run(sim, 60.0, beat=True)
    assert sim.read_tag("PIC-201.SP") == pytest.approx(2720.0, abs=0.5)  # 20 kPa/min
    _run(sim, 3600.0, beat=True)
    # The purge is a weak handle on pressure (7 of 200 kmol/h): P climbs over hours, the valve closes at once.
    assert 2705.0 < sim.true_values()["P_kPa"] < 2750.0
    assert sim.read_tag("PIC-201.OUT") < 35.0


def test_ricker_pressure_above_2900_overrides_production_setpoint() -> None:
    sim = Simulation("ricker")
    sim.inject(Bias("PT-201", 250.0))  # the PLC believes P ≈ 2950 kPa
    _run(sim, 2.0)
    assert sim.read_tag("FIC-204.SP") == pytest.approx(100.0 - 50.0, abs=5.0)


def test_heartbeat_stops_remote_sheds_within_timeout_plus_one_scan_and_stays() -> None:
    sim = Simulation("tank")
    _go_remote(sim, "LIC-101")
    _write(sim, "LIC-101.RSP", 700.0)
    _run(sim, 5.0, beat=True)
    _beat(sim)
    last_beat_s = sim.time_s
    while sim.loop_modes()["LIC-101"] == "REMOTE":
        sp_before = sim.read_tag("LIC-101.SP")
        sim.tick()
    assert sim.time_s - last_beat_s <= 10.0 + 0.5 + 0.5  # timeout + one scan, rounded up to the tick
    assert sim.read_tag("LIC-101.SP") == pytest.approx(sp_before, abs=1.0)  # no jump at the shed
    _run(sim, 60.0, beat=True)  # heartbeat back, no new request
    assert sim.loop_modes()["LIC-101"] == "AUTO"


def test_remote_request_with_dead_heartbeat_refused() -> None:
    sim = Simulation("tank")
    _run(sim, 20.0)
    _write(sim, "LIC-101.MODE_REQ", 2.0)
    sim.tick()
    assert sim.loop_modes()["LIC-101"] == "AUTO"


def test_operator_man_output_moves_valve() -> None:
    sim = Simulation("tank")
    sim.set_loop_mode("LIC-101", "MAN")
    sim.set_manual_output("LIC-101", 100.0)
    _run(sim, 60.0)
    assert sim.loop_modes()["LIC-101"] == "MAN"
    assert sim.true_values()["valve_frac"] > 0.99


# --------------------------------------------------------------------------------------------- trips


def test_tank_lshh_trips_closes_inlet_and_latches() -> None:
    sim = Simulation("tank")
    sim.set_loop_mode("LIC-101", "MAN")
    sim.set_manual_output("LIC-101", 100.0)
    sim.inject(Disturbance("extra_inflow_m3h", 5.0))
    while not sim.trips()["LSHH-101"]:
        sim.tick()
    assert sim.true_values()["h_m"] == pytest.approx(1.2, abs=0.01)
    sim.clear_faults()
    _run(sim, 600.0)
    assert sim.read_tag("LSHH-101") == 1.0 and sim.read_tag("LIC-101.OUT") == 0.0
    assert sim.true_values()["h_m"] < 1.0
    sim.reset_trips()
    assert not sim.trips()["LSHH-101"]


def test_tank_lsll_trips_stops_pump() -> None:
    sim = Simulation("tank")
    sim.set_loop_mode("LIC-101", "MAN")
    sim.set_manual_output("LIC-101", 0.0)
    sim.inject(Disturbance("extra_outflow_m3h", 5.0))
    _run(sim, 600.0)
    assert sim.trips()["LSLL-101"]
    assert sim.read_tag("P-101.RUN") == 0.0
    assert sim.true_values()["FT-102"] == 0.0


def test_cstr_cooling_lost_trips_tshh_quenches_and_latches() -> None:
    sim = Simulation("cstr")
    sim.inject(ActuatorStuck("TIC-101.OUT", position=350.0))
    while not sim.trips()["TSHH-101"]:
        sim.tick()
    assert sim.true_values()["T_K"] >= 350.0
    assert sim.true_values()["T_K"] < 350.0 + 10.0  # seen within one scan
    sim.tick()
    assert sim.read_tag("XV-101") == 0.0 and sim.true_values()["C_A_mol_L"] == 0.0
    sim.clear_faults()
    _run(sim, 600.0)
    assert sim.trips()["TSHH-101"] and sim.true_values()["T_K"] < 340.0


def test_cstr_tshh_bypassed_does_not_trip() -> None:
    sim = Simulation("cstr")
    sim.set_bypass("TSHH-101", True)
    sim.inject(ActuatorStuck("TIC-101.OUT", position=350.0))
    _run(sim, 120.0)
    assert sim.true_values()["T_K"] > 350.0
    assert not sim.trips()["TSHH-101"]


def test_ricker_feed_valve_wide_open_trips_pshh_and_closes_feeds() -> None:
    sim = Simulation("ricker")
    sim.set_loop_mode("FIC-204", "MAN")
    sim.set_manual_output("FIC-204", 100.0)
    while not sim.trips()["PSHH-201"] and sim.time_s < 3600.0:
        sim.tick()
    assert sim.trips()["PSHH-201"]
    assert 3 * 60 <= sim.time_s <= 12 * 60  # PLANTS.md: about 6 min
    assert sim.read_tag("FIC-204.OUT") == 0.0 and sim.read_tag("AIC-201.OUT") == 0.0


# -------------------------------------------------------------------------------------------- faults


def test_fault_freeze_holds_reported_value() -> None:
    sim = Simulation("tank")
    sim.set_loop_mode("LIC-101", "MAN")
    sim.set_manual_output("LIC-101", 100.0)
    sim.inject(Freeze("LIT-101"))
    frozen = sim.read_tag("LIT-101")
    _run(sim, 60.0)
    assert sim.read_tag("LIT-101") == frozen
    assert sim.true_values()["LIT-101"] > frozen + 20.0


def test_fault_bias_and_drift_shift_measurement_not_truth() -> None:
    sim = Simulation("cstr", seed=3)
    sim.inject(Bias("TT-101B", 5.0))
    sim.inject(Drift("TT-102", -0.1))
    _run(sim, 100.0)
    truth = sim.true_values()
    assert sim.read_tag("TT-101B") - truth["TT-101B"] == pytest.approx(5.0, abs=0.3)
    assert sim.read_tag("TT-102") - truth["TT-102"] == pytest.approx(-10.0, abs=0.3)


def test_fault_dropout_fails_low_and_clears() -> None:
    sim = Simulation("ricker")
    sim.inject(Dropout("FT-203"))
    sim.tick()
    assert sim.read_tag("FT-203") == 0.0
    sim.clear_faults("FT-203")
    sim.tick()
    assert sim.read_tag("FT-203") > 5.0


def test_fault_noise_burst_widens_spread() -> None:
    sim = Simulation("tank", seed=1)

    def spread() -> float:
        errors = []
        for _ in range(100):
            sim.tick()
            errors.append(sim.read_tag("FT-101") - sim.true_values()["FT-101"])
        return float(np.std(errors))

    quiet = spread()
    sim.inject(NoiseBurst("FT-101", 0.5))
    assert spread() > 10 * quiet


def test_fault_stuck_actuator_ignores_controller() -> None:
    sim = Simulation("ricker")
    sim.inject(ActuatorStuck("PIC-201.OUT"))
    position = sim.true_values()["X3_pct"]
    sim.inject(Bias("PT-201", 100.0))  # the controller now opens the purge, but the valve does not move
    _run(sim, 120.0)
    assert sim.read_tag("PIC-201.OUT") > position + 1.0
    assert sim.true_values()["X3_pct"] == pytest.approx(position, abs=1e-9)


def test_fault_sluggish_actuator_lags_more() -> None:
    def position_after(factor: float) -> float:
        sim = Simulation("tank")
        if factor != 1.0:
            sim.inject(ActuatorSluggish("LIC-101.OUT", factor))
        sim.set_loop_mode("LIC-101", "MAN")
        sim.set_manual_output("LIC-101", 100.0)
        _run(sim, 5.0)
        return sim.true_values()["valve_frac"]

    assert position_after(10.0) < position_after(1.0) - 0.2


def test_fault_cstr_feed_temperature_step_rejected_by_pi() -> None:
    sim = Simulation("cstr")
    sim.inject(Disturbance("feed_temp_k", 355.0))
    _run(sim, 60.0)
    assert sim.true_values()["T_K"] > 325.2
    _run(sim, 1800.0)
    assert sim.true_values()["T_K"] == pytest.approx(325.0, abs=0.3)


def test_fault_ricker_feed_composition_step_moves_purge() -> None:
    sim = Simulation("ricker")
    sim.inject(Disturbance("feed_ya", 0.5))
    _run(sim, 1800.0)
    assert sim.read_tag("AIC-201.OUT") < 25.0  # less pure A needed


def test_fault_unknown_targets_rejected() -> None:
    sim = Simulation("tank")
    with pytest.raises(ValueError, match="measurement"):
        sim.inject(Bias("LIC-101.SP", 1.0))
    with pytest.raises(ValueError, match="output"):
        sim.inject(ActuatorStuck("LIT-101"))
    with pytest.raises(ValueError, match="disturbance"):
        sim.inject(Disturbance("feed_temp_k", 1.0))


def test_plc_restart_fault_resets_registers_and_counts() -> None:
    sim = Simulation("ricker")
    _go_remote(sim, "PIC-201")
    _write(sim, "PIC-201.RSP", 2720.0)
    _run(sim, 30.0, beat=True)
    sim.inject(PlcRestart())
    assert sim.read_tag("PLC.RESTARTS") == 1.0
    assert set(sim.loop_modes().values()) == {"AUTO"}
    assert sim.read_tag("PIC-201.SP") == 2700.0 and sim.read_tag("PLC.HEARTBEAT") == 0.0
    sim.restart_plc()
    assert sim.read_tag("PLC.RESTARTS") == 2.0


# ------------------------------------------------------------------------------------------ determinism


def test_trace_same_seed_identical_bytes() -> None:
    assert _trace_digest(seed=42) == _trace_digest(seed=42)


def test_trace_different_seed_differs() -> None:
    assert _trace_digest(seed=42) != _trace_digest(seed=43)


def test_noise_streams_independent_per_tag() -> None:
    # Adding a fault with its own stream must not shift the sensor noise of other tags.
    plain, faulted = Simulation("tank", seed=5), Simulation("tank", seed=5)
    faulted.inject(NoiseBurst("FT-102", 1.0))
    _run(plain, 10.0)
    _run(faulted, 10.0)
    assert plain.read_tag("FT-101") == faulted.read_tag("FT-101")


def test_simulation_watchdog_broken_fault_keeps_remote_until_cleared_and_shed_timeout_settable():
    sim = Simulation("tank")
    sim.set_shed_timeout(2.0)
    assert sim.read_tag("PLC.SHED_TIMEOUT") == 2.0
    sim.write_tag("PLC.HEARTBEAT", 1.0, protocol="internal", address="")
    sim.write_tag("LIC-101.MODE_REQ", 2.0, protocol="internal", address="")
    sim.tick()
    assert sim.loop_modes()["LIC-101"] == "REMOTE"
    sim.inject(WatchdogBroken())
    sim.run(10.0)
    assert sim.loop_modes()["LIC-101"] == "REMOTE"
    sim.clear_faults()
    sim.tick()
    assert sim.loop_modes()["LIC-101"] == "AUTO"
