"""`flood`: a well-behaved engine's decision latency while a rogue engine floods the AI API.

The tank gateway on the in-memory fake PLC with a real audit trail (fsync) and the AI app in this process
(ASGI, no sockets, so the figure is the gateway's own contention, not the loopback's). A second engine,
`rogue`, allowed to write nothing, sends `flood_requests` recommendations from `connections` concurrent
tasks (bounded in count and time); meanwhile the `optimizer` engine sends one valid recommendation per
simulated scan and its latency is timed. Rows `flood_p50` and `flood_p99` compare with the same engine
alone (baseline, same run). Also reported: whether the well-behaved engine's decisions were the same as
alone, and the growth of the process's resident memory during the flood.
"""

from __future__ import annotations

import asyncio
import hashlib
import resource
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from benchmarks.figure import Figure, figure
from otgate.api.ai import create_ai_app
from otgate.audit_store import AuditStore
from otgate.clock import ManualClock
from otgate.config_file import load_config
from otgate.core.config import Engine, PlantConfig
from otgate.core.modes import ModeEvent, PlcMode
from otgate.core.plant import compile_plant
from otgate.field.fake import FakeLink
from otgate.gateway import Gateway

ROOT = Path(__file__).resolve().parent.parent
ROGUE_TOKEN = "rogue-engine-token"
GOOD = {"Authorization": "Bearer demo-tank-engine-token"}
BAD = {"Authorization": f"Bearer {ROGUE_TOKEN}"}
PLC = {"LIC-101.SP": 650.0, "LIC-101.RSP": 650.0, "LIC-101.MODE": float(PlcMode.REMOTE), "LIT-101": 640.0}


@dataclass(frozen=True)
class Size:
    samples: int = 200
    connections: int = 16
    flood_requests: int = 20_000
    flood_s: float = 60.0


TINY = Size(samples=5, connections=2, flood_requests=200, flood_s=5.0)


def with_rogue(config: PlantConfig) -> PlantConfig:
    digest = "sha256:" + hashlib.sha256(ROGUE_TOKEN.encode()).hexdigest()
    rogue = Engine(token_sha256=digest, writes=[], reads=["LIT-101"], max_requests_per_s=20, burst=40)
    return config.model_copy(update={"engines": {**config.engines, "rogue": rogue}})


def rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


async def scenario(size: Size, flooded: bool, data_dir: Path) -> dict[str, Any]:
    """The well-behaved engine's latencies and verdicts, with or without the rogue's flood."""
    config = with_rogue(load_config(ROOT / "plant_configs" / "tank.yaml"))
    clock = ManualClock(1_800_000_000.0)
    with AuditStore(data_dir, None) as store:
        fake = FakeLink(config.tags, PLC)
        gateway = Gateway(compile_plant(config), {"plc1": fake}, store, clock)
        await gateway.scan(clock.monotonic())
        gateway.operator_action("bench", ["LIC-101"], ModeEvent.ENGAGE, "bench")
        await gateway.scan(clock.monotonic())
        transport = httpx.ASGITransport(app=create_ai_app(gateway))
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            budget = [size.flood_requests if flooded else 0]
            deadline = time.monotonic() + size.flood_s
            statuses: dict[int, int] = {}
            rss_before = rss_kib()

            async def rogue_connection() -> None:
                while budget[0] > 0 and time.monotonic() < deadline:
                    budget[0] -= 1
                    body = {
                        "id": f"r{budget[0]}",
                        "tag": "LIC-101.RSP",
                        "value": 790.0,
                        "issued_at": _iso(clock),
                    }
                    answer = await client.post("/v1/recommendations", json=body, headers=BAD)
                    statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1

            flood = [asyncio.create_task(rogue_connection()) for _ in range(size.connections)]
            latencies, verdicts = [], []
            for k in range(size.samples):
                target = 650.0 + 0.4 * (1 if k % 2 == 0 else 0)
                body = {"id": f"g{k}", "tag": "LIC-101.RSP", "value": target, "issued_at": _iso(clock)}
                began = time.perf_counter()
                answer = await client.post("/v1/recommendations", json=body, headers=GOOD)
                latencies.append((time.perf_counter() - began) * 1000)
                verdicts.append(answer.json()["decisions"][0]["decision"])
                clock.advance(1.0)
                await gateway.scan(clock.monotonic())
                await asyncio.sleep(0)
            # The rogue spends its whole budget (within flood_s): its answers now wait for durability off
            # the loop, so the good engine can finish first and a flood cut short would prove nothing.
            await asyncio.gather(*flood)
    return {
        "latencies": latencies,
        "verdicts": verdicts,
        "statuses": statuses,
        "rss_growth_kib": rss_kib() - rss_before,
    }


def _iso(clock: ManualClock) -> str:
    return datetime.fromtimestamp(clock.now(), UTC).isoformat()


async def run(size: Size) -> list[Figure]:
    with tempfile.TemporaryDirectory() as idle_dir, tempfile.TemporaryDirectory() as flood_dir:
        idle = await scenario(size, False, Path(idle_dir))
        flooded = await scenario(size, True, Path(flood_dir))
    extra = {
        "same_decisions": idle["verdicts"] == flooded["verdicts"],
        "rogue_statuses": flooded["statuses"],
        "rss_growth_kib": flooded["rss_growth_kib"],
    }
    what = "well-behaved engine's POST latency under a rogue engine's flood; baseline: the same engine alone"
    return [
        figure("flood_p50", "ms", flooded["latencies"], idle["latencies"], what=what, extra=extra),
        figure(
            "flood_p99", "ms", flooded["latencies"], idle["latencies"], what=what, quantile=0.99, extra=extra
        ),
    ]
