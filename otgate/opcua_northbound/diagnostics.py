"""The reasons for a write's verdict as the OPC UA DiagnosticInfo of that write (Part 4, 7.12 and 7.29).

A client asks for operation-level diagnostics with bits of the request header's `ReturnDiagnostics`:

    0x20  SymbolicId       the first reason code (`OUT_OF_RANGE`), in namespace `urn:otgate:reason-codes`
    0x40  LocalizedText    every reason as `CODE: detail`, in rule order (locale `en`)
    0x80  AdditionalInfo   the decision as JSON, the same text as the `<tag>.Decision` node

The strings sit in the response header's StringTable and each DiagnosticInfo indexes them. The list is
parallel to the request's NodesToWrite: an item refused by asyncua itself (unknown node, no write access)
gets an empty DiagnosticInfo. Nothing is returned when no operation-level bit is set, as the standard says.

asyncua (2.1) builds the WriteResponse without DiagnosticInfos, so the server's connections use
`DiagnosingProcessor`: for a Write request it opens a `WriteDiagnostics` collector in a context variable;
the PostWrite callback (`server.py`), which runs in the same task, notes each verdict into it; when the
response is sent the processor fills it in. The verdict itself never depends on this module: without it
(another asyncua, a hook that did not install) the StatusCodes and the Decision node are unchanged.
"""

from __future__ import annotations

import logging
import socket
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from asyncua import Server, ua
from asyncua.crypto import uacrypto
from asyncua.server.binary_server_asyncio import BinaryServer, OPCUAProtocol
from asyncua.server.uaprocessor import UaProcessor

log = logging.getLogger(__name__)

REASON_NAMESPACE = "urn:otgate:reason-codes"
OPERATION_SYMBOLIC_ID = 0x20
OPERATION_LOCALIZED_TEXT = 0x40
OPERATION_ADDITIONAL_INFO = 0x80
OPERATION_LEVEL = OPERATION_SYMBOLIC_ID | OPERATION_LOCALIZED_TEXT | OPERATION_ADDITIONAL_INFO
_WRITE_REQUEST = ua.FourByteNodeId(ua.Int32(ua.ObjectIds.WriteRequest_Encoding_DefaultBinary))


@dataclass(frozen=True)
class Verdict:
    """What one written item was told: its first reason code, every reason as text, the decision JSON."""

    symbol: str
    text: str
    decision_json: str | None = None


@dataclass
class WriteDiagnostics:
    """The verdicts of one Write request, by index into its NodesToWrite."""

    requested: int  # the request header's ReturnDiagnostics bits
    verdicts: dict[int, Verdict] = field(default_factory=dict)

    def note(self, index: int, verdict: Verdict) -> None:
        self.verdicts[index] = verdict

    def fill(self, response: ua.WriteResponse) -> None:
        wanted = self.requested & OPERATION_LEVEL
        if not wanted or not self.verdicts:
            return
        table: list[str] = list(response.ResponseHeader.StringTable or [])

        def index(text: str) -> ua.Int32:
            if text not in table:
                table.append(text)
            return ua.Int32(table.index(text))

        infos = []
        for i in range(len(response.Results)):
            verdict = self.verdicts.get(i)
            info = ua.DiagnosticInfo()
            if verdict is not None:
                if wanted & OPERATION_SYMBOLIC_ID:
                    info.SymbolicId = index(verdict.symbol)
                    info.NamespaceURI = index(REASON_NAMESPACE)
                if wanted & OPERATION_LOCALIZED_TEXT:
                    info.LocalizedText = index(verdict.text)
                    info.Locale = index("en")
                if wanted & OPERATION_ADDITIONAL_INFO and verdict.decision_json is not None:
                    info.AdditionalInfo = ua.String(verdict.decision_json)
            infos.append(info)
        response.ResponseHeader.StringTable = table
        response.DiagnosticInfos = infos


_CURRENT: ContextVar[WriteDiagnostics | None] = ContextVar("otgate_write_diagnostics", default=None)


def current() -> WriteDiagnostics | None:
    """The collector of the Write request being served in this task, if its client asked for any."""
    return _CURRENT.get()


class DiagnosingProcessor(UaProcessor):
    async def _process_message(self, typeid: Any, requesthdr: Any, seqhdr: Any, body: Any) -> Any:
        if typeid != _WRITE_REQUEST or not requesthdr.ReturnDiagnostics & OPERATION_LEVEL:
            return await super()._process_message(typeid, requesthdr, seqhdr, body)  # type: ignore[no-untyped-call]
        token = _CURRENT.set(WriteDiagnostics(int(requesthdr.ReturnDiagnostics)))
        try:
            return await super()._process_message(typeid, requesthdr, seqhdr, body)  # type: ignore[no-untyped-call]
        finally:
            _CURRENT.reset(token)

    def send_response(
        self, requesthandle: Any, seqhdr: Any, response: Any, *args: Any, **kwargs: Any
    ) -> None:
        collector = _CURRENT.get()
        if collector is not None and isinstance(response, ua.WriteResponse):
            collector.fill(response)
        super().send_response(requesthandle, seqhdr, response, *args, **kwargs)  # type: ignore[no-untyped-call]


class _Protocol(OPCUAProtocol):
    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        if self.processor is not None:  # no message has been read yet: swap before the first one
            self.processor = DiagnosingProcessor(self.iserver, self.transport, self.limits)
            self.processor.set_policies(self.policies)  # type: ignore[no-untyped-call]


class _Listener(BinaryServer):
    def _make_protocol(self) -> OPCUAProtocol:
        return _Protocol(
            iserver=self.iserver,
            policies=self._policies,
            clients=self.clients,
            closing_tasks=self.closing_tasks,
            limits=self.limits,
        )


class DiagnosingServer(Server):
    """asyncua's `Server` whose listener serves connections with `DiagnosingProcessor`.

    `start` is asyncua 2.1's own, step for step, with the listener class swapped (the one thing it offers
    no parameter for); pyproject pins asyncua to 2.1.x, and a test fails if the diagnostics go missing."""

    async def start(self) -> None:
        if self.iserver.certificate is not None:
            uacrypto.check_certificate(self.iserver.certificate, self._application_uri, socket.gethostname())
        await self._setup_server_nodes()
        await self.iserver.start()
        try:
            host, port = self._get_bind_socket_info()
            self.bserver = _Listener(self.iserver, host, port, self.limits)  # type: ignore[arg-type]
            self.bserver.set_policies(self._policies)
            await self.bserver.start()
        except Exception:
            log.exception("the northbound OPC UA listener did not start")
            await self.iserver.stop()
            raise
