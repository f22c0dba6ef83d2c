"""The plain data `validate` works on: a proposal, the scan's snapshot of the PLC, and the write history.

All times are seconds on one clock (UNIX epoch in production, simulated time in tests and HIL); the
current time is always an argument, never read here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field

from otgate.core.modes import LoopMode
from otgate.core.prediction import Forecast


@dataclass(frozen=True, slots=True)
class Proposal:
    """One setpoint recommendation from an AI engine, already parsed from the wire."""

    id: str
    engine: str
    tag: str
    value: float
    issued_at: float
    basis_at: float | None = None  # when the process data the engine used was taken
    model_digest: str | None = None
    # The engine's measured clock offset (otgate.core.clock_offset), added to its timestamps before
    # they are judged; 0 unless the engine's clock is known to be off by a steady amount within tolerance.
    clock_offset_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the gateway knows about the plant at one scan: PLC read-backs and its own loop modes."""

    taken_at: float
    values: Mapping[str, float]
    bad_quality: Set[str] = frozenset()
    plc_available: bool = True
    loop_modes: Mapping[str, LoopMode] = field(default_factory=dict)
    forecast: Forecast | None = None  # where the constrained variables are going (predictive plants)
    queued: Mapping[str, float] = field(default_factory=dict)  # per input: moves decided, not yet seen
    stamped_at: float = math.nan  # wall-clock time of the read, for people (taken_at is monotonic)


@dataclass(frozen=True, slots=True)
class WriteEvent:
    """A setpoint write the PLC confirmed: when, what, and the working setpoint just before it."""

    at: float
    value: float
    previous: float


@dataclass(frozen=True, slots=True)
class History:
    """What the gateway remembers between proposals. The shell may pass live (mutable) collections."""

    seen_ids: Set[str] = frozenset()
    writes: Mapping[str, Sequence[WriteEvent]] = field(default_factory=dict)  # per tag, oldest first
    quarantined: Set[str] = frozenset()
