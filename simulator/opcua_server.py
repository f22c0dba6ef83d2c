"""The simulated PLC's OPC UA server (asyncua 2.1).

Address space: one namespace per plant, URI `urn:otgate:sim:<plant>`, registered first so that it gets
index 2 and the configuration's node ids (`ns=2;s=<TAG>`) resolve; `start()` refuses to run otherwise.
Under Objects, one folder `<plant>` holds one variable per tag with an `opcua` address:

    node id        the configured one, e.g. ns=2;s=LIC-101.RSP
    data type      the tag's type: float32 Float, float64 Double, int16 Int16, uint16 UInt16, int32 Int32,
                   uint32 UInt32
    value          the same raw number the Modbus registers carry, (engineering - offset) / scale — equal
                   to the engineering value for every shipped config (scale 1, offset 0)
    access         CurrentRead; CurrentWrite too only for `access: write` tags
    timestamps     Source and Server timestamp = SIM_EPOCH + simulation time (deterministic)

Writes: the server refuses a client write to a read-only node with BadUserAccessDenied (asyncua's answer
for a non-admin session; remote admin login is switched off, so no session can bypass the access level)
and a wrongly typed Variant with BadTypeMismatch. An accepted external write is forwarded to
`sim.write_tag(tag, value, protocol="opcua", address=node_id)` from the PostWrite callback; writes the
server makes itself (publishing) never reach it, because they bypass the session layer and the callback
also checks `is_external`. When the simulation refuses the value, the write's status is turned into
BadOutOfRange before the response is sent.

Start-up cost: asyncua's `init()` builds the standard address space (2–4 s here). It can load it from a
shelf instead, but never does when Python's dbm backend is `dbm.dumb` (opcua-asyncio#1732): its existence
check looks for `<path>` or `<path>.db`, which dbm.dumb never creates. `_AddressSpaceCache` builds the shelf
once per asyncua/Python version under the user's cache directory, then creates an empty sentinel file at
`<path>` so the check passes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any, cast

from asyncua import ua
from asyncua.common.callback import CallbackType, ServerItemCallback
from asyncua.server.server import Server
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.status_codes import StatusCodes

from otgate.core.config import Access
from simulator.process_image import ProcessImage
from simulator.registers import RegisterFormat

SIM_EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
_VARIANT_TYPES = {
    "float32": ua.VariantType.Float,
    "float64": ua.VariantType.Double,
    "int16": ua.VariantType.Int16,
    "uint16": ua.VariantType.UInt16,
    "int32": ua.VariantType.Int32,
    "uint32": ua.VariantType.UInt32,
}
_logger = logging.getLogger(__name__)


def default_cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "otgate"


@dataclass(frozen=True)
class _AddressSpaceCache:
    root: Path

    @property
    def shelf(self) -> Path:
        py = f"py{sys.version_info.major}.{sys.version_info.minor}"
        return self.root / f"asyncua-{version('asyncua')}-{py}" / "aspace"

    def is_ready(self) -> bool:
        return self.shelf.is_file()

    async def new_server(self) -> Server:
        """An initialised `Server`: from the cache when it is ready, building the cache otherwise."""
        if self.is_ready():
            server = Server()
            try:
                await server.init(self.shelf)
                return server
            except Exception:  # a stale or truncated shelf must not stop the simulator: rebuild it
                _logger.warning(
                    "address-space cache %s unusable, rebuilding it", self.shelf.parent, exc_info=True
                )
                shutil.rmtree(self.shelf.parent, ignore_errors=True)
        server = Server()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix="building-", dir=self.root))
        except OSError:  # no writable cache directory: start the slow way
            await server.init()
            return server
        try:
            await server.init(staging / "aspace")
            (staging / "aspace").touch()  # the sentinel: see the module docstring
            with contextlib.suppress(OSError):  # atomic; fails harmlessly if another process won the race
                staging.rename(self.shelf.parent)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return server


@dataclass(frozen=True, slots=True)
class NodeSlot:
    tag: str
    node_id: ua.NodeId
    variant_type: ua.VariantType
    fmt: RegisterFormat
    writable: bool


@dataclass(frozen=True)
class ServerSecurity:
    """Endpoint security. Only None for now.

    The seam for Basic256Sha256: add certificate/private-key paths here, and in `apply` await
    `server.load_certificate(...)` / `server.load_private_key(...)`, pass the Sign/SignAndEncrypt policy
    types to `set_security_policy`, and install a certificate validator (asyncua accepts any client
    certificate by default). `application_uri` must then match the certificate's URI SAN.
    """

    policy: str = "None"

    async def apply(self, server: Server) -> None:
        if self.policy != "None":
            raise NotImplementedError(f"security policy {self.policy!r} is not implemented yet")
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        # Anonymous only: user names or certificates over an unencrypted channel would be theatre.
        server.set_identity_tokens([ua.AnonymousIdentityToken])


class OpcUaServer:
    """Serves the simulation over OPC UA at opc.tcp://host:port/otgate/<plant> (port 0 picks a free one)."""

    def __init__(
        self,
        sim: ProcessImage,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        security: ServerSecurity | None = None,
        cache_root: Path | None = None,
    ):
        self.sim = sim
        self.host = host
        self._requested_port = port
        self._security = security or ServerSecurity()
        self._cache = _AddressSpaceCache(cache_root or default_cache_root())
        self.namespace_uri = f"urn:otgate:sim:{sim.config.plant}"
        self._slots = _node_slots(sim)
        self._by_node = {s.node_id: s for s in self._slots}
        self._server: Server | None = None
        self._port = 0

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"opc.tcp://{self.host}:{self._port}/otgate/{self.sim.config.plant}"

    async def start(self) -> None:
        server = await self._cache.new_server()
        server.set_endpoint(f"opc.tcp://{self.host}:{self._requested_port}/otgate/{self.sim.config.plant}")
        server.set_server_name(f"otgate simulator ({self.sim.config.plant})")
        server.allow_remote_admin(False)
        server.disable_clock()  # the 1 Hz clock task makes stop() wait ~0.9 s
        await self._security.apply(server)
        await self._build_address_space(server)
        server.subscribe_server_callback(CallbackType.PostWrite, self._on_post_write)
        self._server = server
        await self.publish()
        try:
            await server.start()  # on failure asyncua has already stopped its internal server
        except BaseException:
            self._server = None
            raise
        self._port = self._bound_port(server)
        for endpoint in server.iserver.endpoints:  # advertise the real port, not 0
            endpoint.EndpointUrl = self.url

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop()
            self._server = None

    async def publish(self, image: Mapping[str, float] | None = None) -> None:
        """Write the process image (default: `sim.image()`) into the nodes, stamped with simulation time."""
        if self._server is None:
            raise RuntimeError("server not started")
        values = self.sim.image() if image is None else image
        stamp = cast(ua.DateTime, SIM_EPOCH + dt.timedelta(seconds=self.sim.time_s))
        for slot in self._slots:
            variant = ua.Variant(slot.fmt.to_raw(values[slot.tag], saturate=True), slot.variant_type)
            await self._server.write_attribute_value(
                slot.node_id, ua.DataValue(variant, SourceTimestamp=stamp, ServerTimestamp=stamp)
            )

    async def _build_address_space(self, server: Server) -> None:
        index = await server.register_namespace(self.namespace_uri)
        for slot in self._slots:
            if slot.node_id.NamespaceIndex != index:
                raise RuntimeError(
                    f"{slot.tag}: configured namespace {slot.node_id.NamespaceIndex}, server has {index}"
                )
        folder = await server.nodes.objects.add_folder(
            ua.NodeId.from_string(f"ns={index};s={self.sim.config.plant}"), self.sim.config.plant
        )
        for slot in self._slots:
            zero = ua.Variant(slot.fmt.to_raw(0.0), slot.variant_type)
            node = await folder.add_variable(slot.node_id, slot.tag, zero, slot.variant_type)
            await node.set_writable(slot.writable)

    async def _on_post_write(self, event: ServerItemCallback, _dispatcher: Any) -> None:
        if not event.is_external:
            return
        results: list[ua.StatusCode] = event.response_params
        for i, item in enumerate(event.request_params.NodesToWrite):
            slot = self._by_node.get(item.NodeId)
            if slot is None or item.AttributeId != AttributeIds.Value or not results[i].is_good():
                continue
            raw = item.Value.Value.Value if item.Value and item.Value.Value else None
            if not isinstance(raw, int | float):
                continue
            accepted = self.sim.write_tag(
                slot.tag, slot.fmt.from_raw(raw), protocol="opcua", address=slot.node_id.to_string()
            )
            if not accepted:
                results[i] = ua.StatusCode(ua.UInt32(StatusCodes.BadOutOfRange))

    @staticmethod
    def _bound_port(server: Server) -> int:
        if server.bserver is None:
            raise RuntimeError("asyncua did not open a listener")
        return int(server.bserver.port)


def _node_slots(sim: ProcessImage) -> list[NodeSlot]:
    slots = []
    for name, tag in sim.config.tags.items():
        if tag.opcua is None:
            continue
        slots.append(
            NodeSlot(
                tag=name,
                node_id=ua.NodeId.from_string(tag.opcua.node_id),
                variant_type=_VARIANT_TYPES[tag.type.value],
                fmt=RegisterFormat(tag.type.value, scale=tag.scale, offset=tag.offset),
                writable=tag.access is Access.WRITE,
            )
        )
    return slots
