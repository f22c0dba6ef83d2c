"""Cross-checks of the predictive config sections: several terms for one pair add up, a term written twice
is refused."""

from __future__ import annotations

import pytest

from otgate.core.process_models import EnvelopeLimit, ProcessModel, model_problems

pytestmark = pytest.mark.requirement("R-42")

KINDS = {"SP": "setpoint", "Y": "measurement"}
ENVELOPE = {"Y": EnvelopeLimit(hi=10.0)}


def term(gain: float, tau_s: float, dead_time_s: float) -> ProcessModel:
    return ProcessModel(input="SP", output="Y", gain=gain, tau_s=tau_s, dead_time_s=dead_time_s)


def test_model_problems_two_distinct_terms_for_one_pair_are_accepted():
    assert model_problems([term(-0.9, 4000.0, 3600.0), term(2.3, 15000.0, 1300.0)], ENVELOPE, KINDS, {}) == []


def test_model_problems_the_same_term_twice_is_refused_with_its_path():
    problems = model_problems([term(1.0, 60.0, 5.0), term(0.5, 60.0, 5.0)], ENVELOPE, KINDS, {})
    assert problems == [
        (
            ("models", 1),
            "a second term from SP to Y with the same tau_s, dead_time_s and damping: merge their gains",
        )
    ]


def test_model_problems_a_swing_beside_a_first_order_term_of_the_same_tau_is_two_terms():
    swing = ProcessModel(input="SP", output="Y", gain=2.0, tau_s=60.0, dead_time_s=5.0, damping=0.3)
    assert model_problems([term(1.0, 60.0, 5.0), swing], ENVELOPE, KINDS, {}) == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"damping": 0.0}, "greater than 0"),
        ({"damping": 1.0}, "less than 1"),  # critically damped or slower: two first-order terms
        ({"damping": float("nan")}, "finite number"),
        ({"damping": 0.3, "tau_s": 0.0}, "an oscillating term (damping) needs a tau_s above 0"),
    ],
)
def test_process_model_damping_must_be_an_underdamped_ratio(fields: dict[str, float], message: str):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ProcessModel.model_validate({"input": "SP", "output": "Y", "gain": 1.0, "tau_s": 60.0, **fields})
