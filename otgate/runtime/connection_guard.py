"""Holds an HTTP listener's ground against clients that connect and never finish a request.

Both listeners share the process's file descriptors with the audit store, so a slow-loris client
(hundreds of connections that send nothing, or half a request, and wait) must not be able to use them
up. Each listener's connections are guarded in two ways:

- **request timeout**: from the moment a connection opens, or its previous answer was sent, the next
  request (headers and body) must have arrived within `request_timeout_s`, else the connection is
  closed. A request being answered (an HMI event stream included) is never timed out by this.
- **connection cap**: at most `max_connections` open connections. A new connection past the cap sheds
  the connections that have waited longest for their request; only if every connection is busy
  answering a request is the newcomer closed instead. So an operator's or an engine's real request
  still gets through while idle and half-sent connections are being shed.

This is uvicorn's h11 protocol with those two rules added (uvicorn has neither).
"""

from __future__ import annotations

import asyncio
import logging

from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)


class GuardedH11Protocol(H11Protocol):
    request_timeout_s: float = 10.0
    max_connections: int = 256
    _request_timer: asyncio.TimerHandle | None = None
    _waiting_since: float = 0.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_request()
        self._shed_excess()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._update()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._update()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        super().connection_lost(exc)

    # --------------------------------------------------------------------------------------------

    def is_waiting(self) -> bool:
        """Waiting for a request (idle or half-sent), as opposed to having one answered."""
        return self._request_timer is not None

    def _update(self) -> None:
        cycle = self.cycle
        answering = cycle is not None and not cycle.response_complete and not cycle.more_body
        if answering:
            self._cancel_timer()
        elif self._request_timer is None and not self.transport.is_closing():
            self._await_request()

    def _await_request(self) -> None:
        self._waiting_since = self.loop.time()
        self._request_timer = self.loop.call_later(self.request_timeout_s, self._on_request_timeout)

    def _cancel_timer(self) -> None:
        if self._request_timer is not None:
            self._request_timer.cancel()
            self._request_timer = None

    def _on_request_timeout(self) -> None:
        self._request_timer = None
        log.info("closing a connection that sent no complete request in %g s", self.request_timeout_s)
        self._shed()

    def _shed(self) -> None:
        self._cancel_timer()
        self.connections.discard(self)  # counted out now; the transport closes on the next loop turn
        if not self.transport.is_closing():
            self.transport.close()

    def _shed_excess(self) -> None:
        excess = len(self.connections) - self.max_connections
        if excess <= 0:
            return
        waiting = [c for c in self.connections if isinstance(c, GuardedH11Protocol) and c.is_waiting()]
        waiting.sort(key=lambda c: c._waiting_since)
        for victim in waiting[:excess]:
            victim._shed()
        if len(self.connections) > self.max_connections:
            self._shed()  # every other connection is being answered: the newcomer waits its turn elsewhere


def guarded_protocol(max_connections: int, request_timeout_s: float) -> type[GuardedH11Protocol]:
    """The protocol class for one listener, with its own limits."""
    return type(
        "ListenerProtocol",
        (GuardedH11Protocol,),
        {"max_connections": max_connections, "request_timeout_s": request_timeout_s},
    )
