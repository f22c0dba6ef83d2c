"""A demo AI engine: it really optimises (pushes each setpoint toward its economic optimum inside the
envelope `GET /v1/tags` publishes) and now and then misbehaves, so the demo shows rejections too.

It talks to the gateway only over the AI-facing HTTP API, like any real engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

# Where each plant's optimiser wants to go (all inside the hard limits): the CSTR toward higher conversion,
# the Ricker reactor toward lower purge cost (higher pressure, more A in the purge), the tank toward a
# fuller buffer.
OPTIMA: dict[str, float] = {
    "LIC-101.RSP": 720.0,
    "TIC-101.RSP": 329.5,
    "PIC-201.RSP": 2840.0,
    "AIC-201.RSP": 51.0,
    "FIC-204.RSP": 104.0,
}


@dataclass
class EngineStats:
    sent: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


class DemoEngine:
    def __init__(
        self,
        api_url: str,
        token: str,
        *,
        period_s: float = 2.0,
        name: str = "demo-optimizer",
        misbehave: bool = True,
    ) -> None:
        self.client = httpx.AsyncClient(
            base_url=api_url, headers={"Authorization": f"Bearer {token}"}, timeout=5.0
        )
        self.period_s = period_s
        self.misbehave = misbehave
        self.name = name
        self.stats = EngineStats()
        self.ids = itertools.count(1)
        self.sent_bodies: list[dict[str, Any]] = []

    async def run(self, stop: asyncio.Event) -> None:
        try:
            for cycle in itertools.count(1):
                if stop.is_set():
                    return
                await self.cycle(cycle)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.period_s)
        finally:
            await self.client.aclose()

    async def cycle(self, cycle: int) -> None:
        response = await self.client.get("/v1/tags")
        if response.status_code != 200:
            return
        writable = response.json()["writable"]
        # Misbehaviour is kept to the first tag and a few cycles in a hundred: a demo should show the
        # gateway refusing, not an engine so broken that it is quarantined in the first minute.
        proposed = [
            self.propose(tag, cycle, misbehave=self.misbehave and i == 0) for i, tag in enumerate(writable)
        ]
        items = [item for item in proposed if item is not None]
        if self.misbehave and cycle % 29 == 0 and self.sent_bodies:
            items.append(self.sent_bodies[0])  # misbehaviour: replay an old recommendation
        if items:
            await self.send(items)
        else:
            await self.client.post("/v1/heartbeat")  # at its optimum: nothing to move, still alive

    def propose(
        self, envelope: dict[str, Any], cycle: int, *, misbehave: bool = False
    ) -> dict[str, Any] | None:
        current = envelope["current_setpoint"]
        if current is None:
            return None
        lo, hi = envelope["limits"]["lo"], envelope["limits"]["hi"]
        target = OPTIMA.get(envelope["tag"], (lo + hi) / 2)
        if misbehave and cycle % 13 == 0:
            value, why = hi + 0.1 * (hi - lo), "pushing past the limit for more throughput"  # misbehaviour
        elif misbehave and cycle % 17 == 0:
            value, why = current + 5 * envelope["max_move"]["up"], "big step to reach the optimum faster"
        else:
            up = target > current
            step = envelope["rate_per_s"]["up" if up else "down"] * max(1.0, envelope["min_write_interval_s"])
            value = current + min(step, abs(target - current)) * (1 if up else -1)
            why = f"moving toward the optimum {target:g} {envelope['unit']}"
            if abs(value - current) <= envelope["deadband"]:
                return None
        body = {
            "id": f"{self.name}-{next(self.ids)}",
            "tag": envelope["tag"],
            "value": round(value, 6),
            "issued_at": datetime.now(UTC).isoformat(),
            "model": {"name": self.name, "version": "1.0"},
            "rationale": why,
        }
        if len(self.sent_bodies) < 3:
            self.sent_bodies.append(body)
        return body

    async def send(self, items: list[dict[str, Any]]) -> None:
        response = await self.client.post("/v1/recommendations", json={"recommendations": items})
        self.stats.sent += len(items)
        if response.status_code != 200:
            key = f"http_{response.status_code}"
            self.stats.outcomes[key] = self.stats.outcomes.get(key, 0) + len(items)
            return
        for decision in response.json()["decisions"]:
            key = decision["decision"]
            self.stats.outcomes[key] = self.stats.outcomes.get(key, 0) + 1
