"""Shared builders for core tests: the shipped tank config and snapshots around it."""

from __future__ import annotations

from otgate.config.loader import load_config
from otgate.core.modes import LoopMode, PlcMode
from otgate.core.plant import Plant, compile_plant
from otgate.core.proposal import Proposal, Snapshot
from tests.conftest import PLANT_CONFIGS

TANK = compile_plant(load_config(PLANT_CONFIGS / "tank.yaml"))
CSTR = compile_plant(load_config(PLANT_CONFIGS / "cstr.yaml"))
NOW = 1_000_000.0
TAG = "LIC-101.RSP"


def proposal(value: float = 650.0, **changes: object) -> Proposal:
    fields: dict[str, object] = {
        "id": "rec-1",
        "engine": "optimizer",
        "tag": TAG,
        "value": value,
        "issued_at": NOW - 1.0,
        "basis_at": NOW - 1.0,
    }
    fields.update(changes)
    return Proposal(**fields)  # type: ignore[arg-type]


def snapshot(
    readback: float = 650.0, *, plant: Plant = TANK, mode: LoopMode = LoopMode.AI, **values: float
) -> Snapshot:
    image = {"LIC-101.SP": readback, "LIC-101.MODE": float(PlcMode.REMOTE), "LIT-101": 640.0}
    image.update({k.replace("_", "-"): v for k, v in values.items()})
    return Snapshot(taken_at=NOW - 0.2, values=image, loop_modes={"LIC-101": mode})
