"""The `autonomy` assertion: an engine's earned level and eligibility on a loop at a moment of the run.

Read from the audit trail, never from the gateway's own view: the trail's records up to that moment are
folded exactly as a restarted gateway folds them (`otgate.core.ledger_fold`), and eligibility is judged
by the core's rule (`otgate.core.autonomy.eligibility`) on the loop's policy in the scenario's config.
A gateway that promotes without recording it, or records a promotion it did not earn, is caught twice:
here, and by the fold's own consistency check.
"""

from __future__ import annotations

from otgate.core.autonomy import Key, eligibility
from otgate.core.config import Autonomy
from otgate.core.ledger_fold import Scope, fold_ledger
from otgate_hil.assertion_spec import Assertion
from otgate_hil.judging import EPS, Outcome, outcome, resolve
from otgate_hil.overrides import overridden_config
from otgate_hil.record import RunRecord
from otgate_simulator.simulation import default_config


def earned_level(record: RunRecord, a: Assertion) -> Outcome:
    spec = a.autonomy
    assert spec is not None
    scenario = record.scenario
    t = resolve(record, spec.at)
    if t is None:
        return outcome(a, False, None, "n/a", None, f"event {spec.at!r} never happened (no vacuous pass)")
    config = (
        overridden_config(scenario.plant, scenario.overrides)
        if scenario.overrides
        else default_config(scenario.plant)
    )
    loop = config.loops.get(spec.loop)
    if loop is None or loop.autonomy is None:
        return outcome(a, False, None, "n/a", None, f"loop {spec.loop} has no earned-autonomy policy")
    scope = Scope(
        {c.sp: name for name, c in config.loops.items() if c.autonomy is not None}, frozenset(config.engines)
    )
    upto = [(tick, r) for tick, r in record.audit if tick <= t + EPS]
    folded = fold_ledger((r for _, r in upto), scope)
    digest = folded.digests.get(spec.engine)
    entry = None if digest is None else folded.entries.get(Key(spec.engine, digest, spec.loop))
    level = Autonomy.SHADOW if entry is None else entry.level
    # the trail's wall time at t: the last record's stamp moved on by the ticks since (clock jumps kept)
    wall = upto[-1][1].at + (t - upto[-1][0]) if upto else t
    judged = None if entry is None else eligibility(entry, loop.autonomy, wall)
    eligible = judged is not None and judged.eligible
    passed = (spec.level is None or level.value == spec.level) and (
        spec.eligible is None or eligible == spec.eligible
    )
    why = (
        "eligible" if eligible else "not eligible: " + "; ".join(judged.unmet if judged else ("no evidence",))
    )
    detail = f"{spec.engine} on {spec.loop} at {spec.at} (t = {t:g} s): {level.value}, {why}"
    return outcome(a, passed, 1.0 if passed else -1.0, level.value, None if passed else t, detail)
