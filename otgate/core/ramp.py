"""A ramp plan: the setpoints from the read-back to a proposed target, one per write period.

A move too large or too fast for one write becomes a ramp under the tag's `ramp` policy (the chain in
`otgate.core.validation` decides when); the scan re-validates every step against fresh read-backs
before it writes it, so the plan is what the chain expects to write, not a licence to write it.
"""

from __future__ import annotations

import math

from otgate.core.config import SetpointRules
from otgate.core.rules import step_limit

# A ramp longer than this is refused rather than planned (bounded memory per decision).
MAX_RAMP_STEPS = 20_000


def plan_ramp(
    start: float,
    target: float,
    rules: SetpointRules,
    write_period_s: float,
    base: float,
    resolution: float = 0.0,
) -> tuple[float, ...]:
    """Setpoints from `start` to `target`, one per write period, each within move, rate, limits and budget.

    On an integer tag every step is a whole number of `resolution` (rounded toward the start, so never
    beyond the rate). Returns () when no such plan exists (start outside the limits, the target beyond
    the budget, or a step smaller than the tag can express).
    """
    upward = target > start
    step = min(
        rules.max_move_up if upward else rules.max_move_down, step_limit(rules, upward, write_period_s)
    )
    if resolution > 0:
        step = math.floor(step / resolution + 1e-9) * resolution
    if step <= 0:
        return ()
    count = math.ceil(abs(target - start) / step - 1e-9)
    if count > MAX_RAMP_STEPS:
        return ()
    budget = rules.change_budget.max_change
    first = target if count <= 1 else start + (1.0 if upward else -1.0) * step
    # The plan is monotonic and limits and budget are intervals: its two ends bound every step, so
    # they are checked before the steps are built (a refused plan costs nothing).
    if not all(rules.limits.contains(v) and abs(v - base) <= budget for v in (first, target)):
        return ()
    stride = (1.0 if upward else -1.0) * step  # the same product, in the same order, as each step's
    return (*[start + stride * k for k in range(1, count)], target)
