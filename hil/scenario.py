"""The scenario file format (``hil/scenarios/*.yaml``), validated by pydantic. Reference: docs/HIL.md.

A scenario names a plant, a seed and a duration; the scripted AI engines and what they do; a timeline of
injections, each at a time or on a condition over the trace; and the assertions that decide pass or fail.
Durations carry units (`hil.durations`). Conditions are otgate's safe expressions (`hil.conditions`),
parsed here so a typo fails at load time with the scenario's file name, not mid-run.

YAML is read with ruamel.yaml in YAML 1.2 mode (PyYAML, following YAML 1.1, reads ``1.0e9`` as a string).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from otgate_hil.assertion_spec import (
    Assertion,
    AuditChainSpec,
    CountSpec,
    FirstWriteSpec,
    Scalar,
    Seconds,
    Window,
    WriteStepsSpec,
)
from otgate_hil.durations import is_duration
from otgate_hil.engines import Behaviour
from otgate_hil.overrides import OverrideError, overridden_config

__all__ = [
    "Assertion",
    "AuditChainSpec",
    "CountSpec",
    "FirstWriteSpec",
    "Injection",
    "Scalar",
    "Scenario",
    "ScenarioError",
    "Window",
    "WriteStepsSpec",
    "load_scenario",
    "scenario_paths",
]


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Metadata(Model):
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_\-]+$")]
    title: str
    category: Literal["ai-misbehaviour", "infra-fault", "operator"]
    # R-NN: the requirement's number in the project's requirements list; HZ-<PLANT>-<NAME>: docs/hazards.yaml
    requirements: list[Annotated[str, Field(pattern=r"^R-[0-9]{2}$")]] = []
    hazards: list[Annotated[str, Field(pattern=r"^HZ-[A-Z]+-[A-Z0-9-]+$")]] = []
    description: str = ""
    # What the lead's anomaly monitors would add; informational, not asserted.
    needs: list[str] = []


class EngineSpec(Model):
    id: str = "optimizer"
    engine: str = "optimizer"  # the engine name in the plant config (decides the token)
    token: str | None = None  # default: the plant's demo token for `engine`
    tag: str
    start: Seconds = 10.0
    stop: Seconds | None = None
    period: Seconds = 10.0
    # The engine host's clock minus the plant's: its issue times are this far off (a skewed engine clock).
    clock_offset: Seconds = 0.0
    # The model version it names in `model` (its digest keys its earned autonomy); none: it names none.
    model_version: str | None = None
    behaviour: Behaviour


ACTIONS: dict[str, tuple[set[str], set[str]]] = {
    # action: (required fields, optional fields)
    "mark": (set(), set()),  # no action: names a moment (usually a `when` condition) for assertions
    "ai.propose": ({"tag", "value"}, {"engine", "rationale", "raw"}),
    "engine.stop": ({"engine"}, set()),
    "engine.start": ({"engine"}, set()),
    "engine.model": ({"engine", "version"}, set()),  # a new model version: a new digest from now on
    "sensor.freeze": ({"tag"}, set()),
    "sensor.bias": ({"tag", "offset"}, set()),
    "sensor.drift": ({"tag", "rate_per_s"}, set()),
    "sensor.noise": ({"tag", "sigma"}, set()),
    "sensor.dropout": ({"tag"}, {"value"}),
    "actuator.stuck": ({"tag"}, {"position"}),
    "actuator.sluggish": ({"tag", "tau_factor"}, set()),
    "process.disturbance": ({"name", "value"}, set()),
    "faults.clear": (set(), {"tag"}),
    "plc.restart": (set(), set()),
    "plc.operator_mode": ({"loop", "mode"}, set()),
    "plc.operator_sp": ({"loop", "value"}, set()),
    "plc.reset_trips": (set(), set()),
    "plc.ignore_writes": ({"tag"}, set()),  # the PLC answers writes of `tag` as accepted, applies nothing
    "plc.accept_writes": ({"tag"}, set()),
    "link.down": (set(), set()),
    "link.up": (set(), set()),
    "gateway.kill": (set(), set()),
    "gateway.start": (set(), set()),
    "clock.jump": ({"by"}, set()),
    "operator.engage": ({"loops"}, {"user", "reason"}),
    "operator.fallback": ({"loops"}, {"user", "reason"}),
    "operator.reset": ({"loops"}, {"user", "reason"}),
    "operator.manual": ({"loops"}, {"user", "reason"}),
    # Through the HMI API with a logged-in session and its CSRF token (hil.hmi_operator):
    "operator.approve": (set(), {"tag", "proposal", "digest"}),  # digest: omit for the right one
    "operator.reject": (set(), {"tag", "proposal", "digest"}),
    "operator.setpoint": ({"loop", "value"}, set()),
    "operator.lift_quarantine": ({"engine"}, set()),
    "operator.acknowledge": ({"code"}, set()),
    # Earned autonomy through the HMI's autonomy page (hil.hmi_operator, docs/AUTONOMY.md):
    "engineer.sign_off": ({"loop"}, {"engine", "password"}),  # password: omit for the engineer's own
    "operator.demote": ({"loop"}, {"engine"}),
    # A standing reviewer: every `every`, answers all that is queued for `tag` (every `reject_every`-th
    # answer a rejection) until operator.reviews_stop (hil.reviewers)
    "operator.reviews": ({"tag", "every"}, {"reject_every"}),
    "operator.reviews_stop": ({"tag"}, set()),
    # Link faults in simulated time (Modbus frames through the fault proxy, hil.link_faults):
    "link.faults": (set(), {"latency", "jitter", "loss", "reorder", "frames"}),
    "link.cut_write": (set(), {"tag"}),  # the next write (of `tag`) is cut in the middle, then the link
    "link.clear": (set(), set()),
    # Disturbance profiles, applied every tick until the next profile or faults.clear on the name:
    "process.ramp": ({"name", "value", "over"}, set()),
    "process.periodic": ({"name", "amplitude", "period"}, {"value"}),
}
RESERVED_EVENTS = {"start", "end", "engage"}  # "engage": the operator's engage at t = 1 s
LINK_ACTIONS = {"link.down", "link.up", "link.faults", "link.cut_write", "link.clear"}


class Injection(Model):
    id: str | None = None
    at: Seconds | None = None
    when: str | None = None
    do: str
    tag: str | None = None
    value: Any = None
    raw: str | None = None  # ai.propose: the JSON text of the value, sent as is ("NaN", "\"abc\"")
    engine: str | None = None
    rationale: str | None = None
    offset: float | None = None
    rate_per_s: float | None = None
    sigma: float | None = None
    position: float | None = None
    tau_factor: float | None = None
    name: str | None = None
    loop: str | None = None
    mode: Literal["AUTO", "MAN"] | None = None
    loops: list[str] | None = None
    user: str = "operator"
    reason: str = "HIL scenario"
    by: Seconds | None = None
    proposal: str | None = None  # operator.approve/reject: the recommendation id (default: oldest of tag)
    digest: str | None = None  # operator.approve/reject: sent instead of the queue's digest ("wrong" works)
    code: str | None = None  # operator.acknowledge: the alarm code
    version: str | None = None  # engine.model: the new model version
    password: str | None = None  # engineer.sign_off: the password re-entered (default: the right one)
    every: Seconds | None = None  # operator.reviews: how often the reviewer answers the queue
    reject_every: int | None = Field(None, ge=1)  # operator.reviews: every n-th answer is a rejection
    latency: Seconds | None = None  # link.faults: whole scans a write frame is held
    jitter: Seconds | None = None  # link.faults: plus a seeded draw of 0..jitter whole scans
    loss: float | None = Field(None, ge=0.0, le=1.0)  # link.faults: probability a frame is lost
    reorder: float | None = Field(None, ge=0.0, le=1.0)  # link.faults: a frame held until the next passes
    frames: Literal["writes", "all"] | None = None  # link.faults: which Modbus frames the faults touch
    over: Seconds | None = None  # process.ramp: from the current value to `value` over this time
    amplitude: float | None = None  # process.periodic: value + amplitude * sin(2 pi t / period)
    period: Seconds | None = None

    @model_validator(mode="after")
    def _check(self) -> Injection:
        if (self.at is None) == (self.when is None):
            raise ValueError("an injection needs exactly one of 'at' (a time) or 'when' (a condition)")
        if self.do not in ACTIONS:
            raise ValueError(f"unknown action {self.do!r}; expected one of {sorted(ACTIONS)}")
        required, optional = ACTIONS[self.do]
        given = {k for k in self.model_fields_set if k not in {"id", "at", "when", "do"}}
        missing = required - given
        if self.do == "ai.propose" and "raw" in given:
            missing.discard("value")
        if missing:
            raise ValueError(f"{self.do} needs {sorted(missing)}")
        extra = given - required - optional - {"user", "reason"}
        if extra:
            raise ValueError(f"{self.do} does not take {sorted(extra)}")
        return self

    @property
    def label(self) -> str:
        return self.id or self.do


class PlotSpec(Model):
    pv: str  # trace variable of the true PV
    sp_tag: str  # the AI-writable setpoint tag
    working_sp: str  # trace variable of the PLC working setpoint
    loop: str
    limits: tuple[float, float]
    assert_lines: list[float] = []
    pv_label: str = "true PV"


class Scenario(Model):
    api_version: Literal["hil.otgate/v1"] = Field(alias="apiVersion")
    kind: Literal["Scenario"]
    metadata: Metadata
    plant: Literal["tank", "cstr", "ricker"]
    # Another model of the plant under the same PLC program: an FMU plant spec (simulator/fmu_plant.py)
    plant_model: str | None = None
    protocol: Literal["modbus", "opcua"] = "modbus"
    # "child": the gateway runs in a child process and gateway.kill is a real SIGKILL
    gateway_process: Literal["in_process", "child"] = "in_process"
    seed: int
    duration: Seconds
    engage: list[str] = []
    # Changes to the plant config for this scenario, merged into plant_configs/<plant>.yaml and validated
    # by the same schema (hil.overrides): an extra engine, a limit, a tag's access or autonomy.
    overrides: dict[str, Any] = {}
    engines: list[EngineSpec] = []
    timeline: list[Injection] = []
    assertions: Annotated[list[Assertion], Field(min_length=1)]
    plot: PlotSpec

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _check(self) -> Scenario:
        ids = [i.id for i in self.timeline if i.id] + [e.id for e in self.engines]
        if len(ids) != len(set(ids)):
            raise ValueError("injection and engine ids must be unique")
        reserved = set(ids) & RESERVED_EVENTS
        if reserved:
            raise ValueError(f"{sorted(reserved)} name events of every run; choose another id")
        engine_ids = {e.id for e in self.engines}
        for item in self.timeline:
            if item.engine is not None and item.do.startswith("engine.") and item.engine not in engine_ids:
                raise ValueError(f"{item.label}: no engine {item.engine!r}")
        if self.overrides and self.gateway_process == "child":
            raise ValueError(
                "overrides apply to the in-process gateway; a child gateway runs the plant's file"
            )
        if self.overrides:
            try:
                overridden_config(self.plant, self.overrides)
            except OverrideError as error:
                raise ValueError(f"overrides: {error}") from None
        for item in self.timeline:
            if item.do in LINK_ACTIONS - {"link.down", "link.up"} and self.protocol != "modbus":
                raise ValueError(f"{item.label}: {item.do} acts on Modbus frames; use protocol: modbus")
        assertion_ids = [a.id for a in self.assertions]
        if len(assertion_ids) != len(set(assertion_ids)):
            raise ValueError("assertion ids must be unique")
        for event in self._event_refs():
            if event.split(" + ")[0].split(" - ")[0].strip() not in {
                "start",
                "end",
                *ids,
            } and not is_duration(event):
                raise ValueError(f"unknown event {event!r}: use start, end, an injection id or a duration")
        return self

    def _event_refs(self) -> list[str]:
        refs: list[str] = []
        for a in self.assertions:
            for w in a.windows():
                refs += [w.start] + ([w.end] if w.end else [])
            if a.after:
                refs.append(a.after)
            if a.first_write:
                refs.append(a.first_write.after)
            if a.autonomy:
                refs.append(a.autonomy.at)
        return refs


class ScenarioError(Exception):
    """A scenario file that cannot be read or does not validate; the message names the file."""


def load_scenario(path: Path) -> Scenario:
    yaml = YAML(typ="safe", pure=True)
    yaml.version = (1, 2)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"))
    except (OSError, YAMLError) as error:
        raise ScenarioError(f"{path}: {error}") from None
    try:
        return Scenario.model_validate(data)
    except ValidationError as error:
        raise ScenarioError(f"{path}: {error}") from None


def scenario_paths(paths: list[Path]) -> list[Path]:
    """Files as given, directories expanded to their *.yaml files in name order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.glob("*.yaml") if p.is_file())
        else:
            found.append(path)
    return found
