"""`otgate demo`: simulator + gateway + demo AI engine + HMI on localhost, as a newcomer's first look.

The demo operator engages AI control through the HMI API like a person would; the engine then talks to
the gateway over HTTP; the gateway talks to the simulated PLC over Modbus TCP. Nothing is short-circuited.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from otgate.api.schemas import ModelInfo
from otgate.audit.store import AuditStore
from otgate.client import AsyncGatewayClient, run_engine
from otgate.client.demo_engine import DemoEngine
from otgate.config.bundled import plant_config_path
from otgate.config.loader import LoadedConfig, load_config_file
from otgate.core.config import Protocol
from otgate.host.service import GatewayService, stop_on_signals

ROOT = Path(__file__).resolve().parents[2]
DEMO_OPERATOR = ("operator", "demo-operator")
ENGAGE_AFTER_S = 2.0


@dataclass
class DemoSummary:
    recommendations: int
    accepted: int
    rejected: int
    fallbacks: int
    audit_records: int

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


def config_path(plant: str) -> Path:
    return plant_config_path(plant)


def pointed_at(loaded: LoadedConfig, modbus_port: int) -> LoadedConfig:
    """The plant config with its PLC connections pointed at the simulator's actual port."""
    config = loaded.config
    plcs = {}
    for name, plc in config.plcs.items():
        modbus = (
            plc.modbus.model_copy(update={"host": "127.0.0.1", "port": modbus_port}) if plc.modbus else None
        )
        plcs[name] = plc.model_copy(update={"modbus": modbus, "protocol": Protocol.MODBUS})
    return LoadedConfig(config.model_copy(update={"plcs": plcs}), loaded.path, loaded.sha256)


def free_or_zero(host: str, port: int) -> int:
    """The configured port if it is free, else 0 (any free port) so a busy 8000 does not stop a demo."""
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return 0
            raise
    return port


async def run_demo(plant: str, duration_s: float | None, data_dir: Path, *, say: Any = print) -> DemoSummary:
    from otgate_simulator.runtime import SimRuntime
    from otgate_simulator.simulation import Simulation

    loaded = load_config_file(config_path(plant))
    token = f"demo-{plant}-engine-token"
    sim = Simulation(plant, seed=0)
    stop = asyncio.Event()
    stop_on_signals(stop)  # SIGTERM and SIGINT stop the demo like --duration does, summary and all
    sim_stop = asyncio.Event()  # the simulated PLC keeps running until the gateway has released it
    async with SimRuntime(sim, modbus_port=0, opcua_port=0) as runtime:
        settings = loaded.config.gateway
        service = GatewayService(
            pointed_at(loaded, runtime.endpoints.modbus_port),
            data_dir,
            api_port=free_or_zero(settings.api.host, settings.api.port),
            hmi_port=free_or_zero(settings.hmi.host, settings.hmi.port),
        )
        ticking = asyncio.create_task(runtime.run_realtime(speed=1.0, stop=sim_stop))
        async with service:
            say(
                f"plant      {plant} (simulated PLC on modbus {runtime.endpoints.modbus}, opc ua {runtime.endpoints.opcua_url})"
            )
            say(f"AI API     {service.api_url}/v1/recommendations   (engine token {token})")
            say(f"HMI        {service.hmi_url}/hmi   (operator / demo-operator)")
            say(f"audit      {data_dir / 'audit.sqlite3'}")
            engine = DemoEngine()
            client = AsyncGatewayClient(
                service.api_url, token, model=ModelInfo(name=engine.name, version="1.0")
            )
            engine_task = asyncio.create_task(run_engine(engine, client, period_s=2.0, stop=stop))
            with contextlib.suppress(TimeoutError):  # a signal during the warm-up skips the engage
                await asyncio.wait_for(stop.wait(), ENGAGE_AFTER_S)
            if not stop.is_set():
                await engage_all(service.hmi_url)
                say("operator   engaged AI control on every loop")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), duration_s)
            stop.set()
            await engine_task
            await client.aclose()
            counters = service.gateway.counters
        sim_stop.set()
        await ticking
    store = AuditStore(data_dir, None, read_only=True)
    try:
        records = store.count()
    finally:
        store.close()
    return DemoSummary(
        counters.recommendations, counters.accepted, counters.rejected, counters.fallbacks, records
    )


async def engage_all(hmi_url: str) -> None:
    user, password = DEMO_OPERATOR
    async with httpx.AsyncClient(base_url=hmi_url, timeout=10.0) as client:
        login = await client.post("/hmi/api/session", json={"user": user, "password": password})
        login.raise_for_status()
        headers = {"X-CSRF-Token": login.json()["csrf_token"]}
        response = await client.post("/hmi/api/plant/engage", json={"reason": "demo start"}, headers=headers)
        response.raise_for_status()


def main(plant: str, duration_s: float | None, data_dir: Path, as_json: bool) -> int:
    say = (lambda *_: None) if as_json else (lambda line: print(line, flush=True))
    try:
        summary = asyncio.run(run_demo(plant, duration_s, data_dir, say=say))
    except KeyboardInterrupt:
        return 0
    if as_json:
        print(json.dumps(summary.as_dict()))
    else:
        print("summary    " + ", ".join(f"{k} {v}" for k, v in summary.as_dict().items()))
    return 0
