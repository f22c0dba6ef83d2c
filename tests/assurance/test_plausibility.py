from __future__ import annotations

from pathlib import Path

import pytest

from otgate.assurance.plausibility import plausibility_problems
from otgate.config.loader import load_config

TANK = load_config(Path(__file__).resolve().parents[2] / "plant_configs" / "tank.yaml")
GOOD = {
    "LIC-101.MODE": 1.0,
    "LIC-101.MODE_REQ": 0.0,
    "PLC.HEARTBEAT": 17.0,
    "PLC.SHED_TIMEOUT": 10.0,
    "LIC-101.SP_LO_LIM": 500.0,
    "LIC-101.SP_HI_LIM": 800.0,
    "LIC-101.SP": 650.0,
    "LIT-101": 648.0,
}


def test_plausibility_shipped_tank_values_plausible():
    assert plausibility_problems(TANK, GOOD) == []


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"LIC-101.MODE": 3.0}, "LIC-101.MODE = 3 is not a mode (0 MAN, 1 AUTO, 2 REMOTE)"),
        ({"PLC.HEARTBEAT": 70000.0}, "PLC.HEARTBEAT = 70000 is not a 16-bit counter"),
        ({"LIT-101": float("nan")}, "LIT-101 = nan is not finite"),
        ({"LIC-101.SP_HI_LIM": 790.0}, "LIC-101: otgate limits 500..800 not inside the PLC clamp 500..790"),
        ({"LIC-101.SP": 2.0e9}, "LIC-101: working setpoint 2e+09 outside the PLC clamp 500..800"),
        (
            {"PLC.SHED_TIMEOUT": 1.5},
            "PLC.SHED_TIMEOUT = 1.5 s is not more than twice the heartbeat period (1 s)",
        ),
    ],
)
def test_plausibility_wrong_value_named(changes: dict[str, float], problem: str):
    assert plausibility_problems(TANK, GOOD | changes) == [problem]
