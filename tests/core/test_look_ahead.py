"""The look-ahead rule in the validation chain (issue 15): PREDICTED_EXCURSION and the admissible interval."""

from __future__ import annotations

import pytest

from otgate.core.decision import ReasonCode, Verdict
from otgate.core.modes import LoopMode, PlcMode
from otgate.core.plant import Plant, compile_plant
from otgate.core.prediction import Bound, forecast
from otgate.core.process_models import EnvelopeLimit
from otgate.core.proposal import History, Proposal, Snapshot
from otgate.core.validation import validate
from tests.core.plants import CSTR, NOW

pytestmark = pytest.mark.requirement("R-42")

TAG = "TIC-101.RSP"


def tight(hi: float) -> Plant:
    """The shipped CSTR models with an envelope close enough to bind inside the hard limits."""
    return compile_plant(CSTR.config.model_copy(update={"envelope": {"TT-101": EnvelopeLimit(hi=hi)}}))


def at_rest(plant: Plant, temp_k: float, sp_k: float, queued: dict[str, float] | None = None) -> Snapshot:
    fc = forecast(plant.models, {"TT-101": temp_k}, {}, NOW, plant.horizon_s)
    values = {"TT-101": temp_k, "TT-101B": temp_k, "TIC-101.SP": sp_k, "TIC-101.MODE": float(PlcMode.REMOTE)}
    return Snapshot(NOW - 0.2, values, loop_modes={"TIC-101": LoopMode.AI}, forecast=fc, queued=queued or {})


def decide(plant: Plant, value: float, snapshot: Snapshot) -> object:
    proposal = Proposal("rec-1", "optimizer", TAG, value, NOW - 1.0)
    return validate(proposal, snapshot, plant, History(), NOW)


def test_shipped_cstr_has_a_model_into_its_envelope():
    assert CSTR.is_predictive and CSTR.reaches_envelope(TAG)
    assert CSTR.envelope == {"TT-101": Bound(hi=335.0)}


def test_move_whose_prediction_leaves_the_envelope_refused_with_where_and_when():
    plant = tight(328.5)
    decision = decide(plant, 328.9, at_rest(plant, 328.0, 328.0))
    assert decision.verdict is Verdict.REJECTED
    (reason,) = [r for r in decision.reasons if r.code is ReasonCode.PREDICTED_EXCURSION]
    assert "TT-101 predicted" in reason.detail and "above its envelope limit 328.5" in reason.detail


def test_every_decision_carries_the_admissible_interval():
    plant = tight(328.5)
    decision = decide(plant, 328.3, at_rest(plant, 328.0, 328.0))
    assert ReasonCode.PREDICTED_EXCURSION not in decision.codes
    lo, hi = decision.admissible
    assert lo == 315.0  # the hard limit: nothing below reaches the upper envelope
    assert hi == pytest.approx(328.0 + 0.5 / 0.9498, abs=0.02)


def test_queued_move_of_the_same_setpoint_is_superseded_by_the_new_proposal():
    plant = tight(329.0)
    same = decide(plant, 328.8, at_rest(plant, 328.0, 328.0, {TAG: 0.9}))
    assert ReasonCode.PREDICTED_EXCURSION not in same.codes


def test_queued_move_of_another_input_counts_against_the_proposal():
    from otgate.core.process_models import ProcessModel

    feed = ProcessModel(input="TT-102", output="TT-101", gain=1.0, tau_s=10.0)  # a measured disturbance
    config = tight(329.0).config
    plant = compile_plant(config.model_copy(update={"models": [*config.models, feed]}))
    assert ReasonCode.PREDICTED_EXCURSION not in decide(plant, 328.8, at_rest(plant, 328.0, 328.0)).codes
    joint = decide(plant, 328.8, at_rest(plant, 328.0, 328.0, {"TT-102": 0.5}))
    assert ReasonCode.PREDICTED_EXCURSION in joint.codes


def test_plant_without_models_has_no_interval():
    from tests.core.plants import TANK, proposal, snapshot

    decision = validate(proposal(650.4), snapshot(), TANK, History(), NOW)
    assert decision.admissible is None


def test_demo_engine_keeps_its_target_inside_the_admissible_interval():
    from otgate.client import Decision, Envelope
    from otgate.client.demo_engine import DemoEngine

    engine = DemoEngine(misbehave=False)
    envelope = Envelope.model_validate(
        {
            "tag": TAG,
            "unit": "K",
            "limits": {"lo": 315.0, "hi": 330.0},
            "max_move": {"up": 1.0, "down": 2.0},
            "rate_per_s": {"up": 0.5, "down": 1.0},
            "change_budget": {"max_change": 6.0, "window_s": 1800.0},
            "deadband": 0.002,
            "min_write_interval_s": 1.0,
            "autonomy": "autonomous",
            "loop": "TIC-101",
            "mode": "ai",
            "current_setpoint": 328.0,
        }
    )
    first = engine.step(envelope, 1)
    assert first is not None and first.value == pytest.approx(328.5)  # toward the 329.5 K optimum
    answer = {"id": first.id, "decision": "rejected", "reasons": [], "written_value": None, "audit_seq": 1}
    engine.decided([Decision.model_validate({**answer, "admissible": {"lo": 315.0, "hi": 328.2}})])
    second = engine.step(envelope, 2)
    assert second is not None and second.value == pytest.approx(328.2)  # no further than admitted
