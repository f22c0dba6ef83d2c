"""`validate`: the full rule chain per call and for a batch of 1,000 proposals, against a bare range check.

Inputs are the shipped tank plant (`plant_configs/tank.yaml`): setpoint LIC-101.RSP, limits 500..800 mm,
move 20 mm, rate 0.5 mm/s, budget 200 mm / 600 s, ramp policy, one interlock. The snapshot has the loop
in AI with the PLC in REMOTE; the history holds 1,000 seen ids and the tag's confirmed writes.

- `validate`: one proposal that passes every rule (so every rule runs to the end), timed in loops of
  `calls` back-to-back calls; the sample is the mean per call of one loop. Baseline: `lo <= v <= hi`
  on the same value and limits, timed the same way.
- `validate_batch_1000`: 1,000 distinct proposals (seeded: 80 % small moves that pass, 15 % larger
  moves that become ramps or exceed the budget, 5 % out of range or not finite), validated in one
  `validate_many` call (the same chain; what the proposals share is worked out once per source). Its
  decisions are checked equal to `validate`'s one by one before timing. Baseline: the bare range check
  over the same 1,000 values.
- `validate_history_<n>`: the accepted proposal again with `n` confirmed writes in the history (one per
  scan, as a tag moved at every scan for `n` seconds keeps): the gateway retains up to 7,200 s of writes.
"""

from __future__ import annotations

import math
import random
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from benchmarks.figure import Figure, figure
from otgate.core.decision import Decision
from otgate.core.modes import LoopMode, PlcMode
from otgate.core.plant import Plant, compile_plant
from otgate.core.proposal import History, Proposal, Snapshot, WriteEvent
from otgate.core.validation import validate, validate_many
from otgate_simulator.simulation import default_config

NOW = 1_800_000_000.0
TAG = "LIC-101.RSP"
READBACK = 650.0


@dataclass(frozen=True)
class Size:
    calls: int = 2_000  # calls per timed loop
    loops: int = 60  # timed loops (samples)
    batches: int = 40  # timed batches of 1,000
    batch: int = 1_000
    histories: tuple[int, ...] = (600, 7_200)


TINY = Size(calls=5, loops=3, batches=2, batch=20, histories=(5,))


def tank() -> Plant:
    return compile_plant(default_config("tank"))


def snapshot() -> Snapshot:
    values = {
        "LIT-101": 640.0,
        "LIC-101.SP": READBACK,
        "LIC-101.MODE": float(PlcMode.REMOTE),
        "FT-101": 40.0,
        "FT-102": 40.0,
    }
    return Snapshot(NOW - 0.2, values, loop_modes={"LIC-101": LoopMode.AI})


def history(writes: int) -> History:
    """`writes` confirmed writes, one per second ending 5 s ago, alternating around the read-back."""
    events = deque(
        WriteEvent(NOW - 5.0 - (writes - i), READBACK + 0.4 * (i % 2), READBACK + 0.4 * ((i + 1) % 2))
        for i in range(writes)
    )
    seen = {f"old-{i}" for i in range(1_000)}
    return History(frozenset(seen), {TAG: events} if writes else {}, frozenset())


def proposal(i: int, value: float) -> Proposal:
    return Proposal(f"rec-{i}", "optimizer", TAG, value, issued_at=NOW - 1.0, basis_at=NOW - 1.5)


def batch_values(count: int, seed: int = 5) -> list[float]:
    rng = random.Random(seed)
    values = []
    for _ in range(count):
        draw = rng.random()
        if draw < 0.80:
            values.append(READBACK + rng.choice((-1, 1)) * rng.uniform(0.25, 0.5))
        elif draw < 0.95:
            values.append(READBACK + rng.uniform(-60.0, 60.0))
        elif draw < 0.98:
            values.append(rng.uniform(850.0, 1000.0))
        else:
            values.append(math.nan)
    return values


def _loop_seconds(body: Callable[[], object], repeat: int) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        body()
    return time.perf_counter() - started


def _per_call_us(
    body: Callable[[], object], baseline: Callable[[], object], calls: int, loops: int
) -> tuple[list[float], list[float]]:
    """Mean us per call of `loops` loops of `calls` calls, body and baseline loops alternating."""
    ours: list[float] = []
    bare: list[float] = []
    for _ in range(loops):
        ours.append(_loop_seconds(body, calls) / calls * 1e6)
        bare.append(_loop_seconds(baseline, calls) / calls * 1e6)
    return ours, bare


def run(size: Size = Size()) -> list[Figure]:
    plant, snap = tank(), snapshot()
    rules = plant.config.tags[TAG].setpoint
    if rules is None:
        raise RuntimeError(f"{TAG} is no longer a setpoint in tank.yaml")
    lo, hi = rules.limits.lo, rules.limits.hi
    base_history = history(10)
    good = proposal(0, READBACK + 0.4)
    if not validate(good, snap, plant, base_history, NOW).is_write:
        raise RuntimeError("benchmark proposal was not accepted: the inputs no longer match tank.yaml")
    value = good.value

    def one() -> object:
        return validate(good, snap, plant, base_history, NOW)

    def bare() -> object:
        return lo <= value <= hi

    _loop_seconds(one, size.calls)  # warm up: first calls pay for caches and lazy imports

    figures = [
        figure(
            "validate",
            "us",
            *_per_call_us(one, bare, size.calls, size.loops),
            target=20.0,
            what="median us per validate() call, accepted proposal, every rule evaluated",
        )
    ]
    values = batch_values(size.batch)
    proposals = [proposal(i, v) for i, v in enumerate(values)]
    figures.append(_batch_figure(size, proposals, values, plant, snap, base_history, lo, hi))
    for writes in size.histories:
        past = history(writes)

        def with_history(past: History = past) -> object:
            return validate(good, snap, plant, past, NOW)

        figures.append(
            figure(
                f"validate_history_{writes}",
                "us",
                *_per_call_us(with_history, bare, max(1, size.calls // 10), size.loops),
                what=f"median us per call with {writes} confirmed writes of the tag in the history",
            )
        )
    return figures


def _batch_figure(
    size: Size,
    proposals: Sequence[Proposal],
    values: Sequence[float],
    plant: Plant,
    snap: Snapshot,
    past: History,
    lo: float,
    hi: float,
) -> Figure:
    def batch() -> list[Decision]:
        return validate_many(proposals, snap, plant, past, NOW)

    if batch() != [validate(p, snap, plant, past, NOW) for p in proposals]:
        raise RuntimeError("validate_many no longer gives validate's decisions")

    def bare_batch() -> object:
        return [lo <= v <= hi for v in values]

    ours_us, bare_us = _per_call_us(batch, bare_batch, 1, size.batches)
    verdicts: dict[str, int] = {}
    for decision in batch():
        verdicts[decision.verdict.value] = verdicts.get(decision.verdict.value, 0) + 1
    return figure(
        f"validate_batch_{size.batch}",
        "ms",
        [us / 1e3 for us in ours_us],
        [us / 1e3 for us in bare_us],
        target=2.0 if size.batch == 1_000 else None,
        what=f"median ms to validate {size.batch} distinct proposals (mixed verdicts)",
        extra={"verdicts": verdicts},
    )
