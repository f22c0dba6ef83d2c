"""The OPC UA northbound server (asyncua): the plant's tags as an OPC UA address space for legacy
optimisers, with every setpoint write turned into a recommendation through `Gateway.submit`.

Address space: namespace `urn:otgate:northbound:<plant>` (index 2), a folder `<plant>` under Objects, and
one Double variable `ns=2;s=<tag>` per tag some bound engine may read or write (and the working setpoints
of the ones it writes), nothing else: no PLC addresses, no other tags.

    reads      the latest scan's engineering value, SourceTimestamp = the scan; a tag of bad quality reads
               BadSensorFailure, a PLC that cannot be read BadNoCommunication
    writes     only setpoints a bound engine may write are CurrentWrite; a write becomes a Proposal from
               the engine of the session (id `opcua-<uuid>`, issued now, rationale naming the client),
               decided, audited, and answered by the write's StatusCode (`verdict.py`) with the reasons
               in its DiagnosticInfo when the client asks for them (`diagnostics.py`). The written value
               is never stored in the node: reading a setpoint always gives what the PLC holds.
    decisions  `ns=2;s=<tag>.Decision`, a read-only String: the last decision on that setpoint as JSON
               (`id`, `engine`, `decision`, `reasons`, `written_value`, `audit_seq`, `status`), for
               clients that cannot ask for diagnostics; updated before the write is answered

Security: Basic256Sha256 SignAndEncrypt by default (Sign on request); `None` only with a named
`anonymous_engine`. Who may connect, and as which engine, is `identity.py`. Writes are rate limited per
engine with the engine's own `max_requests_per_s`/`burst`, like the HTTP API.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import uuid
from pathlib import Path
from typing import Any

from asyncua import ua
from asyncua.common.callback import CallbackType, ServerItemCallback
from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions
from asyncua.server.address_space import NodeData
from asyncua.ua.attribute_ids import AttributeIds

from otgate.core.config import OpcUaNorthbound
from otgate.core.decision import Decision
from otgate.core.proposal import Proposal
from otgate.core.rate_limit import TokenBucket
from otgate.field.opcua_certificate import application_uri, load_der
from otgate.opcua_northbound.diagnostics import DiagnosingServer, Verdict
from otgate.opcua_northbound.diagnostics import current as current_diagnostics
from otgate.opcua_northbound.identity import BoundClients
from otgate.opcua_northbound.verdict import name_of, status_for
from otgate.runtime.gateway import Gateway
from otgate.runtime.state import AuditUnavailable
from otgate.runtime.view import GatewayView

log = logging.getLogger(__name__)
POLICIES = {
    ("Basic256Sha256", "Sign"): ua.SecurityPolicyType.Basic256Sha256_Sign,
    ("Basic256Sha256", "SignAndEncrypt"): ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
}


class NorthboundServer:
    def __init__(self, gateway: Gateway, settings: OpcUaNorthbound, base_dir: Path) -> None:
        self.gateway = gateway
        self.view = GatewayView(gateway)
        self.settings = settings
        self.base_dir = base_dir
        config = self.view.config
        self.namespace = f"urn:otgate:northbound:{config.plant}"
        self.engines = {c.engine for c in settings.clients} | (
            {settings.anonymous_engine} if settings.anonymous_engine else set()
        )
        self.writable = {t for e in self.engines for t in config.engines[e].writes}
        working = {self.view.plant.loop_by_setpoint[t][1].working_sp for t in self.writable}
        self.readable = ({t for e in self.engines for t in config.engines[e].reads} | working) - self.writable
        self.buckets: dict[str, TokenBucket] = {}
        self.server: DiagnosingServer | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"opc.tcp://{self.settings.host}:{self.port}/otgate/northbound"

    async def start(self) -> None:
        server = DiagnosingServer()
        await server.init()
        server.set_endpoint(f"opc.tcp://{self.settings.host}:{self.settings.port}/otgate/northbound")
        server.set_server_name(f"otgate northbound ({self.view.config.plant})")
        server.allow_remote_admin(False)
        server.disable_clock()
        await self._secure(server)
        server.iserver.set_user_manager(BoundClients(self.settings, self.base_dir))
        await self._build(server)
        server.subscribe_server_callback(CallbackType.PostWrite, self._on_post_write)
        await server.start()
        self.server = server
        if server.bserver is None:
            raise RuntimeError("asyncua did not open a listener")
        self.port = int(server.bserver.port)
        for endpoint in server.iserver.endpoints:  # advertise the real port, not 0
            endpoint.EndpointUrl = self.url

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
            self.server = None

    async def _secure(self, server: DiagnosingServer) -> None:
        settings = self.settings
        if settings.security_policy == "None":
            server.set_identity_tokens([ua.AnonymousIdentityToken])
            server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
            return
        tokens: list[type[Any]] = [
            ua.AnonymousIdentityToken
        ]  # anonymous token: the client is its certificate
        if any(client.user for client in settings.clients):
            tokens.append(ua.UserNameIdentityToken)
        server.set_identity_tokens(tokens)
        if settings.certificate is None or settings.private_key is None:  # the config validator says so
            raise ValueError("the northbound server needs certificate and private_key")
        await server.load_certificate(str(self.base_dir / settings.certificate))
        await server.load_private_key(str(self.base_dir / settings.private_key))
        await server.set_application_uri(
            application_uri(
                load_der(self.base_dir / settings.certificate), "the northbound server certificate"
            )
        )
        server.set_security_policy([POLICIES[(settings.security_policy, settings.security_mode)]])
        # Validity, URI and key usage here; trust is the exact certificate bound to an engine (identity.py).
        options = CertificateValidatorOptions.EXT_VALIDATION | CertificateValidatorOptions.PEER_CLIENT
        server.set_certificate_validator(CertificateValidator(options))

    async def _build(self, server: DiagnosingServer) -> None:
        index = await server.register_namespace(self.namespace)
        plant = self.view.config.plant
        folder = await server.nodes.objects.add_folder(_node(plant, index), plant)
        for tag in sorted(self.readable | self.writable):
            node_id = _node(tag, index)
            node = await folder.add_variable(node_id, tag, 0.0, ua.VariantType.Double)
            await node.set_writable(tag in self.writable)
            server.iserver.set_attribute_value_callback(node_id, self._reader(tag))
            if tag in self.writable:
                server.iserver.set_attribute_value_setter(node_id, _discard)
                decision = await folder.add_variable(_node(f"{tag}.Decision", index), f"{tag}.Decision", "")
                await decision.set_writable(False)

    def _reader(self, tag: str) -> Any:
        def read(_node_id: ua.NodeId, _attr: ua.AttributeIds) -> ua.DataValue:
            snapshot = self.view.snapshot
            value = snapshot.values.get(tag)
            if not snapshot.plc_available or value is None or not math.isfinite(snapshot.stamped_at):
                return ua.DataValue(StatusCode=_status(ua.StatusCodes.BadNoCommunication))
            if tag in snapshot.bad_quality:
                return ua.DataValue(StatusCode=_status(ua.StatusCodes.BadSensorFailure))
            stamp = dt.datetime.fromtimestamp(snapshot.stamped_at, dt.UTC)
            return ua.DataValue(
                ua.Variant(float(value), ua.VariantType.Double),
                SourceTimestamp=stamp,  # type: ignore[arg-type]
                ServerTimestamp=dt.datetime.now(dt.UTC),  # type: ignore[arg-type]
            )

        return read

    async def _on_post_write(self, event: ServerItemCallback, _dispatcher: Any) -> None:
        if not event.is_external:
            return
        results: list[ua.StatusCode] = event.response_params
        engine = getattr(event.user, "name", None)
        diagnostics = current_diagnostics()
        for i, item in enumerate(event.request_params.NodesToWrite):
            tag = item.NodeId.Identifier
            if item.AttributeId != AttributeIds.Value or not results[i].is_good() or tag not in self.writable:
                continue
            raw = item.Value.Value.Value if item.Value and item.Value.Value else None
            if engine is None or not isinstance(raw, int | float):
                code, verdict = (
                    (ua.StatusCodes.BadTypeMismatch, Verdict("TYPE_MISMATCH", "the value must be a number"))
                    if engine
                    else (ua.StatusCodes.BadUserAccessDenied, Verdict("NOT_AUTHORIZED", "no engine bound"))
                )
            else:
                code, verdict = await self._recommend(engine, str(tag), float(raw))
            results[i] = _status(code)
            if diagnostics is not None:
                diagnostics.note(i, verdict)

    async def _recommend(self, engine: str, tag: str, value: float) -> tuple[int, Verdict]:
        if self._is_flooding(engine):
            detail = f"engine {engine} writes faster than its max_requests_per_s"
            return ua.StatusCodes.BadTooManyOperations, Verdict("RATE_LIMITED", detail)
        proposal = Proposal(
            id=f"opcua-{uuid.uuid4().hex}",
            engine=engine,
            tag=tag,
            value=value,
            issued_at=self.view.now(),
        )
        try:
            (answer,) = await self.gateway.submit_durably(
                [proposal], [f"OPC UA write by the client bound to engine {engine}"]
            )
        except AuditUnavailable:
            detail = "the audit trail cannot record: nothing is decided or written"
            return ua.StatusCodes.BadResourceUnavailable, Verdict("AUDIT_UNAVAILABLE", detail)
        status = status_for(answer.decision)
        text = _decision_json(engine, answer.decision, answer.audit_seq, status)
        await self._publish(answer.decision.tag, text)
        return status, _verdict(answer.decision, text)

    def _is_flooding(self, engine: str) -> bool:
        rules = self.view.config.engines[engine]
        now = self.view.monotonic()  # a rate is a duration: the monotonic time base, never the wall clock
        bucket = self.buckets.get(engine) or TokenBucket.full(rules.max_requests_per_s, rules.burst, now)
        self.buckets[engine], wait = bucket.take(now, 1)
        if wait > 0:
            self.gateway.note_refusal(engine)
        return wait > 0

    async def _publish(self, tag: str, text: str) -> None:
        if self.server is None:
            return
        node_id = _node(f"{tag}.Decision", 2)
        await self.server.write_attribute_value(
            node_id, ua.DataValue(ua.Variant(text, ua.VariantType.String))
        )


def _decision_json(engine: str, decision: Decision, audit_seq: int, status: int) -> str:
    return json.dumps(
        {
            "id": decision.proposal_id,
            "engine": engine,
            "decision": decision.verdict.value,
            "reasons": [{"code": r.code.value, "detail": r.detail} for r in decision.reasons],
            "written_value": decision.value,
            "audit_seq": audit_seq,
            "status": name_of(status),
        }
    )


def _verdict(decision: Decision, text: str) -> Verdict:
    """The write's diagnostics: an accepted write without reasons is named by its verdict."""
    reasons = decision.reasons
    symbol = reasons[0].code.value if reasons else decision.verdict.value.upper()
    described = "; ".join(f"{r.code.value}: {r.detail}" for r in reasons) or decision.verdict.value
    return Verdict(symbol, described, text)


def _discard(_node: NodeData, _attr: ua.AttributeIds, _value: ua.DataValue) -> None:
    """A client's value is never stored in the node: only the decision on it matters (see the header)."""


def _node(name: str, index: int) -> ua.NodeId:
    return ua.NodeId.from_string(f"ns={index};s={name}")


def _status(code: int) -> ua.StatusCode:
    return ua.StatusCode(ua.UInt32(code))
