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

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from hil.durations import is_duration, parse_duration
from hil.engines import Behaviour

Seconds = Annotated[float, BeforeValidator(parse_duration)]
Scalar = float | int | str | bool | None


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Metadata(Model):
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_\-]+$")]
    title: str
    category: Literal["ai-misbehaviour", "infra-fault", "operator"]
    requirements: list[str] = []
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
    behaviour: Behaviour


ACTIONS: dict[str, tuple[set[str], set[str]]] = {
    # action: (required fields, optional fields)
    "mark": (set(), set()),  # no action: names a moment (usually a `when` condition) for assertions
    "ai.propose": ({"tag", "value"}, {"engine", "rationale", "raw"}),
    "engine.stop": ({"engine"}, set()),
    "engine.start": ({"engine"}, set()),
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
}


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


class Window(Model):
    """A stretch of the run: from an event (or a time) to another, or for a duration."""

    start: str = Field("start", alias="from")
    end: str | None = Field(None, alias="to")
    length: Seconds | None = Field(None, alias="for")

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _check(self) -> Window:
        if self.end is not None and self.length is not None:
            raise ValueError("a window takes 'to' or 'for', not both")
        return self


class CountSpec(Model):
    of: Literal["plc_writes", "audit"]
    tag: str | None = None  # plc_writes: the tag written; audit: data.tag
    kind: str | None = None  # audit record kind
    actor: str | None = None  # audit actor prefix ("engine:", "operator:")
    reason: str | None = None  # audit: a decision reason code
    contains: str | None = None  # audit: text anywhere in the record's data
    value_above: float | None = None  # plc_writes: only values above / below
    value_below: float | None = None
    non_finite: bool = False  # plc_writes: only non-finite values
    during: Window = Window()
    min: int | None = None
    max: int | None = None
    per_scan_max: int | None = None  # plc_writes: at most this many in any one scan

    @model_validator(mode="after")
    def _check(self) -> CountSpec:
        if self.min is None and self.max is None and self.per_scan_max is None:
            raise ValueError("a count needs min, max or per_scan_max")
        return self


class FirstWriteSpec(Model):
    after: str
    tag: str
    max_step: float  # |value - working setpoint at the PLC just before| must not exceed this
    working_sp: str  # the PLC working-setpoint tag the step is measured from


class WriteStepsSpec(Model):
    tag: str
    max_step: float  # consecutive writes (the first against the PLC's working setpoint) differ by at most
    working_sp: str
    during: Window = Window()


class AuditChainSpec(Model):
    verify: Literal[True] = True
    min_records: int = 1


class Assertion(Model):
    id: str
    title: str = ""
    always: str | None = None
    never: str | None = None
    when: str | None = None
    then: str | None = None
    after: str | None = None
    expect: str | None = None
    within: Seconds | None = None
    during: Window = Window()
    count: CountSpec | None = None
    unchanged: str | None = None
    first_write: FirstWriteSpec | None = None
    write_steps: WriteStepsSpec | None = None
    audit_chain: AuditChainSpec | None = None

    @model_validator(mode="after")
    def _check(self) -> Assertion:
        kinds = [
            k
            for k, present in {
                "always": self.always is not None,
                "never": self.never is not None,
                "when": self.when is not None,
                "after": self.after is not None,
                "count": self.count is not None,
                "unchanged": self.unchanged is not None,
                "first_write": self.first_write is not None,
                "write_steps": self.write_steps is not None,
                "audit_chain": self.audit_chain is not None,
            }.items()
            if present
        ]
        if len(kinds) != 1:
            raise ValueError(f"an assertion has exactly one kind, got {kinds or 'none'}")
        if self.when is not None and (self.then is None or self.within is None):
            raise ValueError("'when' needs 'then' and 'within'")
        if self.after is not None and (self.expect is None or self.within is None):
            raise ValueError("'after' needs 'expect' and 'within'")
        return self

    @property
    def kind(self) -> str:
        for name in (
            "always",
            "never",
            "when",
            "after",
            "count",
            "unchanged",
            "first_write",
            "write_steps",
            "audit_chain",
        ):
            if getattr(self, name) is not None:
                return name
        raise AssertionError("unreachable: validated")


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
    protocol: Literal["modbus", "opcua"] = "modbus"
    # "child": the gateway runs in a child process and gateway.kill is a real SIGKILL
    gateway_process: Literal["in_process", "child"] = "in_process"
    seed: int
    duration: Seconds
    engage: list[str] = []
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
        engine_ids = {e.id for e in self.engines}
        for item in self.timeline:
            if item.engine is not None and item.do.startswith("engine.") and item.engine not in engine_ids:
                raise ValueError(f"{item.label}: no engine {item.engine!r}")
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
            windows = [a.during] + ([a.count.during] if a.count else [])
            windows += [a.write_steps.during] if a.write_steps else []
            for w in windows:
                refs += [w.start] + ([w.end] if w.end else [])
            if a.after:
                refs.append(a.after)
            if a.first_write:
                refs.append(a.first_write.after)
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
