"""Plausibility of a PLC's register/node map as read back at the site acceptance test (pure).

The self-test reads every configured tag once; these checks catch a map that reads but means something
else (a wrong address, word order or scale) and a PLC configured against the contract of
docs/PLC_INTEGRATION.md: modes outside 0..2, otgate's limits outside the PLC's own clamp, a watchdog
timeout the gateway's heartbeat cannot keep alive.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from otgate.core.config import PlantConfig, TagKind

MODES = {0.0, 1.0, 2.0}
UINT16_MAX = 65535.0


def _clamp_problems(config: PlantConfig, values: Mapping[str, float]) -> list[str]:
    problems = []
    for name, loop in sorted(config.loops.items()):
        rules = config.tags[loop.sp].setpoint
        lo, hi = values.get(f"{name}.SP_LO_LIM"), values.get(f"{name}.SP_HI_LIM")
        if rules is None or lo is None or hi is None:
            continue
        # The PLC clamp is the backstop: otgate's (tighter) limits must lie inside it, or the PLC would
        # silently cut setpoints the gateway accepted.
        if not lo <= rules.limits.lo <= rules.limits.hi <= hi:
            problems.append(
                f"{name}: otgate limits {rules.limits.lo:g}..{rules.limits.hi:g} not inside the PLC clamp {lo:g}..{hi:g}"
            )
        working = values.get(loop.working_sp)
        if working is not None and not lo <= working <= hi:
            problems.append(f"{name}: working setpoint {working:g} outside the PLC clamp {lo:g}..{hi:g}")
    return problems


def _watchdog_problems(config: PlantConfig, values: Mapping[str, float]) -> list[str]:
    problems = []
    period_s = config.gateway.heartbeat_period_s
    for tag, value in sorted(values.items()):
        if not tag.endswith("SHED_TIMEOUT"):
            continue
        if not value > 2 * period_s:
            # One lost or late beat must not shed the plant: the timeout needs room for several periods.
            problems.append(
                f"{tag} = {value:g} s is not more than twice the heartbeat period ({period_s:g} s)"
            )
    return problems


def plausibility_problems(config: PlantConfig, values: Mapping[str, float]) -> list[str]:
    """Every implausible value read back, as one readable line each (empty: plausible)."""
    problems = [
        f"{tag} = {value!r} is not finite"
        for tag, value in sorted(values.items())
        if not math.isfinite(value)
    ]
    for tag, value in sorted(values.items()):
        kind = config.tags[tag].kind if tag in config.tags else None
        if kind is TagKind.MODE and value not in MODES:
            problems.append(f"{tag} = {value:g} is not a mode (0 MAN, 1 AUTO, 2 REMOTE)")
        if kind is TagKind.HEARTBEAT and not (
            math.isfinite(value) and value == int(value) and 0 <= value <= UINT16_MAX
        ):
            problems.append(f"{tag} = {value:g} is not a 16-bit counter")
    return problems + _clamp_problems(config, values) + _watchdog_problems(config, values)
