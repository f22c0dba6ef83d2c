"""An engine's clock offset, measured from what it sends, so that a steady skew is diagnosed, not blamed.

Each recommendation's `issued_at` and each heartbeat's `sent_at` are compared with the gateway's wall
clock at arrival: the apparent age `arrival - sent`. Over the last `SAMPLES` arrivals the smallest age is
the estimate (the minimum-delay filter NTP uses): it is the engine's offset plus the shortest transit and
compute time, so a recommendation that waited longer than usual still looks older than the others.
Positive: the engine's clock is behind the gateway's.

The estimate exists only once `MIN_SAMPLES` arrivals agree within `steady_within_s` of each other: a
clock that jumps about is not a steady offset, and its recommendations are judged as they come.

What the gateway does with it (docs/FALLBACK.md): within `gateway.engine_clock_offset_tolerance_s` the
engine's timestamps are judged on its own timeline (the offset known *before* a batch is applied, so a
batch never vouches for itself); beyond it `STALE`/`FUTURE` refusals stay refusals. Either way, an offset
beyond `clock_skew_tolerance_s` raises one `ENGINE_CLOCK_SKEW` alarm naming it, and such refusals do
not count as the engine's mistakes toward a rejection burst.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SAMPLES = 16
MIN_SAMPLES = 3


@dataclass(frozen=True, slots=True)
class ClockOffset:
    ages: tuple[float, ...] = ()  # arrival - sent, oldest first, at most SAMPLES


def observe_arrival(state: ClockOffset, sent_at: float, arrival: float) -> ClockOffset:
    if not math.isfinite(sent_at):
        return state
    return ClockOffset((*state.ages, arrival - sent_at)[-SAMPLES:])


def estimate_offset(state: ClockOffset, steady_within_s: float) -> float | None:
    """The engine's steady clock offset in seconds (positive: behind), or None when there is none yet."""
    if len(state.ages) < MIN_SAMPLES:
        return None
    recent = state.ages[-MIN_SAMPLES:]
    if max(recent) - min(recent) > steady_within_s:
        return None  # the last arrivals disagree: not a steady offset
    return min(state.ages)


def applied_offset(offset: float | None, skew_tolerance_s: float, offset_tolerance_s: float) -> float:
    """The offset to judge timestamps with: none while the clocks agree, none beyond the tolerance."""
    if offset is None or abs(offset) <= skew_tolerance_s or abs(offset) > offset_tolerance_s:
        return 0.0
    return offset


def is_skewed(offset: float | None, skew_tolerance_s: float) -> bool:
    return offset is not None and abs(offset) > skew_tolerance_s
