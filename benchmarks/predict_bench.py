"""`predict`: the per-proposal cost of the look-ahead rule, against the rest of the validation chain.

Inputs are the shipped CSTR plant (`plant_configs/cstr.yaml`): its TIC-101.RSP -> TT-101 step-response
model and the 335 K envelope. The forecast is built once, as the gateway does once per scan, from 30 min of
one-second samples of a reactor that moved its setpoint +1 K ten minutes ago and carries noise; one other
move is queued.

- `predict`: median us per `check_predicted()` call (admissible interval and verdict for one proposal).
  Baseline: median us per `validate()` of the same proposal on the same plant without a forecast (every
  other rule of the chain), timed the same way, loops alternating.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from benchmarks.figure import Figure, figure
from benchmarks.validate_bench import _per_call_us
from otgate.core.look_ahead import check_predicted
from otgate.core.modes import LoopMode, PlcMode
from otgate.core.plant import compile_plant
from otgate.core.prediction import forecast
from otgate.core.proposal import History, Proposal, Snapshot
from otgate.core.validation import validate
from otgate_simulator.simulation import default_config

NOW = 1_800_000_000.0
TAG = "TIC-101.RSP"


@dataclass(frozen=True)
class Size:
    calls: int = 2_000
    loops: int = 60


TINY = Size(calls=5, loops=3)


def run(size: Size = Size()) -> list[Figure]:
    plant = compile_plant(default_config("cstr"))
    rng = random.Random(7)
    history = {
        TAG: [(NOW - 1800 + k, 325.0 if k < 1200 else 326.0) for k in range(1800)],
        "TT-101": [(NOW - 1800 + k, 325.0 + rng.gauss(0, 0.05)) for k in range(1800)],
    }
    fc = forecast(plant.models, {"TT-101": 325.8}, history, NOW, plant.horizon_s)
    values = {"TT-101": 325.8, "TT-101B": 325.8, "TIC-101.SP": 326.0, "TIC-101.MODE": float(PlcMode.REMOTE)}
    bare = Snapshot(NOW - 0.2, values, loop_modes={"TIC-101": LoopMode.AI})
    snap = replace(bare, forecast=fc, queued={"TT-102": 0.2})
    rules = plant.config.tags[TAG].setpoint
    if rules is None or not plant.is_predictive:
        raise RuntimeError("cstr.yaml no longer has a predictive setpoint")
    proposal = Proposal("rec-1", "optimizer", TAG, 326.4, NOW - 1.0)

    def look_ahead() -> object:
        return check_predicted(TAG, 326.4, 326.0, rules, plant, snap)

    def chain() -> object:
        return validate(proposal, bare, plant, History(), NOW)

    return [
        figure(
            "predict",
            "us",
            *_per_call_us(look_ahead, chain, size.calls, size.loops),
            target=50.0,
            what="median us per look-ahead check of one proposal (CSTR model, 40-point horizon)",
        )
    ]
