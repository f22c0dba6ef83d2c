"""No false fallback: hours of normal operation with a sensible optimiser and nominal sensor noise.

The suite runs one simulated hour per plant over real Modbus sockets; `make soak` runs 24 hours
(OTGATE_SOAK_HOURS=24). The engine is the demo engine with its deliberate misbehaviour switched off,
speaking through the same parsing path as the HTTP API.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from otgate.api.ai import envelope, parse_recommendations, to_proposal
from otgate.client import Envelope
from otgate.client.demo_engine import DemoEngine
from otgate.core.modes import LoopMode
from otgate.runtime.view import GatewayView
from tests.e2e.harness import Harness, running

HOURS = float(os.environ.get("OTGATE_SOAK_HOURS", "1"))
PROPOSE_EVERY_SCANS = 2


def propose(h: Harness, engine: DemoEngine, cycle: int) -> None:
    writes = h.gateway.plant.config.engines["optimizer"].writes
    envelopes = [Envelope.model_validate(envelope(GatewayView(h.gateway), tag)) for tag in writes]
    proposals = [p for p in (engine.step(e, cycle) for e in envelopes) if p is not None]
    now = datetime.fromtimestamp(h.clock.now(), UTC)  # the simulated clock
    bodies = [p.to_recommendation(None, now).model_dump(mode="json", exclude_none=True) for p in proposals]
    if not bodies:
        h.gateway.heartbeat_from("optimizer")  # at its optimum: nothing to move, still alive
        return
    items = parse_recommendations(json.dumps({"recommendations": bodies}).encode(), 100)
    h.gateway.submit([to_proposal(item, "optimizer") for item in items], [item.rationale for item in items])


@pytest.mark.timeout(600)
@pytest.mark.parametrize("plant", ["tank", "cstr", "ricker"])
async def test_normal_operation_never_falls_back(plant: str, tmp_path: Path):
    engine = DemoEngine(misbehave=False)
    async with running(plant, tmp_path, seed=11) as h:
        await h.engage()
        ticks = int(HOURS * 3600)
        for tick in range(ticks):
            if tick % PROPOSE_EVERY_SCANS == 0:
                propose(h, engine, tick // PROPOSE_EVERY_SCANS + 1)
            await h.step()
        modes = {name: runtime.state.mode for name, runtime in h.gateway.loops.items()}
        anomalies = [r.data for r in h.gateway.audit.records() if r.kind == "anomaly"]
        assert anomalies == []
        assert set(modes.values()) == {LoopMode.AI}, modes
        assert h.gateway.counters.accepted > 0
        assert set(h.sim.loop_modes()[n] for n in h.gateway.loops) == {"REMOTE"}
