"""The engage/release handshake table, row by row, and the PLC mode classification."""

from __future__ import annotations

import itertools
import math

import pytest

from otgate.core.handshake import TABLE, Action, PlcState, next_action, plc_state

pytestmark = pytest.mark.requirement("R-18", "R-19")

R, L, U = PlcState.REMOTE, PlcState.LOCAL, PlcState.UNKNOWN


@pytest.mark.parametrize(
    ("holds", "confirmed", "plc", "overdue", "expected"),
    [
        (True, True, R, False, Action.HOLD),
        (True, True, L, False, Action.REMOTE_LOST),
        (True, True, U, False, Action.REMOTE_LOST),
        (True, False, R, True, Action.CONFIRM_REMOTE),
        (True, False, L, False, Action.REQUEST_REMOTE),
        (True, False, L, True, Action.ENGAGE_REFUSED),
        (True, False, U, False, Action.REQUEST_REMOTE),
        (True, False, U, True, Action.ENGAGE_REFUSED),
        (False, False, L, True, Action.CONFIRM_LOCAL),
        (False, False, R, False, Action.REQUEST_LOCAL),
        (False, False, R, True, Action.RELEASE_OVERDUE),
        (False, False, U, False, Action.REQUEST_LOCAL),
        (False, False, U, True, Action.RELEASE_OVERDUE),
        (False, True, R, False, Action.REQUEST_LOCAL),  # a stale 'confirmed' never holds a released loop
    ],
)
def test_handshake_table_row(holds: bool, confirmed: bool, plc: PlcState, overdue: bool, expected: Action):
    assert next_action(holds, confirmed, plc, overdue) is expected


def test_handshake_table_covers_every_case():
    for holds, confirmed, plc, overdue in itertools.product(
        (True, False), (True, False), PlcState, (True, False)
    ):
        next_action(holds, confirmed, plc, overdue)  # no KeyError: every combination has an answer
    assert len(TABLE) == 9


def test_unknown_plc_mode_never_confirms_anything():
    for (_holds, _confirmed, plc), actions in TABLE.items():
        if plc is PlcState.UNKNOWN:
            assert Action.CONFIRM_REMOTE not in actions and Action.CONFIRM_LOCAL not in actions
            assert Action.HOLD not in actions


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.0, L), (1.0, L), (2.0, R), (3.0, U), (-1.0, U), (2.5, U), (math.nan, U), (math.inf, U), (65535.0, U)],
)
def test_plc_state_of_a_mode_register(value: float, expected: PlcState):
    assert plc_state(value) is expected
