"""The gateway as a running service: field links, audit store, scan loop and the two HTTP listeners.

The gateway, its scan and the HMI run on one asyncio loop; the AI-facing API listens on its own socket,
thread and loop, and hands the gateway work over through a bounded door (`otgate.runtime.hand_off`), so a
flood of engine requests is read and parsed away from the loop where an operator's button is served.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from pathlib import Path

from otgate.api.ai import create_ai_app
from otgate.api.hmi import create_hmi_app
from otgate.audit.store import AuditStore, audit_key_from_env
from otgate.config.loader import LoadedConfig
from otgate.core.audit_chain import AuditKind
from otgate.core.config import PlantConfig, Protocol
from otgate.core.modes import PlcMode
from otgate.core.plant import compile_plant
from otgate.deploy.notify import service_manager
from otgate.field.link import FieldLink
from otgate.field.modbus import ModbusLink
from otgate.field.opcua import OpcUaLink
from otgate.host.listeners import Listener, start_listener, start_listener_on_thread
from otgate.opcua_northbound.server import NorthboundServer
from otgate.runtime.clock import Clock, SystemClock
from otgate.runtime.gateway import Gateway
from otgate.runtime.hand_off import HandOff
from otgate.runtime.plc_handshake import FALLBACK_DEADLINE_SCANS
from otgate.runtime.state import GATEWAY, REMOTE_MODES

log = logging.getLogger(__name__)
STOP_REASON = "gateway stopping"
# On a clean stop the gateway keeps scanning until the PLC confirms local control of every loop, for at
# most this many scans (the PLC watchdog sheds the rest once the heartbeat stops).
RELEASE_SCANS = 3 * FALLBACK_DEADLINE_SCANS
RELEASE_SLACK_S = 2.0  # on top of the scans' own time, for a loaded machine


def build_links(config: PlantConfig) -> dict[str, FieldLink]:
    links: dict[str, FieldLink] = {}
    for name, plc in config.plcs.items():
        tags = {t: tag for t, tag in config.tags.items() if tag.plc == name}
        links[name] = ModbusLink(plc, tags) if plc.protocol is Protocol.MODBUS else OpcUaLink(plc, tags)
    return links


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
        self._scan_asked = asyncio.Event()
        self.gateway.scan_now = self._scan_asked.set

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
        self.gateway.record_start(str(self.loaded.path), self.loaded.sha256)
        hmi_app = create_hmi_app(self.gateway, config_path=self.loaded.path)
        gateway = config.gateway
        base = Path(self.loaded.path).parent  # TLS files are named relative to the config file
        self.hmi = await start_listener(hmi_app, gateway.hmi.host, self.hmi_port, gateway.hmi, base)
        ai_app = create_ai_app(self.gateway, HandOff(asyncio.get_running_loop()))
        self.api = await start_listener_on_thread(ai_app, gateway.api.host, self.api_port, gateway.api, base)
        if config.gateway.opcua_northbound is not None:
            # Relative certificate paths in the northbound settings are taken from the config file's folder.
            base = Path(self.loaded.path).parent
            self.northbound = NorthboundServer(self.gateway, config.gateway.opcua_northbound, base)
            await self.northbound.start()
        self._scanning = asyncio.create_task(self._scan_forever())

    async def _scan_forever(self) -> None:
        due = self.clock.monotonic()  # when the next scan of the schedule is due
        while not self._stop.is_set():
            self._scan_asked.clear()
            # Judged on the actual time, not the schedule: a late scan followed by an on-time one must
            # not look a full period apart to the rate rules.
            await self.gateway.scan(self.clock.monotonic())
            # The period in force now: a reload that changes the scan interval changes the pace too,
            # or the step sizes (computed from the new period) would come at the old pace.
            period = self.gateway.plant.config.gateway.scan_interval_s
            now = self.clock.monotonic()
            if now >= due:  # a scheduled scan (an asked-for one leaves the schedule as it was)
                due += period
                if now - due > period:  # overrun: skip missed scans rather than bursting to catch up
                    due += period * int((now - due) // period)
            await self._pause_until(due)

    async def _pause_until(self, due: float) -> None:
        """Until the next scan is due, or sooner when an operator's toward-safety action asks for a scan."""
        if self._scan_asked.is_set():
            return
        waits = {
            asyncio.ensure_future(self.clock.sleep_until(due)),
            asyncio.ensure_future(self._scan_asked.wait()),
        }
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    def _held_by_plc(self) -> list[str]:
        """Loops the PLC still reports in REMOTE (unknown counts as held: the link may be down)."""
        values = self.gateway.snapshot.values
        return [
            name
            for name, loop in self.gateway.plant.config.loops.items()
            if values.get(loop.mode, float(PlcMode.REMOTE)) == PlcMode.REMOTE
        ]

    async def release_loops(self) -> None:
        """Every loop back to conventional control before the service goes: the same on SIGTERM and
        SIGINT, for `otgate run` and `otgate demo`. Bounded by RELEASE_SCANS; the PLC watchdog covers
        the rest."""
        gateway = self.gateway
        held = [n for n, rt in gateway.loops.items() if rt.state.mode in REMOTE_MODES]
        gateway.fall_back(held, STOP_REASON, self.clock.monotonic())
        if self._scanning is None or self._scanning.done() or not held:
            return
        period = self.loaded.config.gateway.scan_interval_s
        last_scan = gateway.scans + RELEASE_SCANS
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout((RELEASE_SCANS + 1) * period + RELEASE_SLACK_S):
                # Two scans at least: one to request local mode, one to read the PLC's answer.
                first = gateway.scans + 2
                while gateway.scans < first or (self._held_by_plc() and gateway.scans < last_scan):
                    await asyncio.sleep(period / 4)

    async def stop(self) -> None:
        with contextlib.suppress(Exception):  # stopping must go on whatever the release met
            await self.release_loops()
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
                await listener.stop()
        for link in self.gateway.links.values():
            with contextlib.suppress(Exception):
                await link.close()
        with contextlib.suppress(Exception):
            data = {
                "scans": self.gateway.scans,
                "loops": {n: rt.state.mode.value for n, rt in self.gateway.loops.items()},
                "plc_remote": self._held_by_plc(),
            }
            self.audit.append(AuditKind.GATEWAY_STOP, GATEWAY, data, self.clock.now())
        self.audit.close()

    async def __aenter__(self) -> GatewayService:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def stop_on_signals(stop: asyncio.Event) -> None:
    """SIGINT and SIGTERM both ask for the one clean stop (loops to local control, then the trail's
    `gateway_stop`); a second signal is ignored while that runs. The PLC watchdog covers a hard kill."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


async def run_until_signalled(loaded: LoadedConfig, data_dir: Path) -> None:
    """`otgate run`: serve until SIGINT or SIGTERM, then stop cleanly and print a summary."""
    stop = asyncio.Event()
    stop_on_signals(stop)
    async with GatewayService(loaded, data_dir) as service:
        print(
            f"otgate {loaded.config.plant}: AI API {service.api_url}  HMI {service.hmi_url}  (all loops in fallback)",
            flush=True,
        )
        if service.northbound is not None:
            print(f"otgate {loaded.config.plant}: OPC UA northbound {service.northbound.url}", flush=True)
        async with service_manager(lambda: service.gateway.scans):
            await stop.wait()
            print("otgate: stopping; every loop back to conventional control", flush=True)
    c = service.gateway.counters
    print(
        f"summary    scans {service.gateway.scans}, recommendations {c.recommendations}, accepted {c.accepted},"
        f" rejected {c.rejected}, fallbacks {c.fallbacks}",
        flush=True,
    )
