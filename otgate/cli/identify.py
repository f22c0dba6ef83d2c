"""`otgate identify`: fit the step-response models of a plant config from bump tests, as a control engineer
does in commissioning: on the simulator (`--sim`), or from a recorded CSV of timestamps and tag values.

Prints each fit with its error and writes a `models:` section to merge into the plant config.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from otgate.config.loader import ConfigError, load_config_file
from otgate.core.config import PlantConfig
from otgate.core.identification import Fit, TermsFit, fit_fopdt, fit_one_term, fit_two_terms

SETTLE_S = 600.0  # let the simulated plant come to rest before the bump
RECORD_S = 1800.0  # enough for the CSTR; slow plants need hours (--record)
REST_S = 60.0
FIT_POINTS = 1800  # a longer record is fitted on a coarser grid: the fit's cost grows with the points squared
BUMP_SHARE = 0.05  # of the setpoint's hard-limit span, unless --bump says otherwise


@dataclass(frozen=True)
class Pair:
    input: str
    output: str


def pairs_of(config: PlantConfig) -> list[Pair]:
    """The pairs to identify: the config's own models, else each loop setpoint into each enveloped
    variable (or, without an envelope, into its own loop's PV)."""
    if config.models:
        # A pair of several terms is identified once (with --terms as many as it should have).
        return list(dict.fromkeys(Pair(m.input, m.output) for m in config.models))
    outputs = list(config.envelope)
    return [
        Pair(loop.sp, output)
        for loop in config.loops.values()
        for output in (outputs or [loop.pv])
        if config.tags[loop.sp].access.value == "write"
    ]


@dataclass(frozen=True)
class Lengths:
    settle_s: float = SETTLE_S
    record_s: float = RECORD_S


@dataclass(frozen=True)
class Record:
    """A bump test on a regular grid, with the search ceilings its length allows."""

    u: np.ndarray[Any, np.dtype[np.float64]]
    y: np.ndarray[Any, np.dtype[np.float64]]
    dt_s: float
    max_dead_time_s: float
    max_tau_s: float

    def fit(self) -> Fit:
        return fit_fopdt(self.u, self.y, self.dt_s, self.max_dead_time_s, self.max_tau_s)

    def fit_terms(self, terms: int, second_order: bool) -> TermsFit:
        fit = fit_two_terms if terms == 2 else fit_one_term
        return fit(self.u, self.y, self.dt_s, self.max_dead_time_s, self.max_tau_s, second_order=second_order)


def bump_test(
    config: PlantConfig, plant: str, pair: Pair, bump: float | None, seed: int, lengths: Lengths = Lengths()
) -> Fit:
    """Bump the input's loop on a fresh simulation and fit one FOPDT term to the output's response."""
    return bump_record(config, plant, pair, bump, seed, lengths).fit()


def bump_record(
    config: PlantConfig, plant: str, pair: Pair, bump: float | None, seed: int, lengths: Lengths = Lengths()
) -> Record:
    """Bump the input's loop on a fresh simulation (its local setpoint, the loop in AUTO as the PLC runs
    it) and record the output's response. The record must cover the response: a time constant of a third
    of it at most, a dead time of a twenty-fourth (at least 120 s)."""
    from otgate_simulator.simulation import Simulation  # the simulator is only needed for --sim

    loop_name = next((n for n, loop in config.loops.items() if loop.sp == pair.input), None)
    if loop_name is None:
        raise ValueError(f"{pair.input} is not a loop setpoint: bump it in the plant and use --csv")
    loop = config.loops[loop_name]
    rules = config.tags[pair.input].setpoint
    size = bump if bump is not None else BUMP_SHARE * (rules.limits.hi - rules.limits.lo) if rules else 1.0
    sim = Simulation(plant, seed=seed, config=config)
    sim.run(lengths.settle_s)
    start = sim.read_tag(loop.working_sp)
    target = min(rules.limits.hi, start + size) if rules else start + size
    u, y = [], []
    for _ in range(int(REST_S / sim.dt_s)):  # the rest level, measured before the bump
        sim.tick()
        u.append(start)
        y.append(sim.read_tag(pair.output))
    sim.set_local_setpoint(loop_name, target)
    for _ in range(int(lengths.record_s / sim.dt_s)):
        sim.tick()
        # The input as the gateway sees it: the working setpoint (after the PLC's own ramp and clamps).
        u.append(sim.read_tag(loop.working_sp))
        y.append(sim.read_tag(pair.output))
    every = max(1, round(len(u) / FIT_POINTS))
    return Record(
        np.array(u[::every]),
        np.array(y[::every]),
        sim.dt_s * every,
        max_dead_time_s=max(120.0, lengths.record_s / 24),
        max_tau_s=lengths.record_s / 3,
    )


def csv_fit(path: Path, pair: Pair) -> Fit:
    return csv_record(path, pair).fit()


def csv_record(path: Path, pair: Pair) -> Record:
    """Fit from a CSV with a `time_s` column and one column per tag, sampled on a regular grid."""
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or not {"time_s", pair.input, pair.output} <= set(rows[0]):
        raise ValueError(f"{path}: needs columns time_s, {pair.input} and {pair.output}")
    times = np.array([float(r["time_s"]) for r in rows])
    steps = np.diff(times)
    if len(steps) == 0 or np.ptp(steps) > 1e-6 * max(1.0, float(steps.mean())):
        raise ValueError(f"{path}: samples must be on a regular time grid")
    u = np.array([float(r[pair.input]) for r in rows])
    y = np.array([float(r[pair.output]) for r in rows])
    span = float(times[-1] - times[0])
    return Record(u, y, float(steps.mean()), max_dead_time_s=span / 4, max_tau_s=span / 3)


def models_yaml(fits: Iterable[tuple[Pair, Fit]]) -> str:
    """The models section; a pair fitted with two terms appears twice, once per term (they add up)."""
    lines = ["models:"]
    for pair, fit in fits:
        damping = "" if fit.damping is None else f", damping: {fit.damping:.3g}"
        lines.append(
            f"  - {{input: {pair.input}, output: {pair.output}, gain: {fit.gain:.4g}, "
            f"tau_s: {fit.tau_s:.3g}, dead_time_s: {fit.dead_time_s:.3g}{damping}}}"
        )
    return "\n".join(lines) + "\n"


def _describe(fit: Fit) -> str:
    damping = "" if fit.damping is None else f", damping {fit.damping:.3g}"
    return f"gain {fit.gain:.4g}, tau {fit.tau_s:.3g} s{damping}, dead time {fit.dead_time_s:.3g} s"


def _fit_pair(record: Record, pair: Pair, terms: int, second_order: bool) -> list[Fit]:
    """One first-order term, or the terms asked for (printing their fit error against one first-order
    term's, so the engineer sees what they buy)."""
    one = record.fit()
    head = f"{pair.input} -> {pair.output}:"
    quality = f"(rms {one.rms:.3g}, explains {100 * one.explained:.1f} %)"
    print(f"{head} {_describe(one)} {quality}", file=sys.stderr)
    if terms == 1 and not second_order:
        return [one]
    fit = record.fit_terms(terms, second_order)
    described = " + ".join(_describe(term) for term in fit.terms)
    print(
        f"{head} {'two terms' if terms == 2 else 'one term'}: {described} "
        f"(rms {fit.rms:.3g}, explains {100 * fit.explained:.1f} %; "
        f"one first-order term: rms {one.rms:.3g})",
        file=sys.stderr,
    )
    return list(fit.terms)


def cmd_identify(args: argparse.Namespace) -> int:
    try:
        config = load_config_file(args.config).config
    except ConfigError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return 1
    pairs = [Pair(i, o) for i, o in (p.split(":", 1) for p in args.pair)] if args.pair else pairs_of(config)
    fits: list[tuple[Pair, Fit]] = []
    for pair in pairs:
        try:
            record = (
                csv_record(args.csv, pair)
                if args.csv
                else bump_record(
                    config, config.plant, pair, args.bump, args.seed, Lengths(args.settle, args.record)
                )
            )
            fits.extend((pair, fit) for fit in _fit_pair(record, pair, args.terms, args.second_order))
        except ValueError as error:
            print(f"otgate identify: {pair.input} -> {pair.output}: {error}", file=sys.stderr)
            return 1
    text = models_yaml(fits)
    if args.out:
        Path(args.out).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def add_identify_command(commands: Any) -> None:
    identify = commands.add_parser(
        "identify",
        help="fit the plant's step-response models from bump tests (simulator or CSV)",
        description=(
            "Fit step-response models (gain, time constant, dead time; first order, or with --second-order an\n"
            "underdamped second order where it fits better) from each setpoint or\n"
            "measured disturbance to each constrained variable, as in commissioning bump tests: on the\n"
            "simulator (--sim: a bump of each loop's setpoint, the loop as the PLC runs it) or from a recorded\n"
            "CSV (--csv: a time_s column and one column per tag). Prints each fit with its error and writes a\n"
            "models: section to merge into the plant config."
        ),
        epilog=(
            "examples:\n  otgate identify --config plant_configs/cstr.yaml --sim\n"
            "  otgate identify --config plant_configs/ricker.yaml --sim --settle 3600 --record 14400\n"
            "  otgate identify --config plant_configs/ricker.yaml --sim --settle 3600 --record 43200 \\\n"
            "      --pair FIC-204.RSP:PT-201 --terms 2\n"
            "  otgate identify --config plant_configs/ricker.yaml --sim --settle 3600 --record 259200 \\\n"
            "      --pair PIC-201.RSP:PT-201 --terms 2 --second-order"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    identify.add_argument("--config", type=Path, required=True, help="the plant config whose models to fit")
    source = identify.add_mutually_exclusive_group(required=True)
    source.add_argument("--sim", action="store_true", help="bump the simulated plant (default: off)")
    source.add_argument("--csv", type=Path, help="a recorded bump test (default: none)")
    identify.add_argument(
        "--pair", action="append", default=[], help="INPUT:OUTPUT to fit, repeatable (default: the config's)"
    )
    identify.add_argument(
        "--bump", type=float, default=None, help="--sim bump size (default: 5 %% of the setpoint's limits)"
    )
    identify.add_argument("--seed", type=int, default=1, help="--sim noise seed (default 1)")
    identify.add_argument(
        "--settle", type=float, default=SETTLE_S, help="--sim rest before the bump, s (default 600)"
    )
    identify.add_argument(
        "--record",
        type=float,
        default=RECORD_S,
        help="--sim record after the bump, s (default 1800; hours for slow plants)",
    )
    identify.add_argument(
        "--terms",
        type=int,
        choices=(1, 2),
        default=1,
        help="terms per pair: 2 draws inverse response and overshoot (default 1)",
    )
    identify.add_argument(
        "--second-order",
        action="store_true",
        help="also try underdamped second-order terms: a response that swings as it settles (default: off)",
    )
    identify.add_argument(
        "--out", type=Path, default=None, help="write the models section here (default: stdout)"
    )
    identify.set_defaults(handler=cmd_identify)
