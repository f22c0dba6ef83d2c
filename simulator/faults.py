"""Faults injected into a running simulation: sensors, actuators, the PLC itself and the process.

Sensor faults act only on what the transmitter reports (the PLC and the gateway see them), never on the
true process value or on the independent trip switches, which is what lets scenarios check that a fault
was caught before it did physical harm.

Each fault is a frozen value; `Simulation.inject` turns it into an `ActiveFault` that records when it
started and, for a freeze or a stuck actuator, the value it holds.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Freeze:
    """The transmitter keeps reporting the value it had when the fault started."""

    tag: str


@dataclass(frozen=True, slots=True)
class Bias:
    tag: str
    offset: float  # engineering units


@dataclass(frozen=True, slots=True)
class Drift:
    tag: str
    rate_per_s: float  # engineering units per second, from the start of the fault


@dataclass(frozen=True, slots=True)
class NoiseBurst:
    tag: str
    sigma: float  # extra Gaussian noise, engineering units


@dataclass(frozen=True, slots=True)
class Dropout:
    """Fail-low: a broken loop or a dead transmitter reads the bottom of its range."""

    tag: str
    value: float = 0.0


@dataclass(frozen=True, slots=True)
class ActuatorStuck:
    """The actuator driven by output `tag` stops moving: at its current position, or at `position`."""

    tag: str
    position: float | None = None  # in the output's unit


@dataclass(frozen=True, slots=True)
class ActuatorSluggish:
    tag: str
    tau_factor: float  # the actuator's time constant is multiplied by this (> 1: slower)


@dataclass(frozen=True, slots=True)
class PlcRestart:
    """A PLC cold restart (applied once, at injection)."""


@dataclass(frozen=True, slots=True)
class WatchdogBroken:
    """The PLC's heartbeat watchdog never trips: a PLC program missing the contract's shed (a commissioning
    defect `otgate selftest` must catch). Lasts until the fault is cleared."""


@dataclass(frozen=True, slots=True)
class Disturbance:
    """A process disturbance by name, e.g. `feed_temp_k` (CSTR), `feed_ya` (Ricker), `extra_outflow_m3h`."""

    name: str
    value: float


SensorFault = Freeze | Bias | Drift | NoiseBurst | Dropout
ActuatorFault = ActuatorStuck | ActuatorSluggish
Fault = SensorFault | ActuatorFault | PlcRestart | WatchdogBroken | Disturbance
SENSOR_FAULTS = (Freeze, Bias, Drift, NoiseBurst, Dropout)


@dataclass(frozen=True, slots=True)
class ActiveFault:
    fault: Fault
    start_s: float
    held: float = 0.0  # freeze value or stuck position
    rng: np.random.Generator | None = None  # own stream for a noise burst


def target_of(fault: Fault) -> str:
    """The tag, output tag or disturbance name a fault acts on ("" for the PLC itself)."""
    if isinstance(fault, Disturbance):
        return fault.name
    if isinstance(fault, PlcRestart | WatchdogBroken):
        return ""
    return fault.tag


def stable_id(name: str) -> int:
    """A hash of `name` that is the same in every process (Python's `hash` is salted per process)."""
    return zlib.crc32(name.encode("utf-8"))


def generator(seed: int, name: str, *extra: int) -> np.random.Generator:
    """The random stream of one named component: adding a component never shifts another one's stream."""
    return np.random.Generator(
        np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(stable_id(name), *extra)))
    )


def apply_sensor_faults(value: float, active: Sequence[ActiveFault], now_s: float) -> float:
    """What the transmitter reports given the faults on its tag, applied in injection order."""
    for item in active:
        fault = item.fault
        if isinstance(fault, Freeze):
            value = item.held
        elif isinstance(fault, Bias):
            value += fault.offset
        elif isinstance(fault, Drift):
            value += fault.rate_per_s * (now_s - item.start_s)
        elif isinstance(fault, NoiseBurst) and item.rng is not None:
            value += float(item.rng.normal(0.0, fault.sigma))
        elif isinstance(fault, Dropout):
            value = fault.value
    return value
