"""`decision_path`: one AI recommendation from HTTP request to a setpoint confirmed in the PLC, against
what any durable gateway must do: a bare FastAPI endpoint that commits one row to SQLite with an fsync
and writes the same register and reads it back.

Set-up, all in one asyncio loop on 127.0.0.1 (as in production, where the gateway is one loop):
the tank simulation behind its Modbus (and, for OPC UA, its OPC UA) server; a `Gateway` with a real
durable `AuditStore` (HMAC-keyed, fsync per commit) and a `ManualClock`; the AI API (`create_ai_app`)
under uvicorn; and the baseline app under a second uvicorn listener. The loop LIC-101 is engaged first
(PLC in REMOTE, confirmed), so every recommendation is accepted.

One gateway sample, timed with `perf_counter` by the client:

    POST /v1/recommendations (raw keep-alive HTTP client, one recommendation)
      -> auth, strict JSON parse, wire model, validate, decision + recommendation appended to the trail
         in one fsynced transaction -> 200 answer read by the client
    then `await gateway.scan(now)`, the scan that carries the write, exactly as the scan loop runs it:
      block read of every tag, heartbeat write + read-back, mode reconcile (no write: REMOTE holds),
      re-validation against the fresh read-backs, PLC_WRITE record (fsync), setpoint write + read-back
      (Modbus FC16 + FC3 / OPC UA Write + Read), WRITE_CONFIRMED record (fsync)

The service answers the request once the decision is durable and writes at its next scan; here the scan
is triggered right after the answer instead of waiting for the 1 s scan period, so the figure is the
gateway's own work on the path, not its scheduling delay. Not included: the wait for the next scan
(0..scan_interval_s in production) and the plant tick (run between samples, untimed).

One baseline sample: POST {"value": v} to a FastAPI endpoint (same uvicorn, same client) that commits
one row (the value) to its own SQLite file in the same directory as the trail, with the trail's settings
(WAL, synchronous=FULL: one fsync), then does the raw write + read-back of the same register with one
pymodbus (or asyncua) client and answers. Anything that records what it writes durably pays that much;
the gateway's path pays it three times (the decision, the write's intent before it, the confirmation).

Each round (`rounds`, default 3 x 500 samples per protocol) starts from a fresh simulation, gateway
and audit trail. Samples alternate gateway/baseline (order swapped each time) so drift hits both alike.
The setpoint climbs 0.24 mm per sample (one simulated second): every move clears the 0.2 mm deadband and
stays within the 0.5 mm/s rate against both the answer's read-back (two samples old) and the scan's, and
it never reverses, which the gateway's oscillation monitor would (rightly) take for a hunting engine.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from asyncua import Client, ua
from fastapi import FastAPI, Request
from pymodbus.client import AsyncModbusTcpClient

from benchmarks.figure import Figure, figure
from benchmarks.http_client import RawHttpClient
from otgate.api.ai import create_ai_app
from otgate.audit.store import AuditStore
from otgate.core.config import PlantConfig, Protocol
from otgate.core.modes import ModeEvent
from otgate.core.plant import compile_plant
from otgate.host.listeners import Listener, start_listener
from otgate.host.service import build_links
from otgate.runtime.clock import ManualClock
from otgate.runtime.gateway import Gateway
from otgate_simulator.runtime import SimRuntime
from otgate_simulator.simulation import Simulation, default_config

HOST = "127.0.0.1"
LOOP = "LIC-101"
TAG = "LIC-101.RSP"
NODE = "ns=2;s=LIC-101.RSP"
TOKEN = "demo-tank-engine-token"  # the shipped tank config's demo engine
KEY = b"benchmark audit key, 32 bytes or more"
START_SP = 650.0  # the tank PLC starts here
STEP_SP = 0.24  # per sample: > 0.2 deadband, and two steps <= the 0.5 mm/s rate
MAX_SAMPLES = 600  # 0.24 mm x 600 = 144 mm: stays under 800 mm and the 200 mm / 600 s budget
FLOAT32 = AsyncModbusTcpClient.DATATYPE.FLOAT32


@dataclass(frozen=True)
class Size:
    requests: int = 500  # per round; a round is a fresh simulation, gateway and trail
    warmup: int = 30
    rounds: int = 3
    protocols: tuple[Protocol, ...] = (Protocol.MODBUS, Protocol.OPCUA)


TINY = Size(requests=4, warmup=1, rounds=1)


@dataclass
class Samples:
    gateway_ms: list[float] = field(default_factory=list)
    baseline_ms: list[float] = field(default_factory=list)
    post_ms: list[float] = field(default_factory=list)
    scan_ms: list[float] = field(default_factory=list)


def pointed(config: PlantConfig, runtime: SimRuntime[Simulation], protocol: Protocol) -> PlantConfig:
    """The plant config with every PLC pointed at the simulator's servers, speaking `protocol`."""
    endpoints = runtime.endpoints
    plcs = {}
    for name, plc in config.plcs.items():
        modbus = plc.modbus.model_copy(update={"port": endpoints.modbus_port}) if plc.modbus else None
        opcua = plc.opcua
        if opcua is not None and endpoints.opcua_url:
            opcua = opcua.model_copy(update={"endpoint": endpoints.opcua_url})
        plcs[name] = plc.model_copy(update={"protocol": protocol, "modbus": modbus, "opcua": opcua})
    return config.model_copy(update={"plcs": plcs})


def baseline_app(write_and_read: Callable[[float], Awaitable[float]], db: sqlite3.Connection) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None)

    @app.post("/write")
    async def write(request: Request) -> dict[str, float]:
        value = float(json.loads(await request.body())["value"])
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO written (at, value) VALUES (?, ?)", (time.time(), value))
        db.execute("COMMIT")
        return {"readback": await write_and_read(value)}

    return app


def baseline_db(directory: str) -> sqlite3.Connection:
    """The baseline's own record of what it writes, durable as the trail is (WAL, synchronous=FULL)."""
    db = sqlite3.connect(Path(directory) / "baseline.sqlite3", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE written (seq INTEGER PRIMARY KEY, at REAL NOT NULL, value REAL NOT NULL)")
    return db


@contextlib.asynccontextmanager
async def bare_transport(
    runtime: SimRuntime[Simulation], protocol: Protocol
) -> AsyncIterator[Callable[[float], Awaitable[float]]]:
    """Yields `write_and_read(value) -> readback` over one raw client of `protocol` (tank: LIC-101.RSP is
    holding registers 0-1 of unit 1, node ns=2;s=LIC-101.RSP of type Float)."""
    if protocol is Protocol.MODBUS:
        client = AsyncModbusTcpClient(HOST, port=runtime.endpoints.modbus_port, timeout=1, retries=0)
        await client.connect()

        async def modbus_write_and_read(value: float) -> float:
            registers = client.convert_to_registers(value, FLOAT32)
            if (await client.write_registers(0, registers, device_id=1)).isError():
                raise RuntimeError("baseline write refused")
            answer = await client.read_holding_registers(0, count=2, device_id=1)
            return float(client.convert_from_registers(answer.registers, FLOAT32))  # type: ignore[arg-type]

        try:
            yield modbus_write_and_read
        finally:
            client.close()
        return
    url = runtime.endpoints.opcua_url
    if url is None:
        raise RuntimeError("the runtime has no OPC UA server")
    async with Client(url, timeout=2) as opc:
        node = opc.get_node(NODE)

        async def opcua_write_and_read(value: float) -> float:
            await node.write_value(ua.Variant(value, ua.VariantType.Float))
            return float(await node.read_value())

        yield opcua_write_and_read


async def _stop(listener: Listener) -> None:
    await listener.stop()


async def _engage(gateway: Gateway, runtime: SimRuntime[Simulation], clock: ManualClock) -> None:
    gateway.operator_action("bench", [LOOP], ModeEvent.ENGAGE, "benchmark")
    for _ in range(10):
        await runtime.step()
        clock.advance(runtime.sim.dt_s)
        await gateway.scan(clock.monotonic())
        if gateway.loops[LOOP].remote_confirmed and runtime.sim.loop_modes()[LOOP] == "REMOTE":
            return
    raise RuntimeError(f"PLC did not confirm REMOTE: {runtime.sim.loop_modes()}")


def _recommendation(i: int, value: float, now: float) -> dict[str, Any]:
    issued = datetime.fromtimestamp(now, UTC).isoformat()
    return {"id": f"bench-{i}", "tag": TAG, "value": value, "issued_at": issued}


async def measure(protocol: Protocol, size: Size, samples: Samples | None = None) -> Samples:
    """One round: `size.requests` samples (after `size.warmup`) appended to `samples`."""
    sim = Simulation("tank", seed=0)
    opcua_port = 0 if protocol is Protocol.OPCUA else None
    samples = Samples() if samples is None else samples
    if size.warmup + size.requests > MAX_SAMPLES:
        raise ValueError(f"at most {MAX_SAMPLES} samples fit in the tank's limits and change budget")
    async with SimRuntime(sim, opcua_port=opcua_port) as runtime:
        config = pointed(default_config("tank"), runtime, protocol)
        clock = ManualClock(1_800_000_000.0)
        with tempfile.TemporaryDirectory(prefix="otgate-bench-") as data_dir:
            store = AuditStore(data_dir, KEY)
            gateway = Gateway(compile_plant(config), build_links(config), store, clock)
            api = await start_listener(create_ai_app(gateway), HOST, 0)
            try:
                async with bare_transport(runtime, protocol) as write_and_read:
                    db = baseline_db(data_dir)
                    bare = await start_listener(baseline_app(write_and_read, db), HOST, 0)
                    try:
                        await gateway.scan(clock.monotonic())
                        await _engage(gateway, runtime, clock)
                        await _sample(gateway, runtime, clock, api, bare, size, samples)
                    finally:
                        await _stop(bare)
                        db.close()
            finally:
                await _stop(api)
                for link in gateway.links.values():
                    await link.close()
                store.close()
    return samples


async def _sample(
    gateway: Gateway,
    runtime: SimRuntime[Simulation],
    clock: ManualClock,
    api: Listener,
    bare: Listener,
    size: Size,
    samples: Samples,
) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}

    async with RawHttpClient(HOST, api.port, auth) as engine, RawHttpClient(HOST, bare.port) as plain:

        async def through_gateway(i: int, value: float) -> None:
            now = clock.now()
            started = time.perf_counter()
            status, answer = await engine.post_json("/v1/recommendations", _recommendation(i, value, now))
            answered = time.perf_counter()
            await gateway.scan(now)
            done = time.perf_counter()
            written = gateway.writes.get(TAG)
            if status != 200 or answer["decisions"][0]["decision"] != "accepted":
                raise RuntimeError(f"recommendation {i} not accepted: {status} {answer}")
            if not written or written[-1].at != now:
                raise RuntimeError(f"recommendation {i} was not written and confirmed at its scan")
            if i >= size.warmup:
                samples.gateway_ms.append((done - started) * 1e3)
                samples.post_ms.append((answered - started) * 1e3)
                samples.scan_ms.append((done - answered) * 1e3)

        async def through_baseline(i: int, value: float) -> None:
            started = time.perf_counter()
            status, answer = await plain.post_json("/write", {"value": value})
            done = time.perf_counter()
            if status != 200 or abs(answer["readback"] - value) > 1e-3:
                raise RuntimeError(f"baseline write {i} not confirmed: {status} {answer}")
            if i >= size.warmup:
                samples.baseline_ms.append((done - started) * 1e3)

        for i in range(size.warmup + size.requests):
            await runtime.step()
            clock.advance(runtime.sim.dt_s)
            value = round(START_SP + STEP_SP * (i + 1), 2)
            if i % 2:
                await through_baseline(i, value)
                await through_gateway(i, value)
            else:
                await through_gateway(i, value)
                await through_baseline(i, value)


async def run(size: Size = Size()) -> list[Figure]:
    figures = []
    for protocol in size.protocols:
        samples = Samples()
        for _ in range(size.rounds):
            await measure(protocol, size, samples)
        breakdown = {
            "post_answered_p50_ms": round(_median(samples.post_ms), 3),
            "scan_with_write_p50_ms": round(_median(samples.scan_ms), 3),
        }
        for label, q in (("p50", 0.5), ("p99", 0.99)):
            figures.append(
                figure(
                    f"decision_path_{protocol.value}_{label}",
                    "ms",
                    samples.gateway_ms,
                    samples.baseline_ms,
                    quantile=q,
                    ratio_target=1.5,
                    what=f"{label} ms: POST answered + the scan that writes and reads back ({protocol.value})",
                    extra=breakdown,
                )
            )
    return figures


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else 0.0
