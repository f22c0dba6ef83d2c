"""The Engine protocol and its runner against the real AI API app; loading module:Class."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from otgate.client import (
    AsyncGatewayClient,
    Decision,
    Proposal,
    RunStats,
    View,
    load_engine,
    run_cycle,
    run_engine,
)
from otgate.client.demo_engine import DemoEngine
from otgate.runtime.gateway import Gateway
from tests.client.conftest import connect


class StepUp:
    def __init__(self) -> None:
        self.views: list[View] = []
        self.decisions: list[Decision] = []

    def propose(self, view: View) -> list[Proposal]:
        self.views.append(view)
        current = view.envelopes["LIC-101.RSP"].current_setpoint
        return [] if current is None or len(self.views) > 1 else [Proposal("LIC-101.RSP", current + 0.4)]

    def decided(self, decisions: list[Decision]) -> None:
        self.decisions += decisions


async def test_run_cycle_sends_proposals_then_heartbeats_when_idle(client: AsyncGatewayClient):
    engine, stats = StepUp(), RunStats()
    first = await run_cycle(engine, client, stats)
    second = await run_cycle(engine, client, stats)
    assert [d.decision for d in first] == ["accepted"] and second == []
    assert engine.decisions == first
    assert engine.views[0].value("LIT-101") == 640.0
    assert (stats.cycles, stats.sent, stats.heartbeats, stats.outcomes) == (2, 1, 1, {"accepted": 1})


async def test_run_cycle_counts_gateway_errors_and_goes_on(engaged: Gateway):
    async with connect(engaged, token="wrong") as sdk:
        stats = RunStats()
        assert await run_cycle(StepUp(), sdk, stats) == []
    assert stats.outcomes == {"http_401": 1}


class AsyncStepUp:
    async def propose(self, view: View) -> list[Proposal]:
        await asyncio.sleep(0)  # e.g. asking a model server
        current = view.envelopes["LIC-101.RSP"].current_setpoint
        return [] if current is None else [Proposal("LIC-101.RSP", current + 0.4)]


async def test_run_cycle_awaits_an_async_engine(client: AsyncGatewayClient):
    (decision,) = await run_cycle(AsyncStepUp(), client, RunStats())
    assert decision.decision == "accepted"


async def test_run_engine_stops_after_cycles(client: AsyncGatewayClient):
    stats = await run_engine(StepUp(), client, period_s=0.0, stop=asyncio.Event(), cycles=3)
    assert stats.cycles == 3


async def test_run_engine_stops_when_told(client: AsyncGatewayClient):
    stop = asyncio.Event()
    stop.set()
    assert (await run_engine(StepUp(), client, period_s=0.0, stop=stop)).cycles == 0


async def test_demo_engine_through_the_runner_moves_toward_its_optimum(client: AsyncGatewayClient):
    decisions = await run_cycle(DemoEngine(misbehave=False), client, RunStats())
    (decision,) = decisions
    assert decision.decision == "accepted" and decision.written_value is not None
    assert 650.0 < decision.written_value <= 650.5  # toward 720 mm at 0.5 mm/s


def test_load_engine_imports_module_class(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "user_engine.py").write_text("class Mine:\n    def propose(self, view):\n        return []\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert load_engine("user_engine:Mine").propose is not None
    sys.modules.pop("user_engine", None)


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("no_colon", "module:Class"),
        ("otgate.client.demo_engine:", "module:Class"),
        ("otgate.client.demo_engine:Missing", "has no"),
        ("otgate.client.demo_engine:OPTIMA.clear", "module:Class"),
        ("otgate.client:RunStats", "propose"),
    ],
)
def test_load_engine_bad_spec_refused(spec: str, problem: str):
    with pytest.raises(ValueError, match=problem):
        load_engine(spec)
