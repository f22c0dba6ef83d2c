"""Risk classes of supervised moves: a table of proposals -> class, each row one feature at work."""

from __future__ import annotations

import pytest

from otgate.core.autonomy_policy import RiskPolicy
from otgate.core.config import (
    Band,
    ChangeBudget,
    FallbackAction,
    FallbackPolicy,
    SetpointRules,
)
from otgate.core.risk import RiskClass, classify, features, predicted_effect
from otgate.core.step_response import StepModel

# Limits 500..800, alarm 450..900 (width 450), max move 20 both ways.
RULES = SetpointRules(
    limits=Band(lo=500.0, hi=800.0),
    alarm=Band(lo=450.0, hi=900.0),
    trip=Band(lo=250.0, hi=1200.0),
    max_move_up=20.0,
    max_move_down=20.0,
    rate_up_per_s=0.5,
    rate_down_per_s=0.5,
    change_budget=ChangeBudget(max_change=200.0, window_s=600.0),
    fallback=FallbackPolicy(action=FallbackAction.PLC_LOCAL),
)
POLICY = RiskPolicy()
STEADY = tuple(650.0 + (k % 5 - 2) * 2.0 for k in range(20))  # mean 650, spread ~2.8


@pytest.mark.parametrize(
    ("value", "readback", "admissible", "recent", "expected"),
    [
        (652.0, 650.0, None, (), RiskClass.LOW),  # small move, far from alarms, no models, no history
        (660.0, 650.0, None, (), RiskClass.HIGH),  # move 10/20 = 0.5
        (668.0, 650.0, None, (), RiskClass.HIGHEST),  # move 18/20 = 0.9
        (632.0, 650.0, None, (), RiskClass.HIGHEST),  # downward: judged against max_move_down
        (790.0, 789.0, None, (), RiskClass.LOW),  # 110/450 = 0.24 from the high alarm: low
        (500.0, 501.0, None, (), RiskClass.HIGH),  # 50/450 = 0.11 from the low alarm: high
        (652.0, 650.0, (620.0, 680.0), (), RiskClass.HIGH),  # 28/300 = 0.093 to the admissible edge
        (652.0, 650.0, (640.0, 660.0), (), RiskClass.HIGHEST),  # 8/300 = 0.027 to the admissible edge
        (652.0, 650.0, (560.0, 740.0), (), RiskClass.LOW),  # plenty of predicted margin
        (652.0, 651.0, None, STEADY, RiskClass.LOW),  # a usual value for the loop
        (660.5, 660.0, None, STEADY, RiskClass.HIGH),  # 10.5 from the mean over spread 2.83: 3.7 sigma
        (662.0, 661.0, None, STEADY, RiskClass.HIGHEST),  # 12 / 2.83: 4.2 sigma
        (664.0, 650.0, (560.0, 740.0), STEADY, RiskClass.HIGHEST),  # move high, unusual highest: highest
    ],
)
def test_classify_table_proposal_gives_tier(value, readback, admissible, recent, expected):
    found = features(value, readback, RULES, admissible, recent, POLICY.min_history)
    assert classify(found, POLICY).risk is expected


def test_classify_names_each_feature_that_raised_the_class():
    found = features(660.0, 650.0, RULES, None, (), POLICY.min_history)
    judged = classify(found, POLICY)
    assert judged.approvals_required == 1
    assert len(judged.why) == 1 and judged.why[0].startswith("move size 0.5")


def test_features_unusual_not_judged_before_enough_history():
    assert features(700.0, 699.0, RULES, None, STEADY[:5], 10).unusual_sigma is None


def test_predicted_effect_gain_times_move_per_output():
    models = [StepModel("LIC-101.RSP", "LIT-101", 0.9, 60.0, 5.0), StepModel("X", "LIT-101", 5.0, 1.0, 0.0)]
    assert predicted_effect(models, "LIC-101.RSP", 10.0) == {"LIT-101": pytest.approx(9.0)}


def test_risk_policy_inverted_thresholds_rejected():
    with pytest.raises(ValueError, match="move_fraction"):
        RiskPolicy(high_move_fraction=0.9, highest_move_fraction=0.5)
