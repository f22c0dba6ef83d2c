"""Look-ahead over step-response models: where each constrained variable is going, and which setpoint
moves keep it inside the operating envelope.

The models are sums of step-response terms (`step_response`: first order plus dead time, and underdamped
second order), each with s(t) its response to a unit step of its input.

By superposition, the prediction of an output y over a horizon is

    y(t) = y(now)
         + sum over inputs u, over u's recent changes du_i at t_i <= now:  du_i * (s(now - t_i + t) - s(now - t_i))
         + sum over inputs u, over moves already decided but not yet made (ramps, queued writes of any engine):
               du_j * s(t)                                  (taken as if made now: never later than reality)
         + the residual trend r * tau_r * (1 - exp(-t/tau_r))
         + the proposed move dp * g(t),   g(t) = sum of the proposed input's step responses into y

where the residual trend r is the output's measured slope minus the slope the model explains from the
recent changes, decaying with the output's slowest time constant tau_r (for an oscillating term, that of
its decay: `StepModel.decay_s`; an unexplained drift is neither ignored nor extrapolated forever). The
slope is fitted over a window that grows with tau_r (`trend_window_s`) and counted only when it stands
clear of what the measured noise alone would give (`SIGNIFICANCE` standard errors): extrapolated over
tau_r, the slope's noise is multiplied by tau_r, and on a plant with time constants of half an hour a 30 s
slope of a 1 kPa-noise transmitter would forecast +-100 kPa of nothing.

Inputs are remembered as change points (`process_memory`): a setpoint is piecewise constant, so its
history is the few instants it moved, each with the sample before it; the sums above then cost one term
per change, not one per sample of a model's settling time. Everything but the last term is the *base*
prediction, computed once per scan (`forecast`); the proposed move enters linearly, so the admissible moves
form one interval per output, and their intersection is the admissible interval (`admissible_move`).

A move is admissible when, at every point of the horizon and for every constrained output, it keeps the
prediction inside the envelope, or, where the base prediction already lies outside, does not push it
further out: corrective moves stay possible when the process is already on its way out (the envelope guard,
not this rule, takes the AI off then).

Pure: plain data in, plain data out; numpy for the sums.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from otgate.core.series import Series
from otgate.core.step_response import INSTANT_S, StepModel, mode, slope, step

Samples = Sequence[tuple[float, float]] | Series  # (time, value), oldest first
GRID_POINTS = 40
_NEGLIGIBLE = 1e-9  # a response smaller than this (before the dead time, far below any unit) bounds nothing
TREND_WINDOW_S = 30.0  # the shortest window the trend is fitted over
TREND_WINDOW_SHARE = 0.125  # of the output's slowest time constant: the window of slow outputs
SIGNIFICANCE = 3.0  # standard errors the residual slope must exceed to be extrapolated
FOLD_LIMIT = 600.0  # decay constants of dead time still ahead beyond which e^(-lambda g) is not formed


@dataclass(frozen=True, slots=True)
class Bound:
    lo: float | None = None
    hi: float | None = None


@dataclass(frozen=True, slots=True)
class Forecast:
    """The free prediction of every constrained output on a grid of future times (seconds from now): what
    the changes already seen will still do, and the unexplained trend. Moves decided but not yet made are
    added per proposal (`with_queued`), so a proposal supersedes its own tag's queued move."""

    times: NDArray[np.float64]
    base: Mapping[str, NDArray[np.float64]]  # output -> prediction without any new move


@dataclass(frozen=True, slots=True)
class Excursion:
    output: str
    at_s: float  # seconds from now
    value: float
    limit: float

    @property
    def by(self) -> float:
        return self.value - self.limit


def horizon_s(models: Sequence[StepModel], configured: float | None = None) -> float:
    if configured is not None:
        return configured
    return max((m.reach_s for m in models), default=0.0)


def recent(samples: Samples, now: float, window_s: float) -> list[tuple[float, float]]:
    """The finite samples at most `window_s` old, oldest first; read from the newest end, so the cost is
    that of the window, not of everything kept."""
    found = []
    for t, v in reversed(samples):
        if now - t > window_s:
            break
        if math.isfinite(v):
            found.append((t, v))
    found.reverse()
    return found


def window(samples: Samples, now: float, window_s: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Times and values of the finite samples at most `window_s` old, oldest first, as arrays."""
    if isinstance(samples, Series):
        times, values = samples.since(now - window_s)
    else:
        kept = recent(samples, now, window_s)
        times, values = np.array([t for t, _ in kept]), np.array([v for _, v in kept])
    finite = np.isfinite(values)
    return (times, values) if bool(finite.all()) else (times[finite], values[finite])


def changes(samples: Samples, now: float, memory_s: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Ages (now - t) and sizes of the changes between consecutive samples within `memory_s`: every
    sample, or change points (each change with the sample before it), which give the same changes."""
    times, values = window(samples, now, memory_s)
    if times.size < 2:
        return np.zeros(0), np.zeros(0)
    return now - times[1:], np.diff(values)


def trend_window_s(tau_s: float) -> float:
    """How far back the trend of an output with slowest time constant `tau_s` is fitted: long enough that
    the noise extrapolated over tau_s stays small, short against tau_s so a new drift shows soon."""
    return max(TREND_WINDOW_S, TREND_WINDOW_SHARE * tau_s)


def measured_trend(
    samples: Samples, now: float, window_s: float = TREND_WINDOW_S
) -> tuple[float, float] | None:
    """Least-squares slope of the recent samples and its standard error from the measured noise (None with
    fewer than three: no trend is known). The noise comes from consecutive differences, so a drift does
    not count as noise."""
    at, values = window(samples, now, window_s)
    if at.size < 3:
        return None
    times = at - now
    centred = times - times.mean()
    denominator = float(centred @ centred)
    if denominator == 0.0:
        return 0.0, 0.0
    sigma = float(np.std(np.diff(values))) / math.sqrt(2.0)
    return float(centred @ (values - values.mean()) / denominator), sigma / math.sqrt(denominator)


def residual_trend(explained: float, trend: tuple[float, float] | None) -> float:
    """The slope the models do not explain, or 0 where it is within `SIGNIFICANCE` standard errors of
    nothing: noise must not be extrapolated over a time constant."""
    if trend is None:
        return 0.0
    residual = trend[0] - explained
    return residual if abs(residual) > SIGNIFICANCE * trend[1] else 0.0


def still_to_come(
    model: StepModel, ages: NDArray[np.float64], sizes: NDArray[np.float64], times: NDArray[np.float64]
) -> NDArray[np.float64]:
    """sum_i size_i * (s(age_i + t) - s(age_i)): what past changes will still do at each future time.

    A change past its dead time is on the exponential, where s(a + t) - s(a) = K Re[A e^(lambda (a - theta))
    (1 - e^(lambda t))] separates: those changes fold into one (complex) weight times one curve. A change
    still inside its dead time starts g = theta - a from now, and adds K (1 - Re[A e^(-lambda g) e^(lambda
    t)]) from t = g on: sorted by g, the changes started by each grid time are a prefix, so running sums
    give every grid time at once (`_arriving`). The cost is one scalar per change plus one curve per model,
    not a grid per change: a setpoint ramped over a long dead time is thousands of changes."""
    started = ages >= model.dead_time_s
    total = np.zeros_like(times)
    if np.any(started) and model.tau_s >= INSTANT_S:
        since = ages[started] - model.dead_time_s
        if model.damping is None:
            weight = float(sizes[started] @ np.exp(-since / model.tau_s))
            total += weight * model.gain * (1.0 - np.exp(-times / model.tau_s))
        else:
            a, pole = mode(model)
            folded = a * complex(sizes[started] @ np.exp(pole * since))
            total += model.gain * np.real(folded * (1.0 - np.exp(pole * times)))
    waiting = ~started
    if np.any(waiting):
        total += _arriving(model, ages[waiting], sizes[waiting], times)
    return total


def _arriving(
    model: StepModel, ages: NDArray[np.float64], sizes: NDArray[np.float64], times: NDArray[np.float64]
) -> NDArray[np.float64]:
    """sum_i size_i * s(age_i + t) for changes still inside their dead time (s(age_i) = 0 for them)."""
    gaps = model.dead_time_s - ages
    if model.tau_s < INSTANT_S or float(gaps.max()) > FOLD_LIMIT * model.decay_s:
        # A pure delayed gain, or a dead time so long against the decay that e^(-lambda g) would overflow.
        grid: NDArray[np.float64] = sizes @ step(model, ages[:, None] + times[None, :])
        return grid
    order = np.argsort(gaps)
    gaps, sizes = gaps[order], sizes[order]
    started = np.searchsorted(gaps, times, side="right")  # changes with g <= t have begun at t
    a, pole = mode(model)
    begun = np.concatenate(([0.0], np.cumsum(sizes)))[started]
    weights = np.concatenate(([0.0], np.cumsum(sizes * np.exp(-pole * gaps))))[started]
    arriving: NDArray[np.float64] = model.gain * (begun - np.real(a * weights * np.exp(pole * times)))
    return arriving


def forecast(
    models: Sequence[StepModel],
    outputs: Mapping[str, float],
    history: Mapping[str, Samples],
    now: float,
    horizon: float,
) -> Forecast:
    """The free prediction of each output in `outputs` (its current value) over `horizon` seconds, from
    `history`, recent samples of every model input and output."""
    times = np.linspace(horizon / GRID_POINTS, horizon, GRID_POINTS) if horizon > 0 else np.zeros(0)
    base: dict[str, NDArray[np.float64]] = {}
    for output, current in outputs.items():
        into = [m for m in models if m.output == output]
        prediction = np.full_like(times, current)
        explained = 0.0
        for model in into:
            ages, sizes = changes(history.get(model.input, ()), now, model.settle_s)
            if sizes.size:
                prediction += still_to_come(model, ages, sizes, times)
                explained += float(sizes @ slope(model, ages))
        tau_r = max((m.decay_s for m in into), default=0.0)
        trend = measured_trend(history.get(output, ()), now, trend_window_s(tau_r))
        residual = residual_trend(explained, trend)
        if tau_r >= INSTANT_S and residual:
            prediction += residual * tau_r * (1.0 - np.exp(-times / tau_r))
        base[output] = prediction
    return Forecast(times, base)


def with_queued(
    models: Sequence[StepModel], fc: Forecast, output: str, queued: Mapping[str, float], proposing: str
) -> NDArray[np.float64]:
    """The base of `output` plus every queued move but the proposing input's own (taken as made now:
    never later than reality, so never a smaller response within the horizon)."""
    total = np.array(fc.base[output], copy=True)
    for input_tag, move in queued.items():
        if input_tag != proposing and move:
            total += move * response(models, input_tag, output, fc.times)
    return total


def response(
    models: Sequence[StepModel], input_tag: str, output: str, times: NDArray[np.float64]
) -> NDArray[np.float64]:
    """g(t): the output's response to a unit move of `input_tag` made now."""
    total = np.zeros_like(times)
    for model in models:
        if model.input == input_tag and model.output == output:
            total += step(model, times)
    return total


def admissible_move(
    models: Sequence[StepModel],
    envelope: Mapping[str, Bound],
    fc: Forecast,
    input_tag: str,
    queued: Mapping[str, float] | None = None,
) -> tuple[float, float]:
    """The interval of moves of `input_tag` (from its current value) that keep every output it reaches
    inside the envelope, or not further out than the base prediction already goes."""
    lo, hi = -math.inf, math.inf
    for output, bound in envelope.items():
        if output not in fc.base:
            continue
        g = response(models, input_tag, output, fc.times)
        if not np.any(g):
            continue
        base = with_queued(models, fc, output, queued or {}, input_tag)
        for limit, upper in ((bound.hi, True), (bound.lo, False)):
            if limit is None:
                continue
            # upper: g*d <= room (room >= 0); lower: g*d >= room (room <= 0). Dividing by g flips the
            # inequality where g < 0.
            room = np.maximum(limit - base, 0.0) if upper else np.minimum(limit - base, 0.0)
            rising, falling = g > _NEGLIGIBLE, g < -_NEGLIGIBLE  # no response yet: nothing to bound
            caps = room[rising] / g[rising] if upper else room[falling] / g[falling]
            floors = room[falling] / g[falling] if upper else room[rising] / g[rising]
            if caps.size:
                hi = min(hi, float(caps.min()))
            if floors.size:
                lo = max(lo, float(floors.max()))
    return lo, hi


def worst_excursion(
    models: Sequence[StepModel],
    envelope: Mapping[str, Bound],
    fc: Forecast,
    input_tag: str,
    move: float,
    queued: Mapping[str, float] | None = None,
) -> Excursion | None:
    """Where the prediction with `move` goes furthest beyond the envelope (None when it stays inside)."""
    worst: Excursion | None = None
    for output, bound in envelope.items():
        if output not in fc.base:
            continue
        base = with_queued(models, fc, output, queued or {}, input_tag)
        predicted = base + move * response(models, input_tag, output, fc.times)
        for limit, sign in ((bound.hi, 1.0), (bound.lo, -1.0)):
            if limit is None or not predicted.size:
                continue
            excess = sign * (predicted - limit)
            k = int(np.argmax(excess))
            if excess[k] > 0 and (worst is None or excess[k] > abs(worst.by)):
                worst = Excursion(output, float(fc.times[k]), float(predicted[k]), limit)
    return worst
