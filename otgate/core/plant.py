"""A loaded plant config compiled for fast, repeated validation: lookups built and expressions parsed once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from otgate.core.config import Engine, Loop, PlantConfig, Tag
from otgate.core.expression import Expression, parse_expression
from otgate.core.prediction import Bound, horizon_s
from otgate.core.step_response import StepModel


@dataclass(frozen=True, slots=True)
class CompiledInterlock:
    name: str
    expression: Expression
    direction: Literal["any", "increase", "decrease"]


@dataclass(frozen=True, slots=True)
class Plant:
    config: PlantConfig
    loop_by_setpoint: dict[str, tuple[str, Loop]] = field(default_factory=dict)
    interlocks_by_tag: dict[str, tuple[CompiledInterlock, ...]] = field(default_factory=dict)
    models: tuple[StepModel, ...] = ()
    envelope: dict[str, Bound] = field(default_factory=dict)
    horizon_s: float = 0.0

    @property
    def is_predictive(self) -> bool:
        return bool(self.models and self.envelope)

    def reaches_envelope(self, input_tag: str) -> bool:
        """Whether a move of `input_tag` moves any variable the envelope constrains."""
        return any(m.input == input_tag and m.output in self.envelope for m in self.models)

    @property
    def write_period_s(self) -> float:
        return self.config.gateway.scan_interval_s

    def tag(self, name: str) -> Tag | None:
        return self.config.tags.get(name)

    def engine(self, name: str) -> Engine | None:
        return self.config.engines.get(name)


def compile_plant(config: PlantConfig) -> Plant:
    loops = {loop.sp: (name, loop) for name, loop in config.loops.items()}
    by_tag: dict[str, list[CompiledInterlock]] = {}
    for name, interlock in config.interlocks.items():
        compiled = CompiledInterlock(name, parse_expression(interlock.when), interlock.direction)
        for tag in interlock.blocks:
            by_tag.setdefault(tag, []).append(compiled)
    models = tuple(
        StepModel(m.input, m.output, m.gain, m.tau_s, m.dead_time_s, m.damping) for m in config.models
    )
    envelope = {name: Bound(limit.lo, limit.hi) for name, limit in config.envelope.items()}
    horizon = horizon_s(models, config.prediction.horizon_s)
    interlocks = {tag: tuple(items) for tag, items in by_tag.items()}
    return Plant(config, loops, interlocks, models, envelope, horizon)
