"""The PLC companion logic's test vectors (plc/test_vectors.yaml) against the simulator's virtual PLC.

The vectors are the executable half of docs/PLC_INTEGRATION.md: the same table a PLC programmer replays
against the Structured Text blocks in plc/. Each vector runs on a fresh one-loop PLC built from the
vector file's parameters; the requirement ids of a vector become its test's `requirement` marker.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from otgate_simulator.pid import PiTuning
from otgate_simulator.plc import HEARTBEAT_TAG, SCAN_S, SHED_TIMEOUT_TAG, LoopSpec, Mode, Plc

VECTORS = Path(__file__).resolve().parents[2] / "plc" / "test_vectors.yaml"
DOCUMENT = YAML(typ="safe", pure=True).load(VECTORS.read_text())
PARAMETERS: dict[str, float] = DOCUMENT["parameters"]
INPUTS = {"restart", "operator", "local_sp", "hb", "mode_req", "rsp", "repeat", "expect"}
OUTPUTS = {"mode", "sp", "rsp", "mode_req", "local_sp"}


class OneLoop:
    """A PLC program with the single loop of the vector file, no trips and an identity setpoint."""

    def __init__(self, parameters: Mapping[str, float]) -> None:
        self.loops = (
            LoopSpec(
                name="LOOP",
                pv_tag="PV",
                out_tag="OUT",
                tuning=PiTuning(kc=1.0, ti_s=100.0, direct=False, out_lo=0.0, out_hi=100.0),
                default_sp=parameters["default_sp"],
                sp_lo=parameters["sp_lo"],
                sp_hi=parameters["sp_hi"],
                sp_rate_per_s=parameters["sp_rate_per_s"],
                rsp_tag="RSP",
                sp_tag="SP",
                mode_tag="MODE",
                mode_req_tag="MODE_REQ",
            ),
        )
        self.trip_tags: tuple[str, ...] = ()
        self.bypass_tags: dict[str, str] = {}
        self.constants = {SHED_TIMEOUT_TAG: parameters["shed_timeout_s"]}

    def effective_sp(self, loop: str, sp: float, measured: Mapping[str, float]) -> float:
        return sp

    def force_outputs(self, outputs: Mapping[str, float], trips: Mapping[str, bool]) -> dict[str, float]:
        return dict(outputs)


def _apply(plc: Plc, registers: dict[str, float], row: Mapping[str, Any], now_s: float) -> None:
    if row.get("restart"):
        plc.restart(now_s)
    if "operator" in row:
        plc.set_mode("LOOP", Mode[row["operator"]])
    if "local_sp" in row:
        plc.set_local_sp("LOOP", float(row["local_sp"]))
    for key, tag in (("hb", HEARTBEAT_TAG), ("mode_req", "MODE_REQ"), ("rsp", "RSP")):
        if key in row:
            registers[tag] = float(row[key])


def _outputs(plc: Plc, registers: Mapping[str, float]) -> dict[str, float]:
    state = plc.states["LOOP"]
    return {
        "mode": float(registers["MODE"]),
        "sp": registers["SP"],
        "rsp": registers["RSP"],
        "mode_req": registers["MODE_REQ"],
        "local_sp": state.local_sp,
    }


def run_vector(vector: Mapping[str, Any]) -> list[str]:
    """Every mismatch between the vector's expectations and the virtual PLC, as readable lines."""
    registers: dict[str, float] = {"PV": PARAMETERS["default_sp"]}
    plc = Plc(OneLoop(PARAMETERS), registers, {"OUT": 50.0})
    mismatches = []
    scan = 0
    for number, row in enumerate(vector["scans"], start=1):
        unknown = set(row) - INPUTS | set(row.get("expect", {})) - OUTPUTS
        assert not unknown, f"{vector['id']} row {number}: unknown keys {sorted(unknown)}"
        _apply(plc, registers, row, scan * SCAN_S)
        for _ in range(int(row.get("repeat", 1))):
            scan += 1
            plc.scan(scan * SCAN_S, {"PV": registers["SP"]}, {})
        got = _outputs(plc, registers)
        for name, expected in row.get("expect", {}).items():
            if not math.isclose(got[name], float(expected), abs_tol=1e-6):
                mismatches.append(
                    f"row {number} (t = {scan * SCAN_S:g} s): {name} = {got[name]:g}, expected {expected}"
                )
    return mismatches


def test_vector_file_scan_time_is_the_virtual_plcs():
    assert PARAMETERS["scan_s"] == SCAN_S


@pytest.mark.parametrize(
    "vector",
    [
        pytest.param(v, id=v["id"], marks=pytest.mark.requirement(*v["requirements"]))
        for v in DOCUMENT["vectors"]
    ],
)
def test_virtual_plc_passes_vector(vector: Mapping[str, Any]):
    assert run_vector(vector) == []


def test_run_vector_wrong_expectation_reported_with_row_and_time():
    vector = {"id": "X", "scans": [{"hb": 1, "mode_req": 2, "expect": {"mode": 1, "sp": 650.0}}]}
    assert run_vector(vector) == ["row 1 (t = 0.5 s): mode = 2, expected 1"]
