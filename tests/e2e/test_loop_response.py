"""The model-based loop-response monitor over the simulator (issue 15): a stuck actuator under AI moves is
LOOP_NOT_RESPONDING within the window the model justifies, and no AI move reaches the loop after."""

from __future__ import annotations

from pathlib import Path

import pytest

from otgate.core.config import PlantConfig
from otgate.core.loop_response import window_s
from otgate.core.modes import LoopMode
from otgate.core.step_response import StepModel
from otgate_simulator.faults import ActuatorStuck
from tests.e2e.harness import running


def judged(config: PlantConfig) -> PlantConfig:
    return config.model_copy(
        update={"prediction": config.prediction.model_copy(update={"loop_response": True})}
    )


pytestmark = pytest.mark.requirement("R-15")


def loop_model(models: tuple[StepModel, ...]) -> StepModel:
    """The loop's own model (setpoint -> PV), the one the monitor judges by."""
    (model,) = [m for m in models if m.input == "TIC-101.RSP" and m.output == "TT-101"]
    return model


async def test_stuck_actuator_under_ai_moves_is_loop_not_responding(tmp_path: Path):
    async with running("cstr", tmp_path, adjust=judged) as h:
        await h.engage("TIC-101")
        model = loop_model(h.gateway.plant.models)
        h.sim.inject(ActuatorStuck("TIC-101.OUT"))
        start = h.setpoint("TIC-101")
        h.submit(h.propose("TIC-101.RSP", round(start + 1.0, 3)))  # a ramp at 0.5 K/min
        moved_at = h.sim.time_s
        detected = None
        for _ in range(int(window_s(model)) + 60):
            if h.gateway.loops["TIC-101"].state.mode is LoopMode.FALLBACK:
                detected = h.sim.time_s
                break
            h.keepalive()
            await h.step()
        assert detected is not None, list(h.gateway.alarms)
        assert h.gateway.alarms.is_active("LOOP_NOT_RESPONDING:TIC-101")
        assert detected - moved_at <= window_s(model) + 30.0  # the model's window, plus a few scans
        writes_before = len(h.writes_to("TIC-101.RSP"))
        h.submit(h.propose("TIC-101.RSP", round(h.setpoint("TIC-101") + 0.1, 3)))
        await h.step(5)
        assert len(h.writes_to("TIC-101.RSP")) == writes_before


async def test_healthy_loop_following_ai_moves_raises_nothing(tmp_path: Path):
    async with running("cstr", tmp_path, adjust=judged) as h:
        await h.engage("TIC-101")
        model = loop_model(h.gateway.plant.models)
        h.submit(h.propose("TIC-101.RSP", round(h.setpoint("TIC-101") + 1.0, 3)))
        for _ in range(int(window_s(model)) + 120):
            h.keepalive()
            await h.step()
        assert h.gateway.loops["TIC-101"].state.mode is LoopMode.AI, list(h.gateway.alarms)
        assert not any(code.startswith("LOOP_NOT_RESPONDING") for code in h.gateway.alarms)
