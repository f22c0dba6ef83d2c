"""Plant configuration: the control engineer's contract with the gateway, one YAML file per plant.

Every model is frozen and forbids unknown keys, so a typo is a load error rather than a silently ignored
limit. Field checks live on the models; checks that span models (limits nested inside alarm and trip
bands, engines naming known tags, interlocks naming known tags) live in `PlantConfig`'s validator, so one
`PlantConfig.model_validate(data)` call either yields a configuration that is safe to run or fails with
every problem located by its path.

The models live by concept in `config_base`, `config_plcs`, `config_tags` and `config_actors`; this
module is the schema's front door (every name is importable from here) and holds the plant and its
cross-reference checks.

Units: a tag's engineering unit applies to all of its limits; rates are per second; times are seconds.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Self

from pydantic import Field, ValidationInfo, model_validator

from otgate.core.config_actors import (
    Engine,
    EngineMonitor,
    GatewaySettings,
    Listener,
    ListenerTls,
    NorthboundClient,
    OpcUaNorthbound,
    Operator,
    Role,
)
from otgate.core.config_base import (
    SHA256_HEX,
    TAG_NAME,
    FiniteFloat,
    Model,
    NonNegativeFloat,
    PositiveFloat,
    TagName,
)
from otgate.core.config_plcs import (
    ByteOrder,
    ModbusConnection,
    OpcUaConnection,
    OpcUaSecurityPolicy,
    PlcConnection,
    Protocol,
)
from otgate.core.config_tags import (
    GATEWAY_WRITABLE_KINDS,
    Access,
    Autonomy,
    Band,
    ChangeBudget,
    FallbackAction,
    FallbackPolicy,
    Interlock,
    Loop,
    MeasurementMonitor,
    ModbusAddress,
    ModbusTable,
    OpcUaAddress,
    RatePolicy,
    SetpointRules,
    Tag,
    TagKind,
)
from otgate.core.expression import parse_expression
from otgate.core.process_models import EnvelopeLimit, PredictionSettings, ProcessModel, model_problems

__all__ = [
    "GATEWAY_WRITABLE_KINDS",
    "SHA256_HEX",
    "TAG_NAME",
    "Access",
    "Autonomy",
    "Band",
    "ByteOrder",
    "ChangeBudget",
    "Engine",
    "EngineMonitor",
    "EnvelopeLimit",
    "FallbackAction",
    "FallbackPolicy",
    "FiniteFloat",
    "GatewaySettings",
    "Interlock",
    "Listener",
    "ListenerTls",
    "Loop",
    "MeasurementMonitor",
    "ModbusAddress",
    "ModbusConnection",
    "ModbusTable",
    "Model",
    "NonNegativeFloat",
    "NorthboundClient",
    "OpcUaAddress",
    "OpcUaConnection",
    "OpcUaNorthbound",
    "OpcUaSecurityPolicy",
    "Operator",
    "PlantConfig",
    "PlcConnection",
    "PositiveFloat",
    "PredictionSettings",
    "Problem",
    "ProcessModel",
    "Protocol",
    "RatePolicy",
    "Role",
    "SetpointRules",
    "Tag",
    "TagKind",
    "TagName",
]


# --------------------------------------------------------------------------------------------------- plant


class PlantConfig(Model):
    plant: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$")]
    description: str = ""
    gateway: GatewaySettings = GatewaySettings()
    plcs: dict[str, PlcConnection] = Field(min_length=1)
    tags: dict[TagName, Tag] = Field(min_length=1)
    loops: dict[TagName, Loop] = Field(default_factory=dict)
    interlocks: dict[TagName, Interlock] = Field(default_factory=dict)
    engines: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$")], Engine] = Field(default_factory=dict)
    operators: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_.-]*$")], Operator] = Field(
        default_factory=dict
    )
    # Predictive safety (docs/PREDICTION.md): step-response models, the operating envelope, the horizon.
    models: list[ProcessModel] = Field(default_factory=list)
    envelope: dict[TagName, EnvelopeLimit] = Field(default_factory=dict)
    prediction: PredictionSettings = PredictionSettings()

    @model_validator(mode="after")
    def _check_references(self, info: ValidationInfo) -> Self:
        # The file loader asks to defer this check so that it can place each problem at its YAML line.
        if not (info.context or {}).get("defer_reference_checks"):
            problems = reference_problems(self)
            if problems:
                raise ValueError("; ".join(f"{'.'.join(map(str, p.path))}: {p.message}" for p in problems))
        return self


@dataclass(frozen=True)
class Problem:
    """A configuration problem and the path of the config node it is about."""

    path: tuple[str | int, ...]
    message: str


def reference_problems(config: PlantConfig) -> list[Problem]:
    """Checks that span sections: every name a section uses must exist and be of the right kind."""
    return [
        *_twin_name_problems(config),
        *_monitor_problems(config),
        *_deadband_problems(config),
        *_plc_problems(config),
        *_overlap_problems(config.tags),
        *_loop_problems(config),
        *_engine_problems(config),
        *_interlock_problems(config),
        *_predictive_problems(config),
    ]


def _predictive_problems(config: PlantConfig) -> list[Problem]:
    kinds = {name: tag.kind.value for name, tag in config.tags.items()}
    alarms = {
        name: (tag.monitor.alarm.lo, tag.monitor.alarm.hi)
        for name, tag in config.tags.items()
        if tag.monitor is not None and tag.monitor.alarm is not None
    }
    found = model_problems(config.models, dict(config.envelope), kinds, alarms)
    return [Problem(path, message) for path, message in found]


def name_key(name: str) -> str:
    """Names that differ only by letter case or Unicode compatibility form are one name to a reader."""
    return unicodedata.normalize("NFKC", name).casefold()


def _twin_name_problems(config: PlantConfig) -> list[Problem]:
    """`TIC-101.SP` and `tic-101.sp` on one HMI would be told apart by nobody: refuse the second."""
    problems = []
    sections: dict[str, Mapping[str, object]] = {
        "tags": config.tags,
        "loops": config.loops,
        "interlocks": config.interlocks,
        "engines": config.engines,
        "plcs": config.plcs,
    }
    for section, entries in sections.items():
        first: dict[str, str] = {}
        for name in entries:
            other = first.setdefault(name_key(name), name)
            if other != name:
                message = f"duplicate of '{other}' (names may not differ only by case or Unicode form)"
                problems.append(Problem((section, name), message))
    return problems


def _plc_problems(config: PlantConfig) -> list[Problem]:
    problems = []
    for name, tag in config.tags.items():
        plc = config.plcs.get(tag.plc)
        if plc is None:
            problems.append(Problem(("tags", name, "plc"), f"unknown plc '{tag.plc}'"))
        elif getattr(tag, plc.protocol.value) is None:
            problems.append(Problem(("tags", name), f"no {plc.protocol} address for plc '{tag.plc}'"))
    for plc_name, plc in config.plcs.items():
        for field in ("heartbeat_tag", "restart_counter_tag"):
            ref = getattr(plc, field)
            if ref is not None and ref not in config.tags:
                problems.append(Problem(("plcs", plc_name, field), f"unknown tag '{ref}'"))
    return problems


def _overlap_problems(tags: dict[str, Tag]) -> list[Problem]:
    """Two tags sharing a register would let a write to one silently change the other."""
    claimed: dict[tuple[str, str, int], str] = {}
    problems = []
    for name, tag in tags.items():
        if tag.modbus is None:
            continue
        for offset in range(tag.type.register_count):
            key = (tag.plc, tag.modbus.table.value, tag.modbus.address + offset)
            other = claimed.setdefault(key, name)
            if other != name:
                message = f"{key[1]} register {key[2]} is already used by tag {other}"
                problems.append(Problem(("tags", name, "modbus", "address"), message))
                break
    return problems


_LOOP_KINDS = {
    "pv": TagKind.MEASUREMENT,
    "sp": TagKind.SETPOINT,
    "working_sp": TagKind.WORKING_SETPOINT,
    "mode": TagKind.MODE,
    "mode_request": TagKind.MODE,
}


def _loop_problems(config: PlantConfig) -> list[Problem]:
    problems = []
    for loop_name, loop in config.loops.items():
        for field, kind in _LOOP_KINDS.items():
            ref = getattr(loop, field)
            tag = config.tags.get(ref)
            path = ("loops", loop_name, field)
            if tag is None:
                problems.append(Problem(path, f"unknown tag '{ref}'"))
            elif tag.kind is not kind:
                problems.append(Problem(path, f"'{ref}' must be a {kind} tag, not {tag.kind}"))
            elif field == "mode_request" and tag.access is not Access.WRITE:
                problems.append(Problem(path, f"'{ref}' must be writable"))
        # The PLC that runs the loop sheds it on its own watchdog: setpoint, read-back and mode handshake
        # must sit on that one PLC, or a link loss to one of them leaves the loop half-controlled.
        plcs = {
            config.tags[ref].plc
            for ref in (loop.sp, loop.working_sp, loop.mode, loop.mode_request)
            if ref in config.tags
        }
        if len(plcs) > 1:
            message = f"sp, working_sp, mode and mode_request must sit on one PLC, not {sorted(plcs)}"
            problems.append(Problem(("loops", loop_name), message))
    # The gateway engages and releases a setpoint through its loop's mode handshake: no loop, no writes.
    loops_of = [loop.sp for loop in config.loops.values()]
    for name, tag in config.tags.items():
        if tag.kind is TagKind.SETPOINT and loops_of.count(name) != 1:
            problems.append(
                Problem(
                    ("tags", name), f"a setpoint must belong to exactly one loop, not {loops_of.count(name)}"
                )
            )
    return problems


def _engine_problems(config: PlantConfig) -> list[Problem]:
    problems = []
    for engine_name, engine in config.engines.items():
        for index, ref in enumerate(engine.writes):
            tag = config.tags.get(ref)
            path = ("engines", engine_name, "writes", index)
            if tag is None:
                problems.append(Problem(path, f"unknown tag '{ref}'"))
            elif tag.kind is not TagKind.SETPOINT:
                problems.append(
                    Problem(path, f"engines may only write setpoints; '{ref}' is a {tag.kind} tag")
                )
        gateway = config.gateway
        if engine.stale_after_s + gateway.clock_skew_tolerance_s >= gateway.replay_window_s:
            # Ids are stamped at receipt and forgotten after the replay window; a recommendation can pass
            # the time checks until issued_at + stale_after_s, and issued_at may lie up to the skew
            # tolerance after receipt. The id must be remembered for all of that, strictly.
            message = (
                f"stale_after_s {engine.stale_after_s:g} + gateway.clock_skew_tolerance_s "
                f"{gateway.clock_skew_tolerance_s:g} must be below gateway.replay_window_s {gateway.replay_window_s:g}"
            )
            problems.append(Problem(("engines", engine_name, "stale_after_s"), message))
        for index, ref in enumerate(engine.reads):
            if ref not in config.tags:
                problems.append(Problem(("engines", engine_name, "reads", index), f"unknown tag '{ref}'"))
    northbound = config.gateway.opcua_northbound
    if northbound is not None:
        bound: list[tuple[tuple[str | int, ...], str]] = [
            (("clients", i, "engine"), c.engine) for i, c in enumerate(northbound.clients)
        ]
        if northbound.anonymous_engine is not None:
            bound.append((("anonymous_engine",), northbound.anonymous_engine))
        for where, name in bound:
            if name not in config.engines:
                problems.append(Problem(("gateway", "opcua_northbound", *where), f"unknown engine '{name}'"))
    return problems


def _interlock_problems(config: PlantConfig) -> list[Problem]:
    problems = []
    for name, interlock in config.interlocks.items():
        path = ("interlocks", name, "when")
        names = parse_expression(interlock.when).names
        for ref in sorted(names - config.tags.keys()):
            problems.append(Problem(path, f"expression names unknown tag '{ref}'"))
        for ref in sorted(names & config.tags.keys()):
            # An interlock that reads a writable tag could be defeated by the very writes it guards.
            if config.tags[ref].access is Access.WRITE:
                problems.append(Problem(path, f"expression reads writable tag '{ref}'"))
        for index, ref in enumerate(interlock.blocks):
            if ref not in config.tags:
                problems.append(Problem(("interlocks", name, "blocks", index), f"unknown tag '{ref}'"))
    return problems


def _deadband_problems(config: PlantConfig) -> list[Problem]:
    """A deadband as large as the smallest legal step would make every legal move a NO_CHANGE."""
    problems = []
    period = config.gateway.scan_interval_s
    for name, tag in config.tags.items():
        rules = tag.setpoint
        if rules is None:
            continue
        write_period = max(period, rules.min_write_interval_s)
        smallest = min(
            rules.max_move_up,
            rules.max_move_down,
            rules.rate_up_per_s * write_period,
            rules.rate_down_per_s * write_period,
        )
        if rules.deadband >= smallest:
            message = f"deadband {rules.deadband:g} must be below the smallest legal step {smallest:g}"
            problems.append(Problem(("tags", name, "setpoint", "deadband"), message))
        if not tag.type.is_float and smallest < abs(tag.scale):
            # An integer register cannot hold a step finer than its scale: a ramp would round past its
            # rate or stall rewriting one value.
            message = f"the smallest legal step {smallest:g} is finer than the {tag.type} resolution {abs(tag.scale):g}"
            problems.append(Problem(("tags", name, "setpoint"), message))
    return problems


def _monitor_problems(config: PlantConfig) -> list[Problem]:
    problems = []
    for name, tag in config.tags.items():
        monitor = tag.monitor
        if monitor is None or monitor.redundant_with is None:
            continue
        path = ("tags", name, "monitor", "redundant_with")
        partner = config.tags.get(monitor.redundant_with)
        if partner is None or partner.kind is not TagKind.MEASUREMENT:
            problems.append(Problem(path, f"'{monitor.redundant_with}' must be a measurement tag"))
        elif monitor.max_disagreement is None:
            problems.append(Problem(path, "a redundant sensor needs max_disagreement"))
    return problems
