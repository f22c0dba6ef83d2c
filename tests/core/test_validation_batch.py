"""`validate_many` is the single chain run over a batch: it must give exactly what `validate` gives each
proposal, whichever rule fires, however the batch mixes sources, values and directions of move."""

from __future__ import annotations

import math
from collections import deque

from hypothesis import given, settings
from hypothesis import strategies as st

from otgate.core.config import Autonomy, RatePolicy
from otgate.core.decision import ReasonCode
from otgate.core.modes import LoopMode
from otgate.core.plant import Plant, compile_plant
from otgate.core.prediction import forecast
from otgate.core.process_models import EnvelopeLimit
from otgate.core.proposal import History, Proposal, Snapshot, WriteEvent
from otgate.core.validation import validate, validate_many
from tests.core.plants import CSTR, NOW, TAG, TANK, proposal, snapshot

# Reasons only the shell gives (a raising core, a config reload between decision and write).
NOT_FROM_THE_CHAIN = {ReasonCode.INTERNAL_ERROR, ReasonCode.CONFIG_RELOADED}
DIGEST = "sha256:" + "a" * 64


def _varied() -> list[Proposal]:
    """Every engine-side fault, and several proposals per source in every direction of move."""
    values = (650.4, 650.1, 649.6, 650.0, 655.0, 640.0, 700.0, 790.0, 900.0, -5.0, math.nan, math.inf)
    batch = [proposal(v, id=f"v-{i}") for i, v in enumerate(values)]
    batch += [proposal(v, id=f"late-{i}", issued_at=NOW - 60.0) for i, v in enumerate((650.4, 700.0))]
    batch += [
        proposal(650.4, id="dup"),
        proposal(650.4, id="future", issued_at=NOW + 60.0),
        proposal(650.4, id="old-basis", basis_at=NOW - 30.0),
        proposal(650.4, id="offset", issued_at=NOW - 40.0, clock_offset_s=15.0),
        proposal(650.4, id="unknown-tag", tag="FIC-999.SP"),
        proposal(1.0, id="read-only", tag="LIT-101"),
        proposal(math.nan, id="read-only-nan", tag="LIT-101"),
        proposal(650.4, id="intruder", engine="intruder"),
        proposal(650.4, id="digest", model_digest="sha256:" + "b" * 64),
        proposal(650.4, id="digest-ok", model_digest=DIGEST),
        proposal(650.6, id="v-again"),  # a later proposal from an already seen source
        proposal(649.0, id="v-down-again"),
    ]
    return batch


def _tank(**setpoint: object) -> Plant:
    tag = TANK.config.tags[TAG]
    assert tag.setpoint is not None
    rules = tag.setpoint.model_copy(update=setpoint)
    tags = {**TANK.config.tags, TAG: tag.model_copy(update={"setpoint": rules})}
    return compile_plant(TANK.config.model_copy(update={"tags": tags}))


def _with_digest_allow_list() -> Plant:
    engine = TANK.config.engines["optimizer"].model_copy(update={"allowed_model_digests": [DIGEST]})
    return compile_plant(TANK.config.model_copy(update={"engines": {"optimizer": engine}}))


def _window(previous: float) -> History:
    """One confirmed write 100 s ago, from `previous`: the change budget counts from there."""
    writes = {TAG: deque([WriteEvent(NOW - 700.0, 600.0, 590.0), WriteEvent(NOW - 100.0, 650.0, previous)])}
    return History(frozenset({"dup"}), writes, frozenset())


def _cstr() -> tuple[Plant, Snapshot, list[Proposal]]:
    plant = compile_plant(CSTR.config.model_copy(update={"envelope": {"TT-101": EnvelopeLimit(hi=328.5)}}))
    fc = forecast(plant.models, {"TT-101": 328.0}, {}, NOW, plant.horizon_s)
    values = {"TT-101": 328.0, "TT-101B": 328.0, "TIC-101.SP": 328.0, "TIC-101.MODE": 2.0}
    snap = Snapshot(NOW - 0.2, values, loop_modes={"TIC-101": LoopMode.AI}, forecast=fc)
    props = [
        Proposal(f"c-{i}", "optimizer", "TIC-101.RSP", v, NOW - 1.0)
        for i, v in enumerate((328.1, 328.9, 327.5))
    ]
    return plant, snap, props


def _scenarios() -> list[tuple[str, Plant, Snapshot, History, list[Proposal]]]:
    quiet = History(frozenset({"dup"}), {}, frozenset())
    return [
        ("normal", TANK, snapshot(), quiet, _varied()),
        ("budget spent", TANK, snapshot(), _window(560.0), _varied()),
        (
            "written just now",
            _tank(min_write_interval_s=5.0),
            snapshot(),
            History(writes={TAG: [WriteEvent(NOW - 0.5, 650.0, 649.5)]}),
            _varied(),
        ),
        ("interlock", TANK, snapshot(LIT_101=950.0), quiet, _varied()),
        (
            "bad quality",
            TANK,
            Snapshot(
                NOW - 0.2, snapshot().values, frozenset({"LIT-101"}), loop_modes={"LIC-101": LoopMode.AI}
            ),
            quiet,
            _varied(),
        ),
        ("link down", TANK, Snapshot(NOW - 0.2, snapshot().values, plc_available=False), quiet, _varied()),
        (
            "old data",
            TANK,
            Snapshot(NOW - 60.0, snapshot().values, loop_modes={"LIC-101": LoopMode.AI}),
            quiet,
            _varied(),
        ),
        ("fallback", TANK, snapshot(mode=LoopMode.FALLBACK), quiet, _varied()),
        ("quarantined", TANK, snapshot(), History(quarantined=frozenset({"optimizer"})), _varied()),
        ("rate rejected", _tank(on_rate_violation=RatePolicy.REJECT), snapshot(), quiet, _varied()),
        ("supervised", _tank(autonomy=Autonomy.SUPERVISED), snapshot(), quiet, _varied()),
        ("allow list", _with_digest_allow_list(), snapshot(), quiet, _varied()),
        ("look-ahead", *_cstr()[:2], History(), _cstr()[2]),
    ]


def test_validate_many_varied_batches_equal_single_decisions_and_cover_every_chain_reason():
    seen: set[ReasonCode] = set()
    for name, plant, snap, history, batch in _scenarios():
        single = [validate(p, snap, plant, history, NOW, wall=NOW + 0.5) for p in batch]
        assert validate_many(batch, snap, plant, history, NOW, wall=NOW + 0.5) == single, name
        seen.update(code for decision in single for code in decision.codes)
    assert seen == set(ReasonCode) - NOT_FROM_THE_CHAIN


def test_validate_many_empty_batch_gives_no_decisions():
    assert validate_many([], snapshot(), TANK, History(), NOW) == []


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(min_value=400.0, max_value=900.0) | st.just(math.nan),
            st.sampled_from([NOW - 1.0, NOW - 45.0, NOW + 30.0]),
            st.sampled_from(["optimizer", "intruder"]),
            st.sampled_from([TAG, "LIT-101"]),
        ),
        max_size=30,
    ),
    st.floats(min_value=500.0, max_value=800.0),
)
def test_validate_many_random_batch_equals_one_by_one(
    items: list[tuple[float, float, str, str]], readback: float
):
    batch = [
        proposal(value, id=f"r-{i}", issued_at=at, engine=engine, tag=tag)
        for i, (value, at, engine, tag) in enumerate(items)
    ]
    snap, history = snapshot(readback), _window(readback - 150.0)
    assert validate_many(batch, snap, TANK, history, NOW) == [
        validate(p, snap, TANK, history, NOW) for p in batch
    ]
