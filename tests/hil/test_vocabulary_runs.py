"""The new vocabulary in real lock-step runs (simulator, gateway, HMI over their real apps, Modbus over
127.0.0.1): scenarios written to fail do fail, naming the assertion and its margin."""

from __future__ import annotations

from typing import Any

from otgate_hil.assertions import judge
from otgate_hil.runner import run_scenario
from otgate_hil.scenario import Scenario


def scenario(plant: str, duration: str, body: dict[str, Any]) -> Scenario:
    plots = {
        "ricker": ("plc.PT-201", "PIC-201.RSP", "plc.PIC-201.SP", "PIC-201"),
        "cstr": ("true.T_K", "TIC-101.RSP", "plc.TIC-101.SP", "TIC-101"),
        "tank": ("true.LIT-101", "LIC-101.RSP", "plc.LIC-101.SP", "LIC-101"),
    }
    pv, sp_tag, working_sp, loop = plots[plant]
    return Scenario.model_validate(
        {
            "apiVersion": "hil.otgate/v1",
            "kind": "Scenario",
            "metadata": {"id": "R", "title": "run", "category": "operator"},
            "plant": plant,
            "seed": 11,
            "duration": duration,
            **body,
            "plot": {"pv": pv, "sp_tag": sp_tag, "working_sp": working_sp, "loop": loop, "limits": [0, 1]},
        }
    )


def outcomes(record: Any) -> dict[str, Any]:
    return {o.id: o for o in judge(record)}


async def test_approval_with_a_wrong_digest_through_the_hmi_writes_nothing():
    record = await run_scenario(
        scenario(
            "ricker",
            "60 s",
            {
                "engage": ["FIC-204"],
                "engines": [
                    {
                        "id": "optimizer",
                        "tag": "FIC-204.RSP",
                        "start": "10 s",
                        "period": "10 s",
                        "behaviour": {"kind": "step", "value": 100.02, "repeat": True},
                    }
                ],
                "timeline": [
                    {
                        "id": "wrong",
                        "at": "20 s",
                        "do": "operator.approve",
                        "tag": "FIC-204.RSP",
                        "digest": "bad",
                    }
                ],
                "assertions": [
                    {
                        "id": "written_after_wrong_digest",
                        "count": {"of": "plc_writes", "tag": "FIC-204.RSP", "min": 1},
                    },
                    {
                        "id": "mismatch_on_record",
                        "count": {
                            "of": "audit",
                            "kind": "approval",
                            "fields": {"data.outcome": "mismatch"},
                            "min": 1,
                        },
                    },
                    {
                        "id": "operator_logged_in",
                        "count": {"of": "audit", "kind": "login", "actor": "operator:operator", "min": 1},
                    },
                ],
            },
        )
    )
    result = outcomes(record)
    failed = result["written_after_wrong_digest"]
    assert not failed.passed and "0 < min 1" in failed.message and "(margin -1)" in failed.message
    assert result["mismatch_on_record"].passed and result["operator_logged_in"].passed
    (event,) = [e for e in record.events if e.label == "wrong"]
    assert "HTTP 409" in event.detail and "approval_mismatch" in event.detail


async def test_manual_setpoint_outside_limits_through_the_hmi_is_refused():
    record = await run_scenario(
        scenario(
            "tank",
            "40 s",
            {
                "engage": ["LIC-101"],
                "timeline": [
                    {"id": "manual", "at": "5 s", "do": "operator.manual", "loops": ["LIC-101"]},
                    {
                        "id": "too_high",
                        "at": "10 s",
                        "do": "operator.setpoint",
                        "loop": "LIC-101",
                        "value": 950.0,
                    },
                ],
                "assertions": [
                    {
                        "id": "operator_value_written",
                        "count": {"of": "plc_writes", "tag": "LIC-101.RSP", "value_above": 800.0, "min": 1},
                    },
                    {
                        "id": "refused",
                        "count": {
                            "of": "audit",
                            "kind": "operator_action",
                            "fields": {"data.event": "manual_setpoint", "data.decision": "rejected"},
                            "min": 1,
                        },
                    },
                ],
            },
        )
    )
    result = outcomes(record)
    assert not result["operator_value_written"].passed and result["refused"].passed
    assert "OUT_OF_RANGE" in next(e.detail for e in record.events if e.label == "too_high")


async def test_write_latency_in_ticks_holds_frames_and_delivers_them_late():
    record = await run_scenario(
        scenario(
            "cstr",
            "40 s",
            {
                "engage": ["TIC-101"],
                "overrides": {"plcs": {"plc1": {"modbus": {"timeout_s": 0.25}}}},
                "engines": [
                    {
                        "id": "optimizer",
                        "tag": "TIC-101.RSP",
                        "start": "5 s",
                        "period": "5 s",
                        "behaviour": {"kind": "ramp", "start": 325.0, "rate_per_min": 0.4},
                    }
                ],
                "timeline": [
                    {"id": "slow", "at": "20 s", "do": "link.faults", "latency": "2 scan"},
                    {"id": "ok", "at": "25 s", "do": "link.clear"},
                ],
                "assertions": [
                    {
                        "id": "served_through_latency",
                        "count": {
                            "of": "plc_writes",
                            "tag": "TIC-101.RSP",
                            "min": 1,
                            "during": {"from": "slow", "to": "end"},
                        },
                    },
                    {"id": "all_frames_on_time", "applied_writes": {"max_age": "0 s", "min": 1}},
                ],
            },
        )
    )
    result = outcomes(record)
    assert not result["served_through_latency"].passed
    late = result["all_frames_on_time"]  # the held heartbeats did land, 2 scans after they were sent
    assert not late.passed and late.margin == -2.0 and "applied more than 0 s after sent" in late.detail
    assert any(d.delivered_s - d.sent_s == 2.0 for d in record.deliveries)


async def test_engine_clock_offset_and_override_show_in_the_run():
    record = await run_scenario(
        scenario(
            "ricker",
            "40 s",
            {
                "engage": ["PIC-201"],
                "overrides": {"engines": {"optimizer": {"stale_after_s": 15}}},  # the plant says 30 s
                "engines": [
                    {
                        "id": "optimizer",
                        "tag": "PIC-201.RSP",
                        "start": "5 s",
                        "period": "5 s",
                        "clock_offset": "-20 s",
                        "behaviour": {"kind": "optimiser", "target": 2760.0, "max_step": 4.0},
                    }
                ],
                "assertions": [
                    {
                        "id": "skewed_engine_served",
                        "count": {"of": "plc_writes", "tag": "PIC-201.RSP", "min": 1},
                    },
                    {
                        "id": "stale",
                        "count": {"of": "audit", "kind": "decision", "reason": "STALE", "min": 1},
                    },
                ],
            },
        )
    )
    result = outcomes(record)
    assert not result["skewed_engine_served"].passed and result["stale"].passed


async def test_ramped_disturbance_moves_the_plant():
    record = await run_scenario(
        scenario(
            "tank",
            "120 s",
            {
                "timeline": [
                    {
                        "id": "inflow",
                        "at": "10 s",
                        "do": "process.ramp",
                        "name": "extra_inflow_m3h",
                        "value": 20.0,
                        "over": "60 s",
                    }
                ],
                "assertions": [
                    {
                        "id": "level_steady",
                        "always": "rate(true.h_m) < 0.0005",
                        "during": {"from": "2 s", "to": "end"},
                    }
                ],
            },
        )
    )
    (out,) = judge(record)
    assert not out.passed and out.margin is not None and out.margin < 0


async def test_reset_without_reason_unknown_alarm_and_idle_quarantine_lift_fail_as_written():
    record = await run_scenario(
        scenario(
            "cstr",
            "40 s",
            {
                "engage": ["TIC-101"],
                "timeline": [
                    {"id": "fallback", "at": "5 s", "do": "operator.fallback", "loops": ["TIC-101"]},
                    {"id": "bare_reset", "at": "10 s", "do": "operator.reset", "loops": ["TIC-101"], "reason": ""},
                    {"id": "ack", "at": "12 s", "do": "operator.acknowledge", "code": "NO_SUCH_ALARM"},
                    {"id": "lift", "at": "14 s", "do": "operator.lift_quarantine", "engine": "optimizer", "reason": "r"},
                ],
                "assertions": [
                    {"id": "reset_done", "count": {"of": "audit", "kind": "operator_action", "fields": {"data.event": "reset"}, "min": 1}},
                    {"id": "acknowledged", "count": {"of": "audit", "kind": "operator_action", "fields": {"data.event": "acknowledge_alarm"}, "min": 1}},
                    {"id": "lifted", "count": {"of": "audit", "kind": "operator_action", "fields": {"data.event": "lift_quarantine", "data.lifted": True}, "min": 1}},
                ],
            },
        )
    )  # fmt: skip
    result = outcomes(record)
    assert [result[k].passed for k in ("reset_done", "acknowledged", "lifted")] == [False, False, False]
    assert all("(margin -1)" in result[k].message for k in result)
    details = {e.label: e.detail for e in record.events}
    assert "HTTP 422" in details["bare_reset"] and "reason_required" in details["bare_reset"]
    assert "HTTP 404" in details["ack"] and '"lifted":false' in details["lift"]
