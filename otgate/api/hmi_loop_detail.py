"""Per-loop detail for the high-performance HMI (ISA-101): what the operator needs to judge a loop at a
glance, computed from the config and the gateway's state and never from the browser.

- `trend_lines`: the horizontal lines on a loop's trend — the setpoint's hard limits, the PV's alarm band
  and the operating envelope (when the config has one), each with its kind, so the page draws them in
  one muted style per kind.
- `interlock_views`: every gateway interlock that blocks the loop's setpoint, whether it is active now
  and what it blocks (an unknown value counts as active, as the validation does: fail safe).
- `loop_actions`: which buttons can do something now, and why not when they cannot — an enabled
  "Engage" on a latched loop would be a button that always fails.
"""

from __future__ import annotations

from typing import Any

from otgate.core.modes import LoopMode
from otgate.core.plant import Plant

HISTORY_LEN = 8  # recommendations shown per loop; the trail keeps all


def trend_lines(plant: Plant, loop_name: str) -> list[dict[str, Any]]:
    config = plant.config
    loop = config.loops[loop_name]
    lines: list[dict[str, Any]] = []
    rules = config.tags[loop.sp].setpoint
    if rules is not None:
        lines += [
            {"kind": "hard_limit", "label": "SP hard limit lo", "value": rules.limits.lo},
            {"kind": "hard_limit", "label": "SP hard limit hi", "value": rules.limits.hi},
        ]
    monitor = config.tags[loop.pv].monitor
    if monitor is not None and monitor.alarm is not None:
        lines += [
            {"kind": "alarm", "label": "PV alarm lo", "value": monitor.alarm.lo},
            {"kind": "alarm", "label": "PV alarm hi", "value": monitor.alarm.hi},
        ]
    envelope = config.envelope.get(loop.pv)
    if envelope is not None:
        lines += [
            {"kind": "envelope", "label": "PV envelope lo", "value": envelope.lo},
            {"kind": "envelope", "label": "PV envelope hi", "value": envelope.hi},
        ]
    return lines


def interlock_views(plant: Plant, loop_name: str, good: dict[str, float]) -> list[dict[str, Any]]:
    sp = plant.config.loops[loop_name].sp
    views = []
    for compiled in plant.interlocks_by_tag.get(sp, ()):
        interlock = plant.config.interlocks[compiled.name]
        state = compiled.expression.evaluate(good)
        views.append(
            {
                "name": compiled.name,
                "when": interlock.when,
                "description": interlock.description,
                "blocks": f"every move of {sp}"
                if interlock.direction == "any"
                else f"{interlock.direction}s of {sp}",
                "active": state is not False,
                "known": state is not None,
            }
        )
    return views


def loop_actions(mode: LoopMode, latched: bool) -> dict[str, dict[str, Any]]:
    """Per button: {"enabled", "why"}; `why` says what is possible instead (shown on hover)."""

    def able(enabled: bool, why: str = "") -> dict[str, Any]:
        return {"enabled": enabled, "why": "" if enabled else why}

    return {
        "engage": able(
            not latched and mode is not LoopMode.AI,
            "latched: reset it with a reason first" if latched else "already in AI",
        ),
        "fallback": able(mode is not LoopMode.FALLBACK, "already in fallback"),
        "manual": able(mode is not LoopMode.MANUAL, "already in manual"),
        "setpoint": able(mode is LoopMode.MANUAL, "a manual setpoint needs the loop in manual"),
        "reset": able(latched, "nothing latched to reset"),
    }
