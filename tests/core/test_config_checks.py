"""Cross-section config checks added with the write gate (issue 12): each refuses a config whose promise
the gateway could not keep at run time."""

from __future__ import annotations

from otgate.core.config import PlantConfig, reference_problems
from tests.conftest import TANK_CONFIG


def messages(config: PlantConfig) -> list[str]:
    return [p.message for p in reference_problems(config)]


def test_shipped_tank_config_has_no_cross_section_problem():
    assert messages(TANK_CONFIG) == []


def test_loop_whose_tags_sit_on_two_plcs_refused():
    plc2 = TANK_CONFIG.plcs["plc1"].model_copy(update={"heartbeat_tag": "PLC.HEARTBEAT"})
    mode = TANK_CONFIG.tags["LIC-101.MODE"].model_copy(update={"plc": "plc2"})
    config = TANK_CONFIG.model_copy(
        update={
            "plcs": {**TANK_CONFIG.plcs, "plc2": plc2},
            "tags": {**TANK_CONFIG.tags, "LIC-101.MODE": mode},
        }
    )
    assert any("must sit on one PLC" in m for m in messages(config))


def test_replay_window_must_outlast_staleness_plus_skew():
    settings = TANK_CONFIG.gateway.model_copy(update={"replay_window_s": 31.9, "clock_skew_tolerance_s": 2.0})
    config = TANK_CONFIG.model_copy(update={"gateway": settings})  # stale_after_s is 30
    assert any("must be below gateway.replay_window_s" in m for m in messages(config))
    settings = settings.model_copy(update={"replay_window_s": 32.1})
    assert messages(TANK_CONFIG.model_copy(update={"gateway": settings})) == []
