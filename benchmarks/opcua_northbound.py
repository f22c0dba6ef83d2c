"""`opcua_northbound`: a legacy optimiser's OPC UA write through otgate's northbound server, decided and
written to the PLC, against the same client writing the simulated PLC's OPC UA server directly.

Set-up, all in one asyncio loop on 127.0.0.1: the tank simulation behind its Modbus and OPC UA servers;
a `Gateway` with a real durable `AuditStore` (HMAC-keyed, fsync per commit), a `ManualClock` and a Modbus
southbound link; the northbound server (`otgate.opcua_northbound`) with the engine `apc` bound to it;
loop LIC-101 engaged (PLC in REMOTE, confirmed), so every write is accepted. Both OPC UA endpoints use
security None (anonymous, `anonymous_engine: apc` on the northbound side) so that the comparison is of
the gateway's work, not of two different channel encryptions; Sign&Encrypt costs both sides alike.

One gateway sample, timed with `perf_counter` by the client:

    asyncua Write of ns=2;s=LIC-101.RSP (Double) to the northbound server
      -> session bound to `apc`, Proposal, validate, recommendation + decision in one fsynced
         transaction, `<tag>.Decision` node updated -> StatusCode Good read by the client
    then `await gateway.scan(now)`, the scan that carries the write (block read, heartbeat, mode
      reconcile, re-validation, PLC_WRITE record, Modbus FC16 write + FC3 read-back, WRITE_CONFIRMED)

One baseline sample: the same asyncua client type writes the same value to the simulator's own OPC UA
node ns=2;s=LIC-101.RSP (Float) and gets its StatusCode: a legacy optimiser wired straight to the PLC,
checking nothing. Samples alternate gateway/baseline (order swapped each time); the setpoint climbs
0.24 mm per sample (one simulated second), inside every rule. As in `decision_path`, the scan is run
right after the answer instead of waiting for the scan period.

Target: ratio <= 2.0 (the issue's; an open Modbus policy proxy measured 4.7x without checking values).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asyncua import Client, ua

from benchmarks.decision_path import KEY, LOOP, START_SP, STEP_SP, _engage, pointed
from benchmarks.figure import Figure, figure
from otgate.audit.store import AuditStore
from otgate.core.config import Engine, OpcUaNorthbound, Protocol
from otgate.core.plant import compile_plant
from otgate.core.proposal import Proposal
from otgate.host.service import build_links
from otgate.opcua_northbound.server import NorthboundServer
from otgate.runtime.clock import ManualClock
from otgate.runtime.gateway import Gateway
from otgate.runtime.state import Answer
from otgate_simulator.runtime import SimRuntime
from otgate_simulator.simulation import Simulation, default_config

TAG = "LIC-101.RSP"
NODE = ua.NodeId.from_string("ns=2;s=LIC-101.RSP")
MAX_SAMPLES = 600


@dataclass(frozen=True)
class Size:
    requests: int = 300
    warmup: int = 20
    rounds: int = 2


TINY = Size(requests=4, warmup=1, rounds=1)


@dataclass
class Samples:
    gateway_ms: list[float] = field(default_factory=list)
    baseline_ms: list[float] = field(default_factory=list)
    write_ms: list[float] = field(default_factory=list)
    submit_ms: list[float] = field(default_factory=list)
    scan_ms: list[float] = field(default_factory=list)


class TimedGateway(Gateway):
    """The gateway, with the time of each `submit` (decide + the fsynced commit of recommendation and
    decision) noted: the part of the answered write that is the gateway's, not asyncua's."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.submit_ms: list[float] = []

    def submit(self, proposals: Sequence[Proposal], rationales: Sequence[str | None] = ()) -> list[Answer]:
        started = time.perf_counter()
        try:
            return super().submit(proposals, rationales)
        finally:
            self.submit_ms.append((time.perf_counter() - started) * 1e3)


async def measure(size: Size, samples: Samples) -> None:
    if size.warmup + size.requests > MAX_SAMPLES:
        raise ValueError(f"at most {MAX_SAMPLES} samples fit in the tank's limits and change budget")
    sim = Simulation("tank", seed=0)
    async with SimRuntime(sim, opcua_port=0) as runtime:
        config = pointed(default_config("tank"), runtime, Protocol.MODBUS)
        settings = OpcUaNorthbound(port=0, security_policy="None", anonymous_engine="apc")
        engine = Engine(token_sha256="sha256:" + "0" * 64, writes=[TAG], max_requests_per_s=1000, burst=1000)
        config = config.model_copy(
            update={
                "engines": {"apc": engine},  # the only engine: no other one to fall silent
                "gateway": config.gateway.model_copy(update={"opcua_northbound": settings}),
            }
        )
        clock = ManualClock(1_800_000_000.0)
        with tempfile.TemporaryDirectory(prefix="otgate-bench-") as data_dir:
            store = AuditStore(data_dir, KEY)
            gateway = TimedGateway(compile_plant(config), build_links(config), store, clock)
            northbound = NorthboundServer(gateway, settings, Path(data_dir))
            try:
                await gateway.scan(clock.monotonic())
                await _engage(gateway, runtime, clock)
                await northbound.start()
                url = runtime.endpoints.opcua_url
                assert url is not None
                async with Client(northbound.url, timeout=5) as legacy, Client(url, timeout=5) as direct:
                    await _sample(gateway, runtime, clock, legacy, direct, size, samples)
            finally:
                await northbound.stop()
                for link in gateway.links.values():
                    await link.close()
                store.close()


async def _write(client: Client, value: float, variant: ua.VariantType) -> ua.StatusCode:
    dv = ua.DataValue(ua.Variant(value, variant))
    (status,) = await client.uaclient.write_attributes([NODE], [dv], ua.AttributeIds.Value)
    return status


async def _sample(
    gateway: TimedGateway,
    runtime: SimRuntime[Simulation],
    clock: ManualClock,
    legacy: Client,
    direct: Client,
    size: Size,
    samples: Samples,
) -> None:
    async def through_gateway(i: int, value: float) -> None:
        now = clock.now()
        started = time.perf_counter()
        status = await _write(legacy, value, ua.VariantType.Double)
        answered = time.perf_counter()
        await gateway.scan(now)
        done = time.perf_counter()
        written = gateway.writes.get(TAG)
        if not status.is_good() or not written or written[-1].at != now:
            raise RuntimeError(f"northbound write {i} not accepted and written: {status}")
        if i >= size.warmup:
            samples.gateway_ms.append((done - started) * 1e3)
            samples.write_ms.append((answered - started) * 1e3)
            samples.submit_ms.append(gateway.submit_ms[-1])
            samples.scan_ms.append((done - answered) * 1e3)

    async def through_baseline(i: int, value: float) -> None:
        started = time.perf_counter()
        status = await _write(direct, value, ua.VariantType.Float)
        done = time.perf_counter()
        if not status.is_good():
            raise RuntimeError(f"baseline write {i} refused: {status}")
        if i >= size.warmup:
            samples.baseline_ms.append((done - started) * 1e3)

    for i in range(size.warmup + size.requests):
        await runtime.step()
        clock.advance(runtime.sim.dt_s)
        value = round(START_SP + STEP_SP * (i + 1), 2)
        first, second = (through_baseline, through_gateway) if i % 2 else (through_gateway, through_baseline)
        await first(i, value)
        await second(i, value)


async def run(size: Size = Size()) -> list[Figure]:
    samples = Samples()
    for _ in range(size.rounds):
        await measure(size, samples)
    breakdown = {
        "write_answered_p50_ms": _p50(samples.write_ms),
        "of_which_gateway_submit_p50_ms": _p50(samples.submit_ms),
        "scan_with_plc_write_p50_ms": _p50(samples.scan_ms),
        "loop": LOOP,
    }
    return [
        figure(
            "opcua_northbound_p50",
            "ms",
            samples.gateway_ms,
            samples.baseline_ms,
            ratio_target=2.0,
            what="p50 ms: OPC UA write answered by the northbound server + the scan that writes the PLC,"
            " vs the same write straight to the PLC's OPC UA server",
            extra=breakdown,
        )
    ]


def _p50(values: list[float]) -> float:
    return round(sorted(values)[len(values) // 2], 3)


if __name__ == "__main__":
    import asyncio

    for row in asyncio.run(run()):
        print(row)
