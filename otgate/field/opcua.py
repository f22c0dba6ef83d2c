"""`FieldLink` over OPC UA (asyncua 2.1 client).

Node values carry the same raw number as the PLC's registers: engineering = raw * scale + offset.

- Reads: one Read service call for all requested nodes; a node with a non-Good status or a non-numeric or
  non-finite value is reported in `Reading.bad`.
- Writes: one Write service call with a `ua.Variant` of the node's own VariantType (asyncua refuses a
  Python int for a Double node with BadTypeMismatch). The type is read from the node's DataType attribute
  on first use and cached until the next reconnect. Then one Read of the node for the read-back.
- Status mapping: a Bad write status about the value or the access (BadUserAccessDenied, BadNotWritable,
  BadTypeMismatch, BadOutOfRange, ...) is WriteRefused; a status about the session or the channel, a
  timeout, a closed socket or any other asyncua failure is LinkDown.
- Security: see `otgate.field.opcua_security` (policy None only by name; otherwise a pinned server
  certificate and clear `southbound_*` refusals).
- asyncua's auto-reconnect is off: it would let requests during an outage fail at once anyway, and the
  gateway must decide itself what to retry. `Backoff` paces reconnects; a failed link is torn down in the
  background (a hung server would otherwise hold `read()` for another timeout while closing the session).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Callable, Mapping, Sequence

from asyncua import Client, ua
from asyncua.client.ua_client import UaClientState
from asyncua.crypto import uacrypto

from otgate.core.codec import to_raw
from otgate.core.config import OpcUaConnection, PlcConnection, Tag
from otgate.field.link import FieldError, LinkDown, Reading, WriteRefused, writable_tag
from otgate.field.opcua_security import SouthboundSecurityError, check_security, connect_error, secure
from otgate.field.session import FieldSession

_NUMERIC_TYPES = {
    ua.VariantType.Float,
    ua.VariantType.Double,
    ua.VariantType.SByte,
    ua.VariantType.Byte,
    ua.VariantType.Int16,
    ua.VariantType.UInt16,
    ua.VariantType.Int32,
    ua.VariantType.UInt32,
    ua.VariantType.Int64,
    ua.VariantType.UInt64,
}
_INTEGER_TYPES = _NUMERIC_TYPES - {ua.VariantType.Float, ua.VariantType.Double}
# Statuses that say the link, not the value, failed (OPC UA Part 4, 7.38 common service results).
_LINK_STATUSES = {
    "BadTimeout",
    "BadCommunicationError",
    "BadConnectionClosed",
    "BadConnectionRejected",
    "BadDisconnect",
    "BadNoCommunication",
    "BadNotConnected",
    "BadSecureChannelClosed",
    "BadSecureChannelIdInvalid",
    "BadSecureChannelTokenUnknown",
    "BadServerHalted",
    "BadServerNotConnected",
    "BadSessionClosed",
    "BadSessionIdInvalid",
    "BadSessionNotActivated",
    "BadShutdown",
    "BadTcpInternalError",
    "BadTooManySessions",
    "BadRequestTimeout",
}
_LINK_CODES = frozenset(
    getattr(ua.StatusCodes, name) for name in _LINK_STATUSES if hasattr(ua.StatusCodes, name)
)
# What asyncua raises on a request: UaError and its subclasses (ua.uaerrors), and a bad signature on a
# secure channel (uacrypto.InvalidSignature, re-exported from cryptography). Checked against the library.
LIBRARY_ERRORS: tuple[type[BaseException], ...] = (ua.UaError, uacrypto.InvalidSignature)


class OpcUaLink:
    """`FieldLink` to one PLC over OPC UA; `tags` are that PLC's tags (name -> config)."""

    def __init__(
        self,
        plc: PlcConnection,
        tags: Mapping[str, Tag],
        *,
        reconnect_delay_s: float = 0.1,
        reconnect_delay_max_s: float = 2.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if plc.opcua is None:
            raise ValueError("PLC connection has no 'opcua' section")
        check_security(plc.opcua)
        self._settings: OpcUaConnection = plc.opcua
        self._tags = dict(tags)
        self._node_ids = {name: ua.NodeId.from_string(t.opcua.node_id) for name, t in tags.items() if t.opcua}
        self._variant_types: dict[str, ua.VariantType] = {}
        self._client: Client | None = None
        self._teardowns: set[asyncio.Task[None]] = set()
        endpoint = plc.opcua.endpoint
        self.session = FieldSession(
            LIBRARY_ERRORS,
            lambda error: f"opc ua {endpoint}: {error!r}",
            self._drop,
            reconnect_delay_s=reconnect_delay_s,
            reconnect_delay_max_s=reconnect_delay_max_s,
            clock=clock,
        )
        # A certificate or key asyncua cannot use surfaces as ValueError while connecting.
        self._connect_errors: tuple[type[BaseException], ...] = (*self.session.errors, ValueError)

    @property
    def is_connected(self) -> bool:
        return self._client is not None and self._client.uaclient.state is UaClientState.CONNECTED

    async def connect(self) -> None:
        if self.is_connected:
            return
        self._drop()
        self.session.backoff.check()
        settings = self._settings
        client = Client(settings.endpoint, timeout=settings.timeout_s)
        try:
            # Session set-up is several requests, each bounded by the timeout; bound the whole.
            async with asyncio.timeout(4 * settings.timeout_s):
                await secure(client, settings)
                await client.connect()
        except SouthboundSecurityError:
            self.session.backoff.failed()
            self._teardown(client)
            raise
        except self._connect_errors as error:
            self.session.backoff.failed()
            self._teardown(client)
            raise connect_error(settings, error) from error
        self._variant_types.clear()  # the PLC may have been re-downloaded while we were away
        self._client = client

    async def close(self) -> None:
        self._drop()
        if self._teardowns:
            await asyncio.gather(*self._teardowns, return_exceptions=True)

    async def read(self, tags: Sequence[str]) -> Reading:
        names = [n for n in dict.fromkeys(tags) if n in self._node_ids]
        async with self.session.lock:
            results = await self._read_values(names)
        values = {}
        for name, data_value in zip(names, results, strict=True):
            value = self._engineering(name, data_value)
            if value is not None:
                values[name] = value
        return Reading(values, frozenset(tags).difference(values))

    async def write(self, tag: str, value: float) -> float:
        config = writable_tag(self._tags, tag)
        node_id = self._node_ids.get(tag)
        if node_id is None:
            raise WriteRefused(f"{tag}: no OPC UA node")
        try:
            raw = to_raw(value, config.type, config.scale, config.offset)
        except ValueError as error:
            raise WriteRefused(f"{tag}: {error}") from None
        async with self.session.lock:
            variant_type = await self._variant_type(tag, node_id)
            if variant_type not in _NUMERIC_TYPES:
                raise WriteRefused(f"{tag}: node data type {variant_type.name} is not numeric")
            variant = ua.Variant(round(raw) if variant_type in _INTEGER_TYPES else float(raw), variant_type)
            client = await self._connected_client()
            with self.session.request():
                (status,) = await client.uaclient.write_attributes(
                    [node_id], [ua.DataValue(variant)], ua.AttributeIds.Value
                )
            if status.value in _LINK_CODES:
                raise self.session.fail(f"{tag}: write answered {status.name}")
            if not status.is_good():
                raise WriteRefused(f"{tag}: PLC answered {status.name}")
            try:
                (data_value,) = await self._read_values([tag])
            except LinkDown as error:
                raise LinkDown(f"{tag}: written, but the read-back failed: {error}") from error
        read_back = self._engineering(tag, data_value)
        if read_back is None:
            raise FieldError(f"{tag}: written, but the read-back is bad ({data_value.StatusCode})")
        return read_back

    # ------------------------------------------------------------------------------------------ internals

    async def _connected_client(self) -> Client:
        if not self.is_connected:
            await self.connect()
        if self._client is None:
            raise LinkDown("opc ua: not connected")
        return self._client

    async def _read_values(self, names: Sequence[str]) -> list[ua.DataValue]:
        if not names:
            return []
        client = await self._connected_client()
        with self.session.request():
            results = await client.uaclient.read_attributes(
                [self._node_ids[n] for n in names], ua.AttributeIds.Value
            )
        self.session.answered()
        return list(results)

    async def _variant_type(self, tag: str, node_id: ua.NodeId) -> ua.VariantType:
        cached = self._variant_types.get(tag)
        if cached is not None:
            return cached
        client = await self._connected_client()
        try:
            variant_type = await client.get_node(node_id).read_data_type_as_variant_type()
        except ua.UaStatusCodeError as error:
            if error.code in _LINK_CODES:
                raise self.session.fail(error) from error
            raise WriteRefused(f"{tag}: cannot read the node's data type: {error}") from error
        except self.session.errors as error:
            raise self.session.fail(error) from error
        self._variant_types[tag] = variant_type
        return variant_type

    def _engineering(self, name: str, data_value: ua.DataValue) -> float | None:
        """The engineering value of a read result, or None when it is not usable."""
        status = data_value.StatusCode
        if status is not None and not status.is_good():
            return None
        variant = data_value.Value
        raw = variant.Value if variant is not None else None
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            return None
        tag = self._tags[name]
        value = float(raw) * tag.scale + tag.offset
        return value if math.isfinite(value) else None

    def _drop(self) -> None:
        if self._client is not None:
            self._teardown(self._client)
            self._client = None

    def _teardown(self, client: Client) -> None:
        task = asyncio.get_running_loop().create_task(_disconnect(client, self._settings.timeout_s))
        self._teardowns.add(task)
        task.add_done_callback(self._teardowns.discard)


async def _disconnect(client: Client, timeout_s: float) -> None:
    """Close session, channel and socket, giving up after `timeout_s` (a hung server never answers)."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(timeout_s):
            await client.disconnect()
    with contextlib.suppress(Exception):
        client.disconnect_socket()
