"""Bring your own plant: an FMI 2.0 co-simulation FMU as the process, with a shipped PLC program on top.

The FMU replaces only the physics. The virtual PLC (loops, modes, watchdog, trips, clamps), the register
map and the OPC UA nodes are those of a shipped plant (`program:`, e.g. `tank` = plant_configs/tank.yaml and
simulator/programs/tank.py), so the gateway, the scenarios and the HIL runner see the same tags as for the
built-in model. A plant spec file says how the FMU's variables meet the PLC:

    apiVersion: hil.otgate/v1
    kind: FmuPlant
    fmu: Tank.fmu                       # relative to this file
    program: tank                       # the PLC program and register map on top
    inputs:                             # FMU input  <- PLC output / trip / disturbance, * scale + offset
      valve_cmd: {output: LIC-101.OUT, scale: 0.01}
      pump_on:   {trip_clear: LSLL-101}             # 1 while the trip is clear, 0 when it has latched
      extra_inflow_m3h: {disturbance: extra_inflow_m3h}
    measurements:                       # measurement tag <- FMU output * scale + offset (the true reading)
      LIT-101: {var: level_m, scale: 1000.0}
    true_values: {h_m: level_m}         # trace `true.<name>` <- FMU output
    trips:                              # trip tag <- FMU output above / below a value (the switch)
      LSHH-101: {var: level_m, above: 1.2}
    actuators:                          # output tag <- FMU output * scale (its true position)
      LIC-101.OUT: {var: valve, scale: 100.0}

In lock-step, every PLC scan (0.5 s of plant time) is one `doStep` of the FMU; the FMU integrates inside
the step as it likes. FMUs are loaded with fmpy. An FMU is stateful (it is a foreign simulator), so the
binding's "state" is the FMU's outputs after the last step, read back after every step.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from ruamel.yaml import YAML

from otgate_simulator.plc import LoopSpec
from otgate_simulator.programs import PlantBinding, binding_for


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class InputSource(_Model):
    output: str | None = None  # a PLC output tag
    trip_clear: str | None = None  # 1.0 while this trip is clear, 0.0 when latched
    disturbance: str | None = None  # a disturbance of the program (scenario process.* actions)
    constant: float | None = None
    scale: float = 1.0
    offset: float = 0.0

    @model_validator(mode="after")
    def _one_source(self) -> InputSource:
        given = [x for x in (self.output, self.trip_clear, self.disturbance, self.constant) if x is not None]
        if len(given) != 1:
            raise ValueError("an input takes exactly one of output, trip_clear, disturbance, constant")
        return self


class OutputMap(_Model):
    var: str
    scale: float = 1.0
    offset: float = 0.0


class TripMap(_Model):
    var: str
    above: float | None = None  # the switch makes at or above this value
    below: float | None = None  # ... or at or below this one

    @model_validator(mode="after")
    def _one_side(self) -> TripMap:
        if (self.above is None) == (self.below is None):
            raise ValueError("a trip takes exactly one of above, below")
        return self


class FmuPlantSpec(_Model):
    api_version: Literal["hil.otgate/v1"] = "hil.otgate/v1"
    kind: Literal["FmuPlant"] = "FmuPlant"
    fmu: str
    program: Literal["tank", "cstr", "ricker"]
    inputs: dict[str, InputSource]
    measurements: dict[str, OutputMap]
    true_values: dict[str, str] = {}
    trips: dict[str, TripMap] = {}
    actuators: dict[str, OutputMap] = {}

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class FmuPlantError(ValueError):
    """The plant spec or the FMU does not fit the program it is mapped onto; the message says where."""


def load_spec(path: Path) -> tuple[FmuPlantSpec, Path]:
    """The spec and the FMU file it names (relative to the spec)."""
    yaml = YAML(typ="safe", pure=True)
    yaml.version = (1, 2)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and "apiVersion" in data:
            data = {("api_version" if k == "apiVersion" else k): v for k, v in data.items()}
        spec = FmuPlantSpec.model_validate(data)
    except (OSError, ValidationError) as error:
        raise FmuPlantError(f"{path}: {error}") from None
    return spec, (path.parent / spec.fmu).resolve()


@dataclass(frozen=True)
class FmuState:
    outputs: Mapping[str, float]


@dataclass
class FmuBinding:
    """A `PlantBinding`: the program's PLC logic, the FMU's physics."""

    spec: FmuPlantSpec
    fmu_path: Path
    base: PlantBinding = field(init=False)
    _fmu: Any = field(init=False, default=None)
    _refs: dict[str, int] = field(init=False, default_factory=dict)
    _outputs: list[str] = field(init=False, default_factory=list)
    _unzipped: str = field(init=False, default="")
    _time_s: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        self.base = binding_for(self.spec.program)
        self._check_program()
        self._open()

    # ------------------------------------------------------------------------------ PLC side: the program

    @property
    def loops(self) -> tuple[LoopSpec, ...]:
        return self.base.loops

    @property
    def trip_tags(self) -> tuple[str, ...]:
        return tuple(self.base.trip_tags)

    @property
    def bypass_tags(self) -> Mapping[str, str]:
        return self.base.bypass_tags

    @property
    def constants(self) -> Mapping[str, float]:
        return self.base.constants

    @property
    def measurement_tags(self) -> tuple[str, ...]:
        return self.base.measurement_tags

    @property
    def noise_sigma(self) -> Mapping[str, float]:
        return self.base.noise_sigma

    @property
    def disturbances(self) -> Mapping[str, float]:
        return self.base.disturbances

    def effective_sp(self, loop: str, sp: float, measured: Mapping[str, float]) -> float:
        return self.base.effective_sp(loop, sp, measured)

    def force_outputs(self, outputs: Mapping[str, float], trips: Mapping[str, bool]) -> dict[str, float]:
        return self.base.force_outputs(outputs, trips)

    def status(self, trips: Mapping[str, bool]) -> dict[str, float]:
        return self.base.status(trips)

    # ------------------------------------------------------------------------------ process side: the FMU

    def initial_state(self) -> FmuState:
        return FmuState(self._read())

    def initial_outputs(self, state: Any) -> dict[str, float]:
        return {tag: self._mapped(state, m) for tag, m in self.spec.actuators.items()}

    def true_pvs(self, state: Any, trips: Mapping[str, bool]) -> dict[str, float]:
        return {tag: self._mapped(state, m) for tag, m in self.spec.measurements.items()}

    def true_values(self, state: Any, trips: Mapping[str, bool]) -> dict[str, float]:
        return {name: float(state.outputs[var]) for name, var in self.spec.true_values.items()}

    def trip_conditions(self, state: Any) -> dict[str, bool]:
        out = {}
        for tag, trip in self.spec.trips.items():
            value = float(state.outputs[trip.var])
            out[tag] = value >= trip.above if trip.above is not None else value <= float(trip.below or 0.0)
        return out

    def actuator_position(self, state: Any, out_tag: str) -> float:
        mapping = self.spec.actuators.get(out_tag)
        return self._mapped(state, mapping) if mapping is not None else 0.0

    def step(
        self,
        state: Any,
        commands: Mapping[str, float],
        trips: Mapping[str, bool],
        disturbances: Mapping[str, float],
        tau_factors: Mapping[str, float],
        dt_s: float,
    ) -> FmuState:
        names, values = [], []
        for name, source in self.spec.inputs.items():
            names.append(self._refs[name])
            values.append(self._input(source, commands, trips, disturbances) * source.scale + source.offset)
        self._fmu.setReal(names, values)
        self._fmu.doStep(currentCommunicationPoint=self._time_s, communicationStepSize=dt_s)
        self._time_s += dt_s
        return FmuState(self._read())

    def close(self) -> None:
        if self._fmu is not None:
            self._fmu.terminate()
            self._fmu.freeInstance()
            self._fmu = None
        if self._unzipped:
            shutil.rmtree(self._unzipped, ignore_errors=True)
            self._unzipped = ""

    # ------------------------------------------------------------------------------ plumbing

    @staticmethod
    def _input(
        source: InputSource,
        commands: Mapping[str, float],
        trips: Mapping[str, bool],
        disturbances: Mapping[str, float],
    ) -> float:
        if source.output is not None:
            return float(commands[source.output])
        if source.trip_clear is not None:
            return 0.0 if trips.get(source.trip_clear, False) else 1.0
        if source.disturbance is not None:
            return float(disturbances[source.disturbance])
        return float(source.constant or 0.0)

    @staticmethod
    def _mapped(state: Any, mapping: OutputMap) -> float:
        return float(state.outputs[mapping.var]) * mapping.scale + mapping.offset

    def _read(self) -> dict[str, float]:
        values = self._fmu.getReal([self._refs[name] for name in self._outputs])
        return {name: float(v) for name, v in zip(self._outputs, values, strict=True)}

    def _check_program(self) -> None:
        spec, base = self.spec, self.base
        problems = [f"measurement {t!r} is not one of {spec.program}'s" for t in spec.measurements
                    if t not in base.measurement_tags]  # fmt: skip
        problems += [f"{spec.program} measurement {t!r} has no mapping" for t in base.measurement_tags
                     if t not in spec.measurements]  # fmt: skip
        problems += [
            f"trip {t!r} is not one of {spec.program}'s" for t in spec.trips if t not in base.trip_tags
        ]
        problems += [f"input from unknown disturbance {s.disturbance!r}" for s in spec.inputs.values()
                     if s.disturbance is not None and s.disturbance not in base.disturbances]  # fmt: skip
        if problems:
            raise FmuPlantError("; ".join(problems))

    def _open(self) -> None:
        from fmpy import extract, read_model_description  # the FMU runtime, needed only for FMU plants
        from fmpy.fmi2 import FMU2Slave

        if not self.fmu_path.is_file():
            raise FmuPlantError(f"no FMU at {self.fmu_path}")
        description = read_model_description(str(self.fmu_path))
        if description.coSimulation is None:
            raise FmuPlantError(f"{self.fmu_path.name} is not a co-simulation FMU")
        variables = {v.name: v for v in description.modelVariables}
        wanted_out = {m.var for m in self.spec.measurements.values()} | set(self.spec.true_values.values())
        wanted_out |= {t.var for t in self.spec.trips.values()} | {
            a.var for a in self.spec.actuators.values()
        }
        missing = sorted((wanted_out | set(self.spec.inputs)) - variables.keys())
        if missing:
            raise FmuPlantError(f"{self.fmu_path.name} has no variable(s) {missing}")
        self._refs = {name: variables[name].valueReference for name in wanted_out | set(self.spec.inputs)}
        self._outputs = sorted(wanted_out)
        self._unzipped = extract(str(self.fmu_path))
        self._fmu = FMU2Slave(
            guid=description.guid,
            unzipDirectory=self._unzipped,
            modelIdentifier=description.coSimulation.modelIdentifier,
            instanceName="plant",
        )
        self._fmu.instantiate()
        self._fmu.setupExperiment(startTime=0.0)
        self._fmu.enterInitializationMode()
        self._fmu.exitInitializationMode()


def fmu_binding(spec_path: Path) -> FmuBinding:
    spec, fmu_path = load_spec(spec_path)
    return FmuBinding(spec, fmu_path)
