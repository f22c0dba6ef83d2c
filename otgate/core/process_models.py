"""The predictive sections of a plant config: step-response models, the operating envelope, the horizon.

Control engineers write them per plant (docs/PREDICTION.md): `otgate identify` fits the models from bump
tests. The envelope is the region the AI was commissioned for, narrower than the alarm limits, which are
narrower than the trips; the gateway's look-ahead keeps AI moves inside it.
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

Name = Annotated[str, Field(min_length=1, max_length=64)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ProcessModel(_Strict):
    """A step response from an input to an output, closed loop as the PLC runs it.

    `input` is an AI-writable setpoint or a measured disturbance (a measurement tag); `output` a measured,
    constrained variable. A unit change of the input moves the output by `gain` in the end, starting after
    `dead_time_s`: first order plus dead time, 63 % of the way `tau_s` later; or, with `damping` (the
    damping ratio, 0 < damping < 1), an underdamped second order K e^(-θs) / (τ²s² + 2ζτs + 1) that
    overshoots and swings with a period of 2π·tau_s / sqrt(1 - damping²) as it settles (a response that
    does not overshoot is two first-order terms). Several entries for the same pair are terms of one step
    response, summed (a fast negative term and a slow positive one draw inverse response; an oscillating
    term and a first-order one, a slow swing on a quicker rise)."""

    input: Name
    output: Name
    gain: Finite
    tau_s: NonNegative
    dead_time_s: NonNegative = 0.0
    damping: Annotated[float, Field(gt=0.0, lt=1.0, allow_inf_nan=False)] | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.gain == 0:
            raise ValueError("gain 0 is no model: leave the pair out")
        if self.input == self.output:
            raise ValueError("a model's input and output must differ")
        if self.damping is not None and self.tau_s == 0:
            raise ValueError("an oscillating term (damping) needs a tau_s above 0")
        return self


class EnvelopeLimit(_Strict):
    """The region the AI may operate a constrained variable in (at least one side)."""

    lo: Finite | None = None
    hi: Finite | None = None
    # Outside the envelope for this long (measured), the AI is disengaged from the loops that affect it.
    persistence_s: Positive = 30.0
    # Predicted to leave it within this long on its present course (no further move): disengaged too.
    approach_s: Positive | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.lo is None and self.hi is None:
            raise ValueError("an envelope limit needs lo, hi or both")
        if self.lo is not None and self.hi is not None and not self.lo < self.hi:
            raise ValueError(f"lo {self.lo:g} must be below hi {self.hi:g}")
        return self


class PredictionSettings(_Strict):
    # How far ahead every AI move is judged; default: the slowest model's dead time plus 4 time constants.
    horizon_s: Positive | None = None
    # The model-based loop-response monitor (LOOP_NOT_RESPONDING). Off by default: an unmeasured
    # disturbance working against a move looks like a stuck actuator to it; turn it on where the models
    # include the disturbances that matter.
    loop_response: bool = False
    # The prediction-error monitor (MODEL_MISMATCH). Off by default for the same reason: an unmeasured
    # disturbance that moves a modelled variable is, to it, a model that no longer fits.
    model_mismatch: bool = False


def model_problems(
    models: list[ProcessModel],
    envelope: dict[str, EnvelopeLimit],
    kinds: dict[str, str],
    alarms: dict[str, tuple[float, float]],
) -> list[tuple[tuple[str | int, ...], str]]:
    """Cross-section checks of the predictive sections, as (config path, message); `kinds` maps every
    tag to its kind, `alarms` a measurement to its alarm band."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    seen: set[tuple[str, str, float, float, float | None]] = set()
    for index, model in enumerate(models):
        path: tuple[str | int, ...] = ("models", index)
        if kinds.get(model.input) not in ("setpoint", "measurement"):
            problems.append(((*path, "input"), f"'{model.input}' must be a setpoint or measurement tag"))
        if kinds.get(model.output) != "measurement":
            problems.append(((*path, "output"), f"'{model.output}' must be a measurement tag"))
        # Entries for one pair add up (terms of its step response); two of the same form, time constant
        # and dead time are one term written twice, a copy-and-paste slip rather than a model.
        term = (model.input, model.output, model.tau_s, model.dead_time_s, model.damping)
        if term in seen:
            message = (
                f"a second term from {model.input} to {model.output} with the same tau_s, dead_time_s and damping:"
                " merge their gains"
            )
            problems.append((path, message))
        seen.add(term)
    for name, limit in envelope.items():
        if kinds.get(name) != "measurement":
            problems.append((("envelope", name), f"'{name}' must be a measurement tag"))
            continue
        band = alarms.get(name)
        if band is None:
            continue
        # The envelope is where the AI may operate: inside the alarms, which lie inside the trips.
        if (limit.hi is not None and limit.hi >= band[1]) or (limit.lo is not None and limit.lo <= band[0]):
            message = f"the envelope must lie strictly inside the alarm limits {band[0]:g}..{band[1]:g}"
            problems.append((("envelope", name), message))
    return problems
