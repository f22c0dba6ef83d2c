"""One plant, its virtual PLC, faults and seeded sensor noise, advanced in lock-step ticks.

A tick is one gateway cycle (`dt_s` = 1 s) made of two PLC scans of 0.5 s. Each half-tick integrates the
plant with the outputs the PLC latched at its previous scan, then runs the next scan on the new
measurements. An external write changes the process image at once, and the PLC acts on it at its next
scan, so a value written between ticks k and k+1 is seen by the first scan of tick k+1.

Nothing here reads a clock, opens a socket or touches a global random state: every component draws from
its own `SeedSequence(seed, spawn_key=(crc32(name),))` stream, so a run is a pure function of the seed and
the calls made on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from otgate.config.bundled import plant_configs_dir
from otgate.config.loader import load_config
from otgate.core.config import Access, PlantConfig
from otgate_simulator.faults import (
    SENSOR_FAULTS,
    ActiveFault,
    ActuatorSluggish,
    ActuatorStuck,
    Disturbance,
    Fault,
    Freeze,
    NoiseBurst,
    PlcRestart,
    WatchdogBroken,
    apply_sensor_faults,
    generator,
    target_of,
)
from otgate_simulator.plc import SCAN_S, SHED_TIMEOUT_TAG, Mode, Plc
from otgate_simulator.programs import PlantBinding, binding_for

CONFIG_DIR = plant_configs_dir()  # in the installed package, or the checkout's plant_configs/
SCANS_PER_TICK = 2


@dataclass(frozen=True)
class WriteRecord:
    sim_time_s: float
    protocol: str  # "modbus" | "opcua" | "internal"
    tag: str
    address: str  # e.g. "holding:0" or "ns=2;s=TIC-101.RSP", as the caller passes it
    value: float
    accepted: bool  # False when the PLC refused it (unknown or read-only tag)


def default_config(plant: str) -> PlantConfig:
    return load_config(CONFIG_DIR / f"{plant}.yaml")


class Simulation:
    dt_s: float = SCAN_S * SCANS_PER_TICK

    def __init__(
        self,
        plant: str,
        *,
        seed: int = 0,
        config: PlantConfig | None = None,
        binding: PlantBinding | None = None,
    ) -> None:
        self.plant = plant
        self.seed = seed
        self.config = config if config is not None else default_config(plant)
        self.time_s = 0.0
        self.tick_count = 0
        self.write_log: list[WriteRecord] = []
        # Another model of the plant (an FMU, simulator.fmu_plant) under the same PLC program and tags.
        self._binding = binding if binding is not None else binding_for(plant)
        self._writable = frozenset(t for t, tag in self.config.tags.items() if tag.access is Access.WRITE)
        self._tags = tuple(self.config.tags)
        # The PLC's memory: every config tag, plus any register of the PLC program the config leaves out.
        self._registers: dict[str, float] = dict.fromkeys(self._tags, 0.0)
        self._state: Any = self._binding.initial_state()
        self._plc = Plc(self._binding, self._registers, self._binding.initial_outputs(self._state))
        self._noise = {tag: generator(seed, f"sensor:{tag}") for tag in self._binding.measurement_tags}
        self._faults: list[ActiveFault] = []
        self._injections = 0
        self._disturbances = dict(self._binding.disturbances)
        self._scan(measure_noise=False)

    # ------------------------------------------------------------------------------------------- running

    def tick(self) -> None:
        for scan in range(SCANS_PER_TICK):
            self._state = self._binding.step(
                self._state,
                self._commands(),
                self._plc.trips,
                self._disturbances,
                self._tau_factors(),
                SCAN_S,
            )
            # Multiples of 0.5 s are exact in binary floating point, so the clock never accumulates error.
            self.time_s = (self.tick_count * SCANS_PER_TICK + scan + 1) * SCAN_S
            self._scan()
        self.tick_count += 1

    def run(self, duration_s: float) -> None:
        for _ in range(round(duration_s / self.dt_s)):
            self.tick()

    def _scan(self, *, measure_noise: bool = True) -> None:
        true_pvs = self._binding.true_pvs(self._state, self._plc.trips)
        measured = {}
        for tag in self._binding.measurement_tags:
            value = true_pvs[tag]
            sigma = self._binding.noise_sigma.get(tag, 0.0)
            if measure_noise and sigma > 0.0:
                value += float(self._noise[tag].normal(0.0, sigma))
            active = [
                f for f in self._faults if isinstance(f.fault, SENSOR_FAULTS) and target_of(f.fault) == tag
            ]
            measured[tag] = apply_sensor_faults(value, active, self.time_s)
        self._registers.update(measured)
        self._plc.watchdog_broken = any(isinstance(f.fault, WatchdogBroken) for f in self._faults)
        self._plc.scan(self.time_s, measured, self._binding.trip_conditions(self._state))
        self._registers.update(self._binding.status(self._plc.trips))

    def _commands(self) -> dict[str, float]:
        commands = dict(self._plc.outputs)
        for item in self._faults:
            if isinstance(item.fault, ActuatorStuck):
                commands[item.fault.tag] = item.held
        return commands

    def _tau_factors(self) -> dict[str, float]:
        return {
            f.fault.tag: f.fault.tau_factor for f in self._faults if isinstance(f.fault, ActuatorSluggish)
        }

    # ------------------------------------------------------------------------------------ process image

    def image(self) -> dict[str, float]:
        return {tag: self._registers[tag] for tag in self._tags}

    def read_tag(self, tag: str) -> float:
        if tag not in self.config.tags:
            raise KeyError(tag)
        return self._registers[tag]

    def is_writable(self, tag: str) -> bool:
        return tag in self._writable

    def write_tag(self, tag: str, value: float, *, protocol: str, address: str) -> bool:
        accepted = self.is_writable(tag)
        self.write_log.append(WriteRecord(self.time_s, protocol, tag, address, float(value), accepted))
        if accepted:
            self._registers[tag] = float(value)
        return accepted

    # --------------------------------------------------------------------------------------- oracles

    def true_values(self) -> dict[str, float]:
        """Ground truth: named physical quantities plus the true reading behind every measurement tag."""
        return {
            **self._binding.true_values(self._state, self._plc.trips),
            **self._binding.true_pvs(self._state, self._plc.trips),
        }

    def loop_modes(self) -> dict[str, str]:
        return {name: state.mode.name for name, state in self._plc.states.items()}

    def trips(self) -> dict[str, bool]:
        return dict(self._plc.trips)

    def trace_row(self) -> tuple[float, ...]:
        """Time, the image in sorted tag order, then the ground truth in sorted key order."""
        truth = self.true_values()
        return (
            self.time_s,
            *(self._registers[tag] for tag in sorted(self._tags)),
            *(truth[key] for key in sorted(truth)),
        )

    # ------------------------------------------------------------------------- operator and maintenance

    def restart_plc(self) -> None:
        self._plc.restart(self.time_s)
        self._registers.update(self._binding.status(self._plc.trips))

    def reset_trips(self) -> None:
        self._plc.reset_trips()
        self._registers.update(self._binding.status(self._plc.trips))

    def set_bypass(self, trip: str, bypassed: bool) -> None:
        """Engineering action on the safety layer (never reachable through `write_tag`)."""
        tag = self._binding.bypass_tags[trip]
        self._registers[tag] = 1.0 if bypassed else 0.0

    def set_shed_timeout(self, seconds: float) -> None:
        """Engineering action: the PLC watchdog's shed timeout (read-only from the network)."""
        self._registers[SHED_TIMEOUT_TAG] = float(seconds)

    def set_loop_mode(self, loop: str, mode: str) -> None:
        """Operator mode change at the HMI: "MAN" or "AUTO"."""
        self._plc.set_mode(loop, Mode[mode])

    def set_local_setpoint(self, loop: str, value: float) -> None:
        """Operator setpoint at the HMI (used in AUTO)."""
        self._plc.set_local_sp(loop, value)

    def set_manual_output(self, loop: str, value: float) -> None:
        self._plc.set_output(loop, value)

    # ------------------------------------------------------------------------------------------ faults

    def inject(self, fault: Fault) -> None:
        if isinstance(fault, PlcRestart):
            self.restart_plc()
            return
        if isinstance(fault, Disturbance):
            if fault.name not in self._disturbances:
                raise ValueError(
                    f"unknown disturbance {fault.name!r}; expected one of {sorted(self._disturbances)}"
                )
            self._disturbances[fault.name] = fault.value
        self._injections += 1
        self._faults.append(self._activate(fault))

    def _activate(self, fault: Fault) -> ActiveFault:
        tag = target_of(fault)
        if isinstance(fault, SENSOR_FAULTS) and tag not in self._binding.measurement_tags:
            raise ValueError(f"{tag!r} is not a measurement tag of {self.plant}")
        if isinstance(fault, ActuatorStuck | ActuatorSluggish) and tag not in self._plc.outputs:
            raise ValueError(f"{tag!r} is not an output of {self.plant}")
        if isinstance(fault, Freeze):
            return ActiveFault(fault, self.time_s, held=self._registers[tag])
        if isinstance(fault, ActuatorStuck):
            position = fault.position
            if position is None:
                position = self._binding.actuator_position(self._state, tag)
            return ActiveFault(fault, self.time_s, held=position)
        if isinstance(fault, NoiseBurst):
            return ActiveFault(fault, self.time_s, rng=generator(self.seed, f"fault:{tag}", self._injections))
        return ActiveFault(fault, self.time_s)

    def disturbance(self, name: str) -> float:
        """The value a named disturbance has now."""
        return self._disturbances[name]

    def set_disturbance(self, name: str, value: float) -> None:
        """Move a disturbance that an injected `Disturbance` made active (a ramp or a periodic profile
        steps it every tick); `clear_faults(name)` still restores the plant's own value."""
        if not any(isinstance(f.fault, Disturbance) and f.fault.name == name for f in self._faults):
            raise ValueError(f"disturbance {name!r} is not active; inject it first")
        self._disturbances[name] = value

    def clear_faults(self, target: str | None = None) -> None:
        """Clear every fault, or those on one tag, output or disturbance name."""
        keep = [f for f in self._faults if target is not None and target_of(f.fault) != target]
        for item in self._faults:
            if item not in keep and isinstance(item.fault, Disturbance):
                self._disturbances[item.fault.name] = self._binding.disturbances[item.fault.name]
        self._faults = keep

    def active_faults(self) -> tuple[Fault, ...]:
        return tuple(f.fault for f in self._faults)
