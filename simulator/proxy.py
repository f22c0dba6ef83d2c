"""An in-process asyncio TCP fault proxy for the protocol link (gateway <-> simulated PLC).

    client ──TCP──> [proxy 127.0.0.1:port] ──TCP──> target (Modbus or OPC UA server)

Every chunk read from either side goes through the fault model in force *when it is read*:

    blackhole     the chunk is swallowed: connections stay open, nothing arrives, the peer times out
    drop_rate     with this probability the chunk is not forwarded and the connection is cut (both
                  sides closed). TCP has no silent loss above the socket — a lost segment is resent —
                  so a lossy link shows up as added delay (use delay/jitter) or as a lost connection.
    delay_s       the chunk is delivered delay_s later ...
    jitter_s      ... plus a uniform draw in [0, jitter_s). Delivery order within a direction is kept
                  (a chunk never overtakes an earlier one), as on a real TCP stream.

The faults can be switched at any time (`proxy.faults = LinkFaults(...)`); chunks already in flight keep
the delivery time they were given. `drop_connections()` cuts every open connection now. All random draws
come from one `random.Random(seed)` owned by the proxy, in the order chunks are read, so a run with the
same traffic and the same seed makes the same decisions.

With a `FrameGate` (`proxy.gate`, see `simulator.frame_faults`) the gateway-to-PLC direction is cut into
Modbus TCP frames and each request frame is forwarded, held for whole ticks of simulated time, reordered,
lost or cut in the middle; `deliver_due()`, called by the lock-step runner once a tick, delivers the held
frames that are due on a connection of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from otgate_simulator.frame_faults import FrameGate, split_frames


@dataclass(frozen=True)
class LinkFaults:
    delay_s: float = 0.0
    jitter_s: float = 0.0
    drop_rate: float = 0.0
    blackhole: bool = False

    def __post_init__(self) -> None:
        for name in ("delay_s", "jitter_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be finite and >= 0, got {value}")
        if not 0.0 <= self.drop_rate <= 1.0:
            raise ValueError(f"drop_rate must be in [0, 1], got {self.drop_rate}")


@dataclass
class ProxyStats:
    connections: int = 0
    chunks_forwarded: int = 0
    chunks_swallowed: int = 0
    connections_dropped: int = 0


_EOF = b""
_CUT = b"<cut>"  # sentinel: close both connections after what was queued before it
DELIVERY_TIMEOUT_S = 5.0  # a held frame's answer from the PLC (local, same event loop)


class _Link:
    """One client connection and its upstream connection, pumped in both directions."""

    def __init__(
        self,
        proxy: FaultProxy,
        client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    ) -> None:
        self.proxy = proxy
        self.writers = (client[1], upstream[1])
        self._finished = 0
        self.tasks = [
            asyncio.create_task(self._pump(client[0], upstream[1], requests=True)),
            asyncio.create_task(self._pump(upstream[0], client[1])),
        ]
        self._frames = bytearray()

    def _gated(self, data: bytes, gate: FrameGate, queue: asyncio.Queue[tuple[float, bytes]]) -> None:
        self._frames += data
        for frame in split_frames(self._frames):
            action, _ = gate.decide(frame)
            if action == "forward":
                queue.put_nowait((0.0, frame))
            elif action == "cut":
                queue.put_nowait((0.0, frame[: len(frame) // 2]))
                queue.put_nowait((0.0, _CUT))

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, requests: bool = False
    ) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        sender = asyncio.create_task(self._send(queue, writer))
        loop = asyncio.get_running_loop()
        last_due = 0.0
        try:
            while data := await reader.read(65536):
                gate = self.proxy.gate
                if requests and gate is not None:
                    self._gated(data, gate, queue)
                    continue
                faults = self.proxy.faults
                if faults.blackhole:
                    self.proxy.stats.chunks_swallowed += 1
                    continue
                if faults.drop_rate and self.proxy.rng.random() < faults.drop_rate:
                    self.proxy.stats.connections_dropped += 1
                    self.close()
                    return
                jitter = self.proxy.rng.random() * faults.jitter_s if faults.jitter_s else 0.0
                last_due = max(last_due, loop.time() + faults.delay_s + jitter)
                queue.put_nowait((last_due, data))
            queue.put_nowait((last_due, _EOF))
            await sender
        except OSError:
            self.close()
        finally:
            sender.cancel()
            self._finished += 1
            if self._finished == len(self.tasks):
                self.close()

    async def _send(self, queue: asyncio.Queue[tuple[float, bytes]], writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due, data = await queue.get()
            if (wait_s := due - loop.time()) > 0:
                await asyncio.sleep(wait_s)
            if data == _EOF:
                with contextlib.suppress(OSError):
                    writer.write_eof()
                return
            if data == _CUT:
                self.proxy.stats.connections_dropped += 1
                self.close()
                return
            writer.write(data)
            self.proxy.stats.chunks_forwarded += 1
            await writer.drain()

    def close(self) -> None:
        for writer in self.writers:
            writer.close()
        for task in self.tasks:
            if task is not asyncio.current_task():
                task.cancel()
        self.proxy.links.discard(self)

    async def wait_closed(self) -> None:
        await asyncio.gather(*self.tasks, return_exceptions=True)


class FaultProxy:
    """Listens on host:port (0 = free port) and forwards to target_host:target_port through `faults`."""

    def __init__(
        self,
        target_host: str,
        target_port: int,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
        faults: LinkFaults | None = None,
    ) -> None:
        self.target = (target_host, target_port)
        self.host = host
        self._requested_port = port
        self.faults = faults or LinkFaults()
        self.gate: FrameGate | None = None
        self.rng = random.Random(seed)
        self.stats = ProxyStats()
        self.links: set[_Link] = set()
        self._server: asyncio.Server | None = None
        self._port = 0

    @property
    def port(self) -> int:
        return self._port

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self._requested_port)
        self._port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            links = list(self.links)
            for link in links:
                link.close()
            await asyncio.gather(*(link.wait_closed() for link in links))
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, _type: type[BaseException] | None, _value: BaseException | None, _tb: TracebackType | None
    ) -> None:
        await self.stop()

    def drop_connections(self) -> None:
        """Cut every open connection now (both sides see the connection closed)."""
        for link in list(self.links):
            self.stats.connections_dropped += 1
            link.close()

    async def deliver_due(self) -> int:
        """Deliver the gate's frames that are due, on a connection of their own; how many were sent."""
        frames = self.gate.due() if self.gate is not None else []
        if not frames:
            return 0
        reader, writer = await asyncio.open_connection(*self.target)
        try:
            for frame in frames:
                writer.write(frame.data)
                await writer.drain()
                async with asyncio.timeout(DELIVERY_TIMEOUT_S):  # the PLC's answer; nobody is waiting for it
                    header = await reader.readexactly(6)
                    await reader.readexactly(int.from_bytes(header[4:6], "big"))
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        return len(frames)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.stats.connections += 1
        try:
            upstream = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self.links.add(_Link(self, (reader, writer), upstream))
