"""How a run is wired: the plant config pointed at the simulator's ports, scenario injections turned into
simulator faults and operator actions, a library's log kept quiet, and where scratch data goes."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from otgate.core.config import PlantConfig, Protocol
from otgate_hil.faulty_plc import FaultySimulation
from otgate_hil.hmi_operator import OperatorAction
from otgate_hil.scenario import Injection, Scenario
from otgate_simulator import faults as sim_faults
from otgate_simulator.fmu_plant import FmuBinding, FmuPlantError, fmu_binding


def pointed(config: PlantConfig, protocol: Protocol, modbus_port: int, opcua_url: str | None) -> PlantConfig:
    """The plant config re-targeted at the simulator's (or the fault proxy's) ports."""
    plcs = {}
    for name, plc in config.plcs.items():
        modbus = plc.modbus.model_copy(update={"port": modbus_port}) if plc.modbus else None
        opcua = plc.opcua
        if protocol is Protocol.OPCUA and opcua is not None and opcua_url:
            opcua = opcua.model_copy(update={"endpoint": opcua_url})
        plcs[name] = plc.model_copy(update={"protocol": protocol, "modbus": modbus, "opcua": opcua})
    return config.model_copy(update={"plcs": plcs})


def fault_of(item: Injection) -> sim_faults.Fault:
    tag = item.tag or ""
    match item.do:
        case "sensor.freeze":
            return sim_faults.Freeze(tag)
        case "sensor.bias":
            return sim_faults.Bias(tag, float(item.offset or 0.0))
        case "sensor.drift":
            return sim_faults.Drift(tag, float(item.rate_per_s or 0.0))
        case "sensor.noise":
            return sim_faults.NoiseBurst(tag, float(item.sigma or 0.0))
        case "sensor.dropout":
            return sim_faults.Dropout(tag, float(item.value or 0.0))
        case "actuator.stuck":
            return sim_faults.ActuatorStuck(tag, item.position)
        case "actuator.sluggish":
            return sim_faults.ActuatorSluggish(tag, float(item.tau_factor or 1.0))
        case _:
            return sim_faults.Disturbance(item.name or "", float(item.value))


def describe(item: Injection) -> str:
    fields = item.model_dump(exclude_none=True, exclude={"id", "at", "when", "do", "user", "reason"})
    return ", ".join(f"{k}={v}" for k, v in sorted(fields.items()))


def url_port(url: str | None) -> int:
    if url is None:
        raise ValueError("no OPC UA endpoint")
    return int(url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])


def with_port(url: str, port: int) -> str:
    scheme, rest = url.split("://", 1)
    host_port, _, path = rest.partition("/")
    host = host_port.rsplit(":", 1)[0]
    return f"{scheme}://{host}:{port}/{path}"


def scratch() -> str | None:
    """RAM-backed scratch space when there is one: the audit store fsyncs every record."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


@contextlib.contextmanager
def quiet(logger_name: str) -> Iterator[None]:
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(level)


def operator_action_of(item: Injection) -> OperatorAction:
    engineer = item.do.startswith("engineer.")
    return OperatorAction(
        kind=item.do.removeprefix("engineer." if engineer else "operator."),
        # an engineer's action is the engineer's unless the scenario names someone else (to be refused)
        user="engineer" if engineer and "user" not in item.model_fields_set else item.user,
        reason=item.reason,
        loops=tuple(item.loops or ()),
        loop=item.loop,
        value=None if item.value is None else float(item.value),
        tag=item.tag,
        proposal=item.proposal,
        digest=item.digest,
        engine=item.engine,
        code=item.code,
        password=item.password,
    )


def apply_plc_action(sim: FaultySimulation, item: Injection) -> bool:
    if item.do == "plc.restart":
        sim.inject(sim_faults.PlcRestart())
    elif item.do == "plc.operator_mode" and item.loop and item.mode:
        sim.set_loop_mode(item.loop, item.mode)
    elif item.do == "plc.operator_sp" and item.loop:
        sim.set_local_setpoint(item.loop, float(item.value))
    elif item.do == "plc.reset_trips":
        sim.reset_trips()
    elif item.do == "plc.ignore_writes" and item.tag:
        sim.ignored.add(item.tag)
    elif item.do == "plc.accept_writes" and item.tag:
        sim.ignored.discard(item.tag)
    return True


def plant_model_of(scenario: Scenario, given: Path | None) -> FmuBinding | None:
    path = given if given is not None else (Path(scenario.plant_model) if scenario.plant_model else None)
    if path is None:
        return None
    binding = fmu_binding(path)
    if binding.spec.program != scenario.plant:
        binding.close()
        raise FmuPlantError(
            f"{path}: runs the {binding.spec.program} program, the scenario is for {scenario.plant}"
        )
    return binding
