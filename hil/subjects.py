"""The gateway under test, behind one small interface: the real otgate `Gateway`, or a pass-through.

`RealGateway` is otgate as deployed, minus the uvicorn sockets: its AI API app (`create_ai_app`) is
called through `httpx.ASGITransport`, so every recommendation goes through the real parsing, schema,
authentication and throttling, then `Gateway.submit`; `scan` is `Gateway.scan`. Operator actions go through
its HMI app (`create_hmi_app`) with a logged-in session and its CSRF token (`hil.hmi_operator`). It talks to the
simulated PLC over real Modbus TCP or OPC UA sockets. Killing it drops the object without a goodbye
(no mode release, no last heartbeat, no `gateway_stop` record), which is what the PLC sees of a SIGKILL:
its sockets close and the heartbeat stops.

`PassThroughGateway` is the negative control. It forwards everything: it parses bodies leniently
(NaN, strings of numbers), authenticates nobody, validates nothing, writes every recommended value to
the PLC at the next scan (any tag with a holding register or a node), keeps the loops in REMOTE (it
re-requests REMOTE whenever the PLC leaves it) and ignores operators. It keeps an audit trail of what
it received and wrote, so audit assertions about *decisions* have nothing to find. Every scenario must
fail against it: a scenario that passes here proves nothing about otgate.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx

from otgate.api.ai import create_ai_app
from otgate.api.hmi import create_hmi_app
from otgate.audit.store import AuditStore
from otgate.core.audit_chain import AuditKind
from otgate.core.config import Access, ModbusTable, PlantConfig
from otgate.core.modes import LoopMode, PlcMode
from otgate.core.plant import compile_plant
from otgate.field.backoff import Backoff
from otgate.field.link import FieldError, FieldLink
from otgate.field.session import FieldSession
from otgate.host.service import build_links
from otgate.runtime.clock import Clock
from otgate.runtime.gateway import Gateway
from otgate.runtime.records import start_entries
from otgate_hil.hmi_operator import HmiOperator, OperatorAction

MODE_CODES = {LoopMode.FALLBACK: 0.0, LoopMode.AI: 1.0, LoopMode.MANUAL: 2.0}
RECONNECT_MIN_S, RECONNECT_MAX_S = 0.1, 2.0


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""


class GatewayUnderTest(Protocol):
    async def post(self, token: str, body: bytes) -> Reply:
        """POST one body to /v1/recommendations; the HTTP status and the answer's body."""

    async def scan(self, now: float) -> None: ...

    async def act(self, action: OperatorAction) -> str:
        """An operator action at the gateway's HMI; what the HMI answered, for the event log."""

    def mode_code(self, loop: str) -> float:
        """The gateway's own view of a loop (0 fallback, 1 ai, 2 manual), for plots only."""

    def audit_seq(self) -> int | None:
        """The last audit record's seq (to place records on the tick they were written in)."""

    async def kill(self) -> None:
        """Stop existing now, without any goodbye to the PLC."""


def pace_by(links: dict[str, FieldLink], monotonic: Callable[[], float]) -> None:
    """Reconnect back-off on simulated time, so a lock-step run stays deterministic.

    The adapters pace reconnects with `time.monotonic` by default; a lock-step run is ~1000x faster than
    real time, so a 2 s wall back-off would hide the link for half an hour of plant time, differently
    every run. Each protocol link's field session (`otgate.field.session`) holds the back-off it uses.
    """
    for name, link in links.items():
        session = getattr(link, "session", None)
        if not isinstance(session, FieldSession):  # pacing nothing would silently make runs nondeterministic
            raise TypeError(f"link {name} has no field session whose back-off could run on simulated time")
        session.backoff = Backoff(RECONNECT_MIN_S, RECONNECT_MAX_S, clock=monotonic)


class RealGateway:
    def __init__(
        self,
        config: PlantConfig,
        data_dir: Path,
        clock: Clock,
        monotonic: Callable[[], float],
        source: str,
    ) -> None:
        self.audit = AuditStore(data_dir, None)
        links = build_links(config)
        pace_by(links, monotonic)
        self.gateway = Gateway(compile_plant(config), links, self.audit, clock)
        self.gateway.record_start(source, "")  # the trail reads like a production start
        transport = httpx.ASGITransport(app=create_ai_app(self.gateway))
        self._client = httpx.AsyncClient(transport=transport, base_url="http://otgate.hil")
        self._hmi_app = create_hmi_app(self.gateway)
        self.hmi = HmiOperator(self._hmi_app)

    async def post(self, token: str, body: bytes) -> Reply:
        headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
        response = await self._client.post("/v1/recommendations", content=body, headers=headers)
        return Reply(response.status_code, response.content)

    async def get(self, token: str, path: str) -> bytes:
        """An engine's read of the AI API (`/v1/tags`, `/v1/state`), for engines that see the plant."""
        response = await self._client.get(path, headers={"authorization": f"Bearer {token}"})
        response.raise_for_status()
        return response.content

    async def scan(self, now: float) -> None:
        await self.gateway.scan(now)

    async def act(self, action: OperatorAction) -> str:
        return await self.hmi.act(action)

    def audit_seq(self) -> int | None:
        return None if self.audit.head is None else self.audit.head.seq

    def mode_code(self, loop: str) -> float:
        return MODE_CODES[self.gateway.loops[loop].state.mode]

    async def kill(self) -> None:
        # The HMI's view refresher polls on the wall clock; it goes with the process.
        refresher = getattr(self._hmi_app.state.console, "_refreshing", None)
        if refresher is not None:
            refresher.cancel()
            with contextlib.suppress(BaseException):
                await refresher
        for link in self.gateway.links.values():
            with contextlib.suppress(Exception):
                await link.close()
        await self._client.aclose()
        await self.hmi.close()
        self.audit.close()


class PassThroughGateway:
    def __init__(
        self,
        config: PlantConfig,
        data_dir: Path,
        clock: Clock,
        monotonic: Callable[[], float],
        source: str,
    ) -> None:
        self.config = _everything_writable(config)
        self.audit = AuditStore(data_dir, None)
        self.links = build_links(self.config)
        pace_by(self.links, monotonic)
        self.clock = clock
        self.queue: list[tuple[str, float]] = []
        self.heartbeat = 0
        self.audit.append_many(start_entries(config.plant, list(config.loops), source, "", 0, clock.now()))

    async def post(self, token: str, body: bytes) -> Reply:
        try:
            data = json.loads(body)
        except ValueError:
            return Reply(400)
        items = data.get("recommendations", [data]) if isinstance(data, dict) else []
        now = self.clock.now()
        for item in items:
            value = _lenient_number(item.get("value"))
            tag = str(item.get("tag", ""))
            shown = value if value is not None and math.isfinite(value) else repr(value)
            self.audit.append(AuditKind.RECOMMENDATION, "engine:unknown", {"tag": tag, "value": shown}, now)
            if value is not None and tag in self.config.tags:
                self.queue.append((tag, value))
        return Reply(200, b'{"decisions": []}')

    async def scan(self, now: float) -> None:
        self.heartbeat = (self.heartbeat + 1) % 65536
        for plc_name, plc in self.config.plcs.items():
            link = self.links[plc_name]
            names = [n for n, t in self.config.tags.items() if t.plc == plc_name]
            try:
                if not link.is_connected:
                    await link.connect()
                reading = await link.read(names)
                await link.write(plc.heartbeat_tag, float(self.heartbeat))
                for loop in self.config.loops.values():
                    if self.config.tags[loop.sp].plc == plc_name and reading.values.get(loop.mode) != 2:
                        await link.write(loop.mode_request, float(PlcMode.REMOTE))
            except FieldError:
                continue
        queue, self.queue = self.queue, []
        for tag, value in queue:
            link = self.links[self.config.tags[tag].plc]
            with contextlib.suppress(FieldError, ValueError, OverflowError):
                self.audit.append(
                    AuditKind.PLC_WRITE, "passthrough", {"tag": tag, "value": _json(value)}, now
                )
                await link.write(tag, value)

    async def act(self, action: OperatorAction) -> str:
        data = {"event": action.kind, "loops": list(action.loops), "ignored": True}
        self.audit.append(AuditKind.OPERATOR_ACTION, f"operator:{action.user}", data, self.clock.now())
        return "ignored by the pass-through gateway"

    def audit_seq(self) -> int | None:
        return None if self.audit.head is None else self.audit.head.seq

    def mode_code(self, loop: str) -> float:
        return MODE_CODES[LoopMode.AI]

    async def kill(self) -> None:
        for link in self.links.values():
            with contextlib.suppress(Exception):
                await link.close()
        self.audit.close()


def _lenient_number(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _json(value: float) -> float | str:
    return value if math.isfinite(value) else repr(value)


def _everything_writable(config: PlantConfig) -> PlantConfig:
    """Every tag the PLC exposes as a holding register (or any OPC UA node) marked writable."""
    tags = {
        name: tag.model_copy(update={"access": Access.WRITE})
        if tag.opcua is not None or (tag.modbus is not None and tag.modbus.table is ModbusTable.HOLDING)
        else tag
        for name, tag in config.tags.items()
    }
    return config.model_copy(update={"tags": tags})


SUBJECTS: dict[str, type[RealGateway] | type[PassThroughGateway]] = {
    "otgate": RealGateway,
    "passthrough": PassThroughGateway,
}
