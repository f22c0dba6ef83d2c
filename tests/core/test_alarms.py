"""Alarm board: ISA-18.2 ordering, times, and bounded shelving (REQUIREMENTS #26)."""

from __future__ import annotations

import pytest

from otgate.core.alarms import MAX_SHELVE_S, Alarm, AlarmBoard, shelve_refusal, sort_key


def test_sort_key_puts_high_first_then_active_then_newest():
    alarms = [
        Alarm("LOW", "", "low", last_at=5.0),
        Alarm("HIGH_CLEARED", "", "high", last_at=9.0, active=False),
        Alarm("MEDIUM", "", "medium", last_at=1.0),
        Alarm("HIGH_OLD", "", "high", last_at=1.0),
        Alarm("HIGH_NEW", "", "high", last_at=2.0),
    ]
    assert [a.code for a in sorted(alarms, key=sort_key)] == [
        "HIGH_NEW",
        "HIGH_OLD",
        "HIGH_CLEARED",
        "MEDIUM",
        "LOW",
    ]


def test_board_records_acknowledged_and_cleared_times_once():
    board = AlarmBoard()
    board.raise_("A", "m", "low", 10.0)
    board.acknowledge("A", "op", 12.0)
    board.clear("A", 15.0)
    board.clear("A", 99.0)  # already cleared: the first clearing time stays
    alarm = board["A"]
    assert (alarm.first_at, alarm.acknowledged_at, alarm.cleared_at, alarm.acknowledged_by) == (
        10.0,
        12.0,
        15.0,
        "op",
    )


@pytest.mark.requirement("R-26")
@pytest.mark.parametrize(
    ("priority", "reason", "duration_s", "refused"),
    [
        ("high", "noisy", 60.0, "cannot be shelved"),
        ("medium", "", 60.0, "reason"),
        ("low", "noisy", 0.0, "duration"),
        ("low", "noisy", MAX_SHELVE_S + 1, "duration"),
        ("low", "noisy", MAX_SHELVE_S, None),
        ("medium", "noisy", 60.0, None),
    ],
)
def test_shelve_refusal_table(priority: str, reason: str, duration_s: float, refused: str | None):
    outcome = shelve_refusal(Alarm("A", "m", priority), reason, duration_s)
    assert (outcome is None) if refused is None else (outcome is not None and refused in outcome)


@pytest.mark.requirement("R-26")
def test_unshelve_expired_returns_each_expired_alarm_with_its_shelver_once():
    board = AlarmBoard()
    board.raise_("A", "m", "low", 0.0)
    board.raise_("B", "m", "low", 0.0)
    board.shelve("A", "op1", "nuisance", until=100.0)
    board.shelve("B", "op2", "nuisance", until=200.0)
    assert board.unshelve_expired(99.0) == []
    assert board.unshelve_expired(100.0) == [("A", "op1")]
    assert board.unshelve_expired(150.0) == []
    assert board["A"].shelved_until is None and board["B"].shelved_by == "op2"
