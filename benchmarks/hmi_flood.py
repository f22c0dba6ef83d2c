"""`hmi_under_flood`: how long an operator's "fallback" takes while the AI-facing API is flooded.

A `GatewayService` (tank plant on the in-memory fake PLC, real sockets, real audit trail with fsync,
system clock) serves both listeners in this process. Two helper processes talk to it over loopback:

- the *prober* logs in to the HMI as `operator` and repeats: reset, engage, then **POST
  /hmi/api/plant/fallback** — only the fallback is timed (client-side, request sent to answer read);
- the *flooder* keeps `connections` keep-alive connections busy with `POST /v1/recommendations`
  (one recommendation each), bounded by `flood_requests` and `flood_s`, whichever comes first.

Two floods: `throttled` (the engine's configured rate limit: most requests get 429, the normal defence)
and `saturated` (the engine's limit raised so that every request is validated and audited: the worst the
AI path can cost the shared event loop). Each is compared with an idle run of the same prober.

    .venv/bin/python -m benchmarks.hmi_flood [--samples N] [--tiny]

Prints one JSON object: per flood, p50/p99 fallback latency (ms) idle and flooded, their ratios, and
what the flooder achieved (requests, requests/s, status counts). REQUIREMENTS #21/#45 ask for a
flooded p99 under 250 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import multiprocessing as mp
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from benchmarks.figure import Figure, figure
from benchmarks.http_client import RawHttpClient
from otgate.config.loader import LoadedConfig, load_config_file
from otgate.core.modes import PlcMode
from otgate.field.fake import FakeLink
from otgate.host.service import GatewayService

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "plant_configs" / "tank.yaml"
ENGINE_TOKEN = "demo-tank-engine-token"
OPERATOR = {"user": "operator", "password": "demo-operator"}
TARGET_P99_MS = 250.0
PLC = {"LIC-101.SP": 650.0, "LIC-101.RSP": 650.0, "LIC-101.MODE": float(PlcMode.REMOTE), "LIT-101": 640.0}


@dataclass(frozen=True)
class Size:
    samples: int = 60
    connections: int = 16
    flood_requests: int = 200_000
    flood_s: float = 30.0
    pause_s: float = 0.02


TINY = Size(samples=5, connections=4, flood_requests=2_000, flood_s=5.0)


# ------------------------------------------------------------------------------------------ prober


class HmiClient:
    """A blocking HMI client with its session cookie and CSRF token (runs in the prober process)."""

    def __init__(self, port: int) -> None:
        self.http = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        answer = self._post("/hmi/api/session", OPERATOR, {})
        cookie = answer.getheader("set-cookie", "").split(";")[0]
        self.headers = {"Cookie": cookie, "X-CSRF-Token": json.loads(answer.read())["csrf_token"]}

    def _post(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> http.client.HTTPResponse:
        self.http.request("POST", path, json.dumps(body), {"Content-Type": "application/json", **headers})
        return self.http.getresponse()

    def post(self, path: str, body: dict[str, Any] | None = None) -> tuple[int, float]:
        started = time.perf_counter()
        answer = self._post(path, body or {}, self.headers)
        answer.read()
        return answer.status, (time.perf_counter() - started) * 1000.0


def probe(port: int, size: Size, out: Connection) -> None:
    """Timed fallbacks; each from a loop freshly re-engaged (reset with a reason, engage)."""
    client = HmiClient(port)
    samples: list[float] = []
    statuses: Counter[int] = Counter()
    for _ in range(size.samples):
        client.post("/hmi/api/plant/reset", {"reason": "benchmark"})
        client.post("/hmi/api/plant/engage", {"reason": "benchmark"})
        status, ms = client.post("/hmi/api/plant/fallback", {"reason": "benchmark"})
        statuses[status] += 1
        samples.append(ms)
        time.sleep(size.pause_s)
    out.send({"samples": samples, "statuses": dict(statuses)})


# ------------------------------------------------------------------------------------------ flooder


async def _flood_connection(port: int, deadline: float, budget: list[int], statuses: Counter[int]) -> None:
    headers = {"Authorization": f"Bearer {ENGINE_TOKEN}"}
    async with RawHttpClient("127.0.0.1", port, headers) as client:
        while budget[0] > 0 and time.monotonic() < deadline:
            budget[0] -= 1
            body = {
                "id": f"flood-{budget[0]}-{time.monotonic_ns()}",
                "tag": "LIC-101.RSP",
                "value": 650.3,
                "issued_at": datetime.now(UTC).isoformat(),
                "rationale": "flood",
            }
            status, _ = await client.post_json("/v1/recommendations", body)
            statuses[status] += 1


def flood(port: int, size: Size, started: Any, stop: Any, out: Connection) -> None:
    async def run() -> dict[str, Any]:
        deadline = time.monotonic() + size.flood_s
        budget, statuses = [size.flood_requests], Counter[int]()
        began = time.monotonic()
        tasks = [
            asyncio.create_task(_flood_connection(port, deadline, budget, statuses))
            for _ in range(size.connections)
        ]
        started.set()
        watcher = asyncio.create_task(asyncio.to_thread(stop.wait, size.flood_s))
        await asyncio.wait([watcher, *tasks], return_when=asyncio.FIRST_COMPLETED)
        budget[0] = 0  # the prober is done (or the bounds are reached): wind down
        await asyncio.gather(*tasks, return_exceptions=True)
        elapsed = time.monotonic() - began
        total = sum(statuses.values())
        return {"requests": total, "requests_per_s": round(total / elapsed, 1), "statuses": dict(statuses)}

    out.send(asyncio.run(run()))


# ------------------------------------------------------------------------------------------ runs


def loaded(saturated: bool) -> LoadedConfig:
    base = load_config_file(CONFIG)
    if not saturated:
        return base
    engines = {
        name: engine.model_copy(update={"max_requests_per_s": 1e6, "burst": 1_000_000})
        for name, engine in base.config.engines.items()
    }
    return LoadedConfig(base.config.model_copy(update={"engines": engines}), base.path, base.sha256)


async def measure(config: LoadedConfig, size: Size, flooded: bool) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory() as data_dir:
        fake = FakeLink(config.config.tags, PLC)
        service = GatewayService(config, Path(data_dir), links={"plc1": fake}, api_port=0, hmi_port=0)
        async with service:
            assert service.api is not None and service.hmi is not None
            flood_in, flood_out = ctx.Pipe(duplex=False)
            probe_in, probe_out = ctx.Pipe(duplex=False)
            started, stop = ctx.Event(), ctx.Event()
            flooder = None
            if flooded:
                flooder = ctx.Process(target=flood, args=(service.api.port, size, started, stop, flood_out))
                flooder.start()
                await asyncio.to_thread(started.wait, 30)
            prober = ctx.Process(target=probe, args=(service.hmi.port, size, probe_out))
            prober.start()
            result: dict[str, Any] = await asyncio.to_thread(probe_in.recv)
            stop.set()
            if flooder is not None:
                result["flood"] = await asyncio.to_thread(flood_in.recv)
                await asyncio.to_thread(flooder.join, 30)
            await asyncio.to_thread(prober.join, 30)
    return result


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"p50_ms": round(statistics.median(samples), 3), "p99_ms": round(p99, 3), "n": len(samples)}


async def run(size: Size) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for mode in ("throttled", "saturated"):
        config = loaded(saturated=mode == "saturated")
        idle = await measure(config, size, flooded=False)
        flooded = await measure(config, size, flooded=True)
        idle_s, flood_s = summary(idle["samples"]), summary(flooded["samples"])
        rows[mode] = {
            "idle": {**idle_s, "statuses": idle["statuses"]},
            "flooded": {**flood_s, "statuses": flooded["statuses"]},
            "ratio_p50": round(flood_s["p50_ms"] / idle_s["p50_ms"], 3),
            "ratio_p99": round(flood_s["p99_ms"] / idle_s["p99_ms"], 3),
            "flood": flooded["flood"],
            "target_p99_ms": TARGET_P99_MS,
            "met": flood_s["p99_ms"] <= TARGET_P99_MS,
        }
    return {"name": "hmi_under_flood", "unit": "ms", "what": "HMI plant fallback latency", **rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--samples", type=int, default=Size.samples)
    parser.add_argument("--tiny", action="store_true", help="a few samples (smoke test; no meaning)")
    args = parser.parse_args(argv)
    size = TINY if args.tiny else Size(samples=args.samples)
    print(json.dumps(asyncio.run(run(size)), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


async def run_figures(size: Size) -> list[Figure]:
    """`hmi_under_flood_p50` / `_p99`: the saturated case (every flood request validated and audited)."""
    config = loaded(saturated=True)
    idle = (await measure(config, size, flooded=False))["samples"]
    flooded = (await measure(config, size, flooded=True))["samples"]
    what = "HMI plant-fallback latency while the AI API is flooded from loopback; baseline: the same, idle"
    return [
        figure("hmi_under_flood_p50", "ms", flooded, idle, what=what),
        figure("hmi_under_flood_p99", "ms", flooded, idle, what=what, quantile=0.99, target=TARGET_P99_MS),
    ]
