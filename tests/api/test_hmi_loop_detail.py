"""What a loop card shows besides values: limit lines, interlocks, and which buttons can act now."""

from __future__ import annotations

import pytest

from otgate.api.hmi_loop_detail import interlock_views, loop_actions, trend_lines
from otgate.config.loader import load_config
from otgate.core.modes import LoopMode
from otgate.core.plant import compile_plant
from tests.conftest import PLANT_CONFIGS

RICKER = compile_plant(load_config(PLANT_CONFIGS / "ricker.yaml"))
CSTR = compile_plant(load_config(PLANT_CONFIGS / "cstr.yaml"))


def test_trend_lines_have_the_hard_limits_and_the_pv_alarm_band():
    lines = {(line["kind"], line["label"]): line["value"] for line in trend_lines(RICKER, "AIC-201")}
    assert lines == {
        ("hard_limit", "SP hard limit lo"): 40.0,
        ("hard_limit", "SP hard limit hi"): 60.0,
        ("alarm", "PV alarm lo"): 30.0,
        ("alarm", "PV alarm hi"): 70.0,
    }


def test_trend_lines_include_the_operating_envelope_when_the_config_has_one():
    config = CSTR.config
    with_envelope = [n for n, loop in config.loops.items() if loop.pv in config.envelope]
    assert with_envelope, "the cstr config has an operating envelope on a loop's PV"
    kinds = {line["kind"] for line in trend_lines(CSTR, with_envelope[0])}
    assert "envelope" in kinds


@pytest.mark.parametrize(("pressure", "active"), [(2950.0, True), (2700.0, False)])
def test_interlock_views_say_whether_active_and_what_they_block(pressure: float, active: bool):
    (view,) = interlock_views(RICKER, "PIC-201", {"PT-201": pressure})
    assert (view["name"], view["active"], view["blocks"]) == ("PAH-201", active, "increases of PIC-201.RSP")


def test_interlock_views_count_an_unknown_value_as_active():
    (view,) = interlock_views(RICKER, "PIC-201", {})
    assert (view["active"], view["known"]) == (True, False)


@pytest.mark.parametrize(
    ("mode", "latched", "enabled"),
    [
        (
            LoopMode.FALLBACK,
            True,
            {"fallback": False, "engage": False, "manual": True, "setpoint": False, "reset": True},
        ),
        (
            LoopMode.FALLBACK,
            False,
            {"fallback": False, "engage": True, "manual": True, "setpoint": False, "reset": False},
        ),
        (
            LoopMode.AI,
            False,
            {"fallback": True, "engage": False, "manual": True, "setpoint": False, "reset": False},
        ),
        (
            LoopMode.MANUAL,
            True,
            {"fallback": True, "engage": False, "manual": False, "setpoint": True, "reset": True},
        ),
    ],
)
def test_loop_actions_enable_only_what_can_act_and_say_why_not(
    mode: LoopMode, latched: bool, enabled: dict[str, bool]
):
    actions = loop_actions(mode, latched)
    assert {name: a["enabled"] for name, a in actions.items()} == enabled
    assert all(a["why"] for a in actions.values() if not a["enabled"])
    if latched:
        assert actions["engage"]["why"] == "latched: reset it with a reason first"
