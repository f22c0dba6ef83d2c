"""The gateway as a running service: field links, audit store, scan loop and the two HTTP listeners.

Everything runs in one asyncio loop. The AI-facing API and the HMI listen on separate sockets so that an
operator's listener is never the one an engine floods.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from otgate.api.ai import create_ai_app
from otgate.api.hmi import create_hmi_app
from otgate.audit_store import AuditStore, audit_key_from_env
from otgate.clock import Clock, SystemClock
from otgate.config_file import LoadedConfig
from otgate.core.audit_chain import AuditKind
from otgate.core.config import PlantConfig, Protocol
from otgate.core.plant import compile_plant
from otgate.field.link import FieldLink
from otgate.field.modbus import ModbusLink
from otgate.field.opcua import OpcUaLink
from otgate.gateway import GATEWAY, Gateway
from otgate.opcua_northbound.server import NorthboundServer

log = logging.getLogger(__name__)
START_TIMEOUT_S = 10.0


def build_links(config: PlantConfig) -> dict[str, FieldLink]:
    links: dict[str, FieldLink] = {}
    for name, plc in config.plcs.items():
        tags = {t: tag for t, tag in config.tags.items() if tag.plc == name}
        links[name] = ModbusLink(plc, tags) if plc.protocol is Protocol.MODBUS else OpcUaLink(plc, tags)
    return links


class _QuietServer(uvicorn.Server):
    """uvicorn without its own signal handling: the service owns start and stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class Listener:
    server: uvicorn.Server
    task: asyncio.Task[None]
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


async def start_listener(app: Callable[..., Any], host: str, port: int) -> Listener:
    server = _QuietServer(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=1,
        )
    )
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(START_TIMEOUT_S):
        while not server.started:
            if task.done():
                task.result()  # re-raise why it could not start (port in use, ...)
            await asyncio.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    return Listener(server, task, host, int(bound))


class GatewayService:
    def __init__(
        self,
        loaded: LoadedConfig,
        data_dir: Path,
        *,
        clock: Clock | None = None,
        links: dict[str, FieldLink] | None = None,
        api_port: int | None = None,
        hmi_port: int | None = None,
    ) -> None:
        config = loaded.config
        self.loaded = loaded
        self.clock = clock or SystemClock()
        data_dir.mkdir(parents=True, exist_ok=True)
        self.audit = AuditStore(data_dir, key=audit_key_from_env(os.environ))
        self.gateway = Gateway(compile_plant(config), links or build_links(config), self.audit, self.clock)
        self.gateway.watch_config_file(loaded)
        self.api_port = config.gateway.api.port if api_port is None else api_port
        self.hmi_port = config.gateway.hmi.port if hmi_port is None else hmi_port
        self.api: Listener | None = None
        self.hmi: Listener | None = None
        self.northbound: NorthboundServer | None = None
        self._scanning: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    @property
    def api_url(self) -> str:
        if self.api is None:
            raise RuntimeError("the service is not started")
        return self.api.url

    @property
    def hmi_url(self) -> str:
        if self.hmi is None:
            raise RuntimeError("the service is not started")
        return self.hmi.url

    async def start(self) -> None:
        config = self.loaded.config
        now = self.clock.now()
        self.audit.append(
            AuditKind.CONFIG_LOAD,
            GATEWAY,
            {"file": str(self.loaded.path), "sha256": self.loaded.sha256, "plant": config.plant},
            now,
        )
        remembered = self.gateway.recover()
        start = {"loops": {n: "fallback" for n in config.loops}, "replay_ids_recovered": remembered}
        self.audit.append(AuditKind.GATEWAY_START, GATEWAY, start, now)
        hmi_app = create_hmi_app(self.gateway, config_path=self.loaded.path)
        self.hmi = await start_listener(hmi_app, config.gateway.hmi.host, self.hmi_port)
        self.api = await start_listener(create_ai_app(self.gateway), config.gateway.api.host, self.api_port)
        if config.gateway.opcua_northbound is not None:
            # Relative certificate paths in the northbound settings are taken from the config file's folder.
            base = Path(self.loaded.path).parent
            self.northbound = NorthboundServer(self.gateway, config.gateway.opcua_northbound, base)
            await self.northbound.start()
        self._scanning = asyncio.create_task(self._scan_forever())

    async def _scan_forever(self) -> None:
        period = self.loaded.config.gateway.scan_interval_s
        scheduled = self.clock.now()
        while not self._stop.is_set():
            await self.gateway.scan(scheduled)
            scheduled += period
            late = self.clock.now() - scheduled
            if late > period:  # overrun: skip missed scans rather than bursting to catch up
                scheduled += period * int(late // period)
            await self.clock.sleep_until(scheduled)

    async def stop(self) -> None:
        self._stop.set()
        if self.northbound is not None:
            with contextlib.suppress(Exception):
                await self.northbound.stop()
        if self._scanning is not None:
            self._scanning.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._scanning
        for listener in (self.api, self.hmi):
            if listener is not None:
                listener.server.should_exit = True
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(listener.task, 5.0)
        for link in self.gateway.links.values():
            with contextlib.suppress(Exception):
                await link.close()
        with contextlib.suppress(Exception):
            self.audit.append(
                AuditKind.GATEWAY_STOP, GATEWAY, {"scans": self.gateway.scans}, self.clock.now()
            )
        self.audit.close()

    async def __aenter__(self) -> GatewayService:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def run_until_signalled(loaded: LoadedConfig, data_dir: Path) -> None:
    """`otgate run`: serve until SIGINT or SIGTERM, then stop cleanly (the PLC watchdog covers a hard kill)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with GatewayService(loaded, data_dir) as service:
        print(
            f"otgate {loaded.config.plant}: AI API {service.api_url}  HMI {service.hmi_url}  (all loops in fallback)",
            flush=True,
        )
        if service.northbound is not None:
            print(f"otgate {loaded.config.plant}: OPC UA northbound {service.northbound.url}", flush=True)
        await stop.wait()
