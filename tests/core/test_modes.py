"""The loop-mode table, event by event."""

from __future__ import annotations

import itertools

import pytest

from otgate.core.modes import TRANSITIONS, Direction, LoopMode, LoopState, ModeEvent, direction, transition

A, F, M = LoopMode.AI, LoopMode.FALLBACK, LoopMode.MANUAL


@pytest.mark.parametrize(
    ("mode", "latched", "event", "expected"),
    [
        (F, False, ModeEvent.ENGAGE, (A, False)),
        (F, True, ModeEvent.ENGAGE, None),
        (F, True, ModeEvent.RESET, (F, False)),
        (A, False, ModeEvent.FALLBACK, (F, True)),
        (A, False, ModeEvent.MANUAL, (M, False)),
        (M, False, ModeEvent.FALLBACK, (F, True)),
        (M, False, ModeEvent.ENGAGE, (A, False)),
        (A, False, ModeEvent.RESET, None),
        # The latch survives manual (fallback -> manual -> engage must not launder it).
        (F, True, ModeEvent.MANUAL, (M, True)),
        (M, True, ModeEvent.ENGAGE, None),
        (M, True, ModeEvent.RESET, (M, False)),
        (M, True, ModeEvent.FALLBACK, (F, True)),
        (M, False, ModeEvent.RESET, None),
    ],
)
@pytest.mark.requirement("R-18")
def test_transition_table(
    mode: LoopMode, latched: bool, event: ModeEvent, expected: tuple[LoopMode, bool] | None
):
    after = transition(LoopState(mode, latched), event, "why")
    assert (None if after is None else (after.mode, after.latched)) == expected


@pytest.mark.requirement("R-18")
def test_initial_state_is_fallback():
    assert LoopState().mode is LoopMode.FALLBACK


@pytest.mark.parametrize(
    ("mode", "latched"), [(m, lat) for m, lat in itertools.product(LoopMode, (False, True))]
)
@pytest.mark.requirement("R-18", "R-29")
def test_fallback_always_allowed_and_latches(mode: LoopMode, latched: bool):
    if mode is LoopMode.AI and latched:
        return  # ai is never latched
    after = transition(LoopState(mode, latched), ModeEvent.FALLBACK, "anomaly")
    assert after is not None and after.mode is LoopMode.FALLBACK and after.latched


@pytest.mark.requirement("R-18")
def test_no_event_other_than_engage_leads_into_ai():
    for (mode, latched, event), (target, _) in TRANSITIONS.items():
        if target is LoopMode.AI and mode is not LoopMode.AI:
            assert event is ModeEvent.ENGAGE and not latched


def test_no_path_from_a_latched_state_reaches_ai_without_reset():
    """Walk the table from every latched state by every event but reset: ai is never reached."""
    frontier = [(m, True) for m in (F, M)]
    seen = set(frontier)
    while frontier:
        mode, latched = frontier.pop()
        for event in (ModeEvent.ENGAGE, ModeEvent.FALLBACK, ModeEvent.MANUAL):
            target = TRANSITIONS.get((mode, latched, event))
            if target is None:
                continue
            assert target[0] is not A, (mode, latched, event)
            if target not in seen:
                seen.add(target)
                frontier.append(target)


@pytest.mark.parametrize(
    ("mode", "event", "expected"),
    [
        (A, ModeEvent.FALLBACK, Direction.TOWARD_SAFETY),
        (F, ModeEvent.FALLBACK, Direction.TOWARD_SAFETY),
        (A, ModeEvent.MANUAL, Direction.TOWARD_SAFETY),
        (F, ModeEvent.MANUAL, Direction.AWAY),  # asks the PLC for REMOTE
        (F, ModeEvent.ENGAGE, Direction.AWAY),
        (F, ModeEvent.RESET, Direction.AWAY),
    ],
)
def test_direction_of_an_operator_event(mode: LoopMode, event: ModeEvent, expected: Direction):
    assert direction(LoopState(mode), event) is expected
