"""The look-ahead rule of the validation chain: a move is judged by where it takes the process.

For a setpoint whose moves reach a constrained variable (a model from it to a variable of the
envelope), the rule computes the admissible interval of setpoints from this scan's forecast, the moves
every engine has queued and the models (`prediction.admissible_move`), and refuses a proposal outside it
as PREDICTED_EXCURSION, naming the variable, when and by how much. The interval is reported with every
decision on that setpoint, within the hard limits, so an engine can re-propose inside it.
"""

from __future__ import annotations

from otgate.core.config import SetpointRules
from otgate.core.decision import Reason, ReasonCode
from otgate.core.plant import Plant
from otgate.core.prediction import admissible_move, worst_excursion
from otgate.core.proposal import Snapshot

_TOLERANCE = 1e-9


def check_predicted(
    tag: str, value: float, readback: float, rules: SetpointRules, plant: Plant, snapshot: Snapshot
) -> tuple[tuple[float, float] | None, tuple[Reason, ...]]:
    """The admissible setpoints (None when no model reaches the envelope) and the reasons that fired."""
    forecast = snapshot.forecast
    if forecast is None or not plant.reaches_envelope(tag):
        return None, ()
    lo, hi = admissible_move(plant.models, plant.envelope, forecast, tag, snapshot.queued)
    admissible = (max(rules.limits.lo, readback + lo), min(rules.limits.hi, readback + hi))
    move = value - readback
    if lo - _TOLERANCE <= move <= hi + _TOLERANCE:
        return admissible, ()
    worst = worst_excursion(plant.models, plant.envelope, forecast, tag, move, snapshot.queued)
    if worst is None:  # outside the interval only where the base already lies out: pushing further
        detail = "the move pushes a constrained variable further beyond its envelope"
    else:
        side = "above" if worst.by > 0 else "below"
        detail = (
            f"{worst.output} predicted {worst.value:.4g} in {worst.at_s:.0f} s, "
            f"{abs(worst.by):.3g} {side} its envelope limit {worst.limit:g}"
        )
    return admissible, (Reason(ReasonCode.PREDICTED_EXCURSION, detail),)
