"""The write gate's judgement in the core (issue 12): the value judged is the value encoded, the rate is
judged over the time actually elapsed, each source writes only in its own mode, and a read-back
confirms only when finite and within the round-trip tolerance (offset included)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otgate.core.codec import DataType, decode, encode, is_confirmed, quantize, readback_tolerance
from otgate.core.config import PlantConfig
from otgate.core.decision import ReasonCode, Verdict
from otgate.core.modes import LoopMode
from otgate.core.plant import compile_plant
from otgate.core.proposal import History, WriteEvent
from otgate.core.validation import WriteSource, judge_write, plan_ramp
from tests.core.plants import NOW, TAG, TANK, proposal, snapshot

R = ReasonCode


def int16_tank(hi: float = 799.6) -> PlantConfig:
    tag = TANK.config.tags[TAG]
    assert tag.setpoint is not None
    limits = tag.setpoint.limits.model_copy(update={"hi": hi})
    rules = tag.setpoint.model_copy(update={"limits": limits, "rate_up_per_s": 1.5, "rate_down_per_s": 1.5})
    changed = tag.model_copy(update={"type": DataType.INT16, "setpoint": rules})
    return TANK.config.model_copy(update={"tags": {**TANK.config.tags, TAG: changed}})


def test_judge_value_past_the_limit_once_encoded_rejected():
    plant = compile_plant(int16_tank())
    decision = judge_write(WriteSource.AI, proposal(799.5), snapshot(799.0), plant, History(), NOW)
    assert decision.verdict is Verdict.REJECTED and R.OUT_OF_RANGE in decision.codes


def test_judge_integer_ramp_steps_are_whole_resolution_steps():
    plant = compile_plant(int16_tank())
    decision = judge_write(WriteSource.AI, proposal(660.4), snapshot(650.0), plant, History(), NOW)
    assert decision.verdict is Verdict.RAMPING
    assert decision.ramp == tuple(float(v) for v in range(651, 661))


def test_plan_ramp_step_finer_than_resolution_has_no_plan():
    rules = TANK.config.tags[TAG].setpoint
    assert rules is not None and rules.rate_up_per_s * 1.0 < 1.0
    assert plan_ramp(650.0, 660.0, rules, 1.0, 650.0, resolution=1.0) == ()  # never a stall on one value
    assert plan_ramp(650.0, 660.0, rules, 1.0, 650.0, resolution=0.25)[:2] == (650.5, 651.0)


@pytest.mark.parametrize(
    ("source", "mode", "allowed"),
    [
        (WriteSource.AI, LoopMode.AI, True),
        (WriteSource.AI, LoopMode.FALLBACK, False),
        (WriteSource.AI, LoopMode.MANUAL, False),
        (WriteSource.APPROVED, LoopMode.MANUAL, False),
        (WriteSource.OPERATOR, LoopMode.MANUAL, True),
        (WriteSource.OPERATOR, LoopMode.AI, False),
        (WriteSource.SAFE_VALUE, LoopMode.FALLBACK, True),
        (WriteSource.SAFE_VALUE, LoopMode.AI, False),
    ],
)
def test_judge_each_source_writes_only_in_its_own_mode(source: WriteSource, mode: LoopMode, allowed: bool):
    decision = judge_write(source, proposal(650.4), snapshot(650.0, mode=mode), TANK, History(), NOW)
    assert decision.is_write is allowed
    if not allowed:
        assert R.MODE_BLOCKED in decision.codes


def test_judge_rate_over_the_time_actually_elapsed_since_the_last_write():
    """A late scan then an on-time one: 0.1 s after a write, only 0.1 s worth of rate may follow."""
    writes = {TAG: [WriteEvent(NOW - 0.1, 650.0, 649.5)]}
    history = History(writes=writes)
    rules = TANK.config.tags[TAG].setpoint
    assert rules is not None and rules.min_write_interval_s <= 1.0
    tank = TANK.config.model_copy(
        update={
            "tags": {
                **TANK.config.tags,
                TAG: TANK.config.tags[TAG].model_copy(
                    update={"setpoint": rules.model_copy(update={"min_write_interval_s": 0.0})}
                ),
            }
        }
    )
    decision = judge_write(
        WriteSource.AI, proposal(650.5), snapshot(650.0), compile_plant(tank), history, NOW
    )
    assert decision.verdict is Verdict.RAMPING
    assert decision.value == pytest.approx(650.0 + 0.5 * 0.1)


def test_judge_second_write_at_the_same_instant_waits():
    history = History(writes={TAG: [WriteEvent(NOW, 650.0, 649.5)]})
    decision = judge_write(WriteSource.AI, proposal(650.5), snapshot(650.0), TANK, history, NOW)
    assert R.WRITE_TOO_FREQUENT in decision.codes and not decision.is_write


def test_readback_tolerance_accounts_for_the_offset():
    value, offset = 650.4, -100_000.0
    back = decode(encode(value, DataType.FLOAT32, offset=offset), DataType.FLOAT32, offset=offset)
    assert abs(back - value) > value * 2.0**-23  # the old tolerance would call it a mismatch
    assert is_confirmed(value, back, DataType.FLOAT32, 1.0, offset)


@pytest.mark.parametrize("readback", [math.nan, math.inf, -math.inf])
def test_non_finite_readback_never_confirms(readback: float):
    assert not is_confirmed(650.0, readback, DataType.FLOAT32)


@given(
    value=st.floats(-1e4, 1e4),
    scale=st.sampled_from([0.01, 0.1, 1.0, 2.5]),
    offset=st.floats(-1e5, 1e5),
    data_type=st.sampled_from([DataType.FLOAT32, DataType.FLOAT64, DataType.INT32]),
)
def test_round_trip_always_confirms(value: float, scale: float, offset: float, data_type: DataType):
    try:
        written = quantize(value, data_type, scale, offset)
        back = decode(
            encode(written, data_type, scale=scale, offset=offset), data_type, scale=scale, offset=offset
        )
    except ValueError:
        return  # not representable: refused before any write
    assert is_confirmed(written, back, data_type, scale, offset), readback_tolerance(
        written, data_type, scale, offset
    )
