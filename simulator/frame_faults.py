"""Link faults on Modbus TCP frames, in simulated time: what the fault proxy does to each request frame.

The proxy (`simulator.proxy`) normally shapes a byte stream in wall time. In a lock-step run wall time
means nothing, so with a `FrameGate` attached it cuts the gateway's stream into Modbus TCP frames
(MBAP header: transaction id 2 bytes, protocol id 2, length 2, unit id 1, then the PDU) and decides per
request frame, from its own seeded random stream, in the order frames arrive:

    forward   passed on now
    hold      kept back for `latency + U{0..jitter}` ticks, then delivered to the PLC on a connection of
              its own (the gateway has long given up waiting: its request timed out, the link was closed)
    reorder   kept back until a later frame has been forwarded, then delivered after it
    lose      never delivered (an application-level loss: a store-and-forward bridge dropping a frame)
    cut       the first half of the frame is forwarded, then both connections are closed (a cable pulled
              in the middle of a write); the PLC never sees a complete frame

`frames: writes` (the default) touches only writes (function codes 5, 6, 15, 16); reads pass untouched,
so the link still looks alive. A held frame costs the gateway one request timeout of wall time.

Every write frame that reaches the PLC is logged as a `Delivery`: its number, the simulated time the
gateway sent it and the time it was delivered, so the PLC's write log can be joined to the frame (and
through the gateway's audit trail to the proposal) each application came from.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

WRITE_FUNCTIONS = frozenset({5, 6, 15, 16})
MBAP_BYTES = 7
Action = Literal["forward", "hold", "reorder", "lose", "cut"]


@dataclass(frozen=True)
class FrameFaults:
    latency_ticks: int = 0
    jitter_ticks: int = 0
    loss: float = 0.0
    reorder: float = 0.0
    writes_only: bool = True

    def __post_init__(self) -> None:
        if self.latency_ticks < 0 or self.jitter_ticks < 0:
            raise ValueError("latency and jitter are whole ticks >= 0")
        if not (0.0 <= self.loss <= 1.0 and 0.0 <= self.reorder <= 1.0):
            raise ValueError("loss and reorder are probabilities in [0, 1]")

    @property
    def is_clear(self) -> bool:
        return self.latency_ticks == self.jitter_ticks == 0 and self.loss == self.reorder == 0.0


@dataclass(frozen=True)
class Frame:
    number: int
    sent_s: float
    data: bytes

    @property
    def function(self) -> int:
        return self.data[MBAP_BYTES] if len(self.data) > MBAP_BYTES else -1

    @property
    def address(self) -> int:
        return int.from_bytes(self.data[MBAP_BYTES + 1 : MBAP_BYTES + 3], "big") if len(self.data) > 9 else -1

    @property
    def is_write(self) -> bool:
        return self.function in WRITE_FUNCTIONS


@dataclass(frozen=True)
class Delivery:
    frame: int
    sent_s: float
    delivered_s: float
    function: int
    address: int


def split_frames(buffer: bytearray) -> list[bytes]:
    """Complete Modbus TCP frames from the front of `buffer` (which keeps any incomplete tail)."""
    out = []
    while len(buffer) >= 6:
        size = 6 + int.from_bytes(buffer[4:6], "big")
        if len(buffer) < size:
            break
        out.append(bytes(buffer[:size]))
        del buffer[:size]
    return out


@dataclass
class FrameGate:
    """The per-frame decisions and the frames held back; `now_s` reads simulated time."""

    now_s: Callable[[], float]
    seed: int = 0
    faults: FrameFaults = FrameFaults()
    cut_next_write: bool = False
    cut_address: int | None = None  # only a write starting at this register is cut (None: any write)
    deliveries: list[Delivery] = field(default_factory=list)
    held: list[tuple[float, Frame]] = field(default_factory=list)  # (due time, frame)
    reordered: list[tuple[int, Frame]] = field(default_factory=list)  # (frames forwarded when held, frame)
    counts: dict[str, int] = field(default_factory=dict)
    _rng: random.Random = field(init=False)
    _numbers: int = 0
    _forwarded: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def decide(self, data: bytes) -> tuple[Action, Frame]:
        self._numbers += 1
        frame = Frame(self._numbers, self.now_s(), data)
        action = self._action(frame)
        self.counts[action] = self.counts.get(action, 0) + 1
        if action == "forward":
            self._forwarded += 1
            if frame.is_write:
                self._log(frame)
        elif action == "hold":
            extra = self._rng.randint(0, self.faults.jitter_ticks) if self.faults.jitter_ticks else 0
            self.held.append((frame.sent_s + self.faults.latency_ticks + extra, frame))
        elif action == "reorder":
            self.reordered.append((self._forwarded, frame))
        return action, frame

    def _action(self, frame: Frame) -> Action:
        if self.cut_next_write and frame.is_write and self.cut_address in (None, frame.address):
            self.cut_next_write = False
            return "cut"
        faults = self.faults
        if faults.is_clear or (faults.writes_only and not frame.is_write):
            return "forward"
        # One draw per decision, always in the same order, so the same traffic gives the same decisions.
        lose, reorder = self._rng.random(), self._rng.random()
        if lose < faults.loss:
            return "lose"
        if reorder < faults.reorder:
            return "reorder"
        if faults.latency_ticks or faults.jitter_ticks:
            return "hold"
        return "forward"

    def due(self) -> list[Frame]:
        """Frames to deliver now, in the order they were sent; each is logged as delivered now."""
        now = self.now_s()
        ready = [f for due, f in self.held if due <= now + 1e-9]
        self.held = [(due, f) for due, f in self.held if due > now + 1e-9]
        overtaken = [f for seen, f in self.reordered if self._forwarded > seen]
        self.reordered = [(seen, f) for seen, f in self.reordered if self._forwarded <= seen]
        out = sorted(ready + overtaken, key=lambda f: f.number)
        for frame in out:
            if frame.is_write:
                self._log(frame)
        return out

    def _log(self, frame: Frame) -> None:
        self.deliveries.append(
            Delivery(frame.number, frame.sent_s, self.now_s(), frame.function, frame.address)
        )
