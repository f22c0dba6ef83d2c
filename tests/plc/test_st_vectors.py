"""The Structured Text itself (plc/PRG_SupervisedLoop.st and its blocks) against plc/test_vectors.yaml,
run by the small interpreter in `st_interpreter.py`: the vectors hold for the ST, not only for the
simulator's Python PLC (tests/plc/test_vectors.py runs the same rows there)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.plc.st_interpreter import Instance, load_units
from tests.plc.test_vectors import DOCUMENT, PARAMETERS

UNITS = load_units(sorted((Path(__file__).resolve().parents[2] / "plc").glob("*.st")))
OUTPUTS = {
    "mode": "nMode",
    "sp": "rWorkingSp",
    "rsp": "rRemoteSp",
    "mode_req": "nModeReq",
    "local_sp": "rLocalSp",
}


def cold_start(units: Mapping[str, Any]) -> Instance:
    """A freshly initialised PLC program, configured with the vector file's parameters."""
    program = Instance(units["PRG_SupervisedLoop"], units)
    for name, key in (
        ("rScanTime", "scan_s"),
        ("rShedTimeout", "shed_timeout_s"),
        ("rSpLoLim", "sp_lo"),
        ("rSpHiLim", "sp_hi"),
        ("rSpRate", "sp_rate_per_s"),
        ("rWorkingSp", "default_sp"),
        ("rLocalSp", "default_sp"),
        ("rRemoteSp", "default_sp"),
    ):
        program.set(name, PARAMETERS[key])
    return program


def run_vector_st(vector: Mapping[str, Any], units: Mapping[str, Any] = UNITS) -> list[str]:
    program = cold_start(units)
    mismatches = []
    scan = 0
    for number, row in enumerate(vector["scans"], start=1):
        cold = bool(row.get("restart"))
        if cold:
            restarts = program.vars["nRestarts"]
            program = cold_start(units)
            program.set("nRestarts", restarts)  # RETAIN
        if "local_sp" in row:
            program.set("rLocalSp", row["local_sp"])
        for key, name in (("hb", "nHeartbeat"), ("mode_req", "nModeReq"), ("rsp", "rRemoteSp")):
            if key in row:
                program.set(name, row[key])
        for repeat in range(int(row.get("repeat", 1))):
            first = repeat == 0
            program.set("bColdStart", cold and first)
            program.set("bOperatorMan", first and row.get("operator") == "MAN")
            program.set("bOperatorAuto", first and row.get("operator") == "AUTO")
            program.run()
            scan += 1
        for name, expected in row.get("expect", {}).items():
            got = float(program.vars[OUTPUTS[name]])
            if not math.isclose(got, float(expected), abs_tol=1e-6):
                mismatches.append(
                    f"row {number} (t = {scan * PARAMETERS['scan_s']:g} s): {name} = {got:g}, expected {expected}"
                )
    return mismatches


@pytest.mark.parametrize(
    "vector",
    [
        pytest.param(v, id=v["id"], marks=pytest.mark.requirement(*v["requirements"]))
        for v in DOCUMENT["vectors"]
    ],
)
def test_structured_text_passes_vector(vector: Mapping[str, Any]):
    assert run_vector_st(vector) == []


def test_structured_text_counts_cold_starts_in_a_retained_counter():
    vector = {"id": "X", "scans": [{"restart": True}, {"restart": True, "expect": {"mode": 1}}]}
    assert run_vector_st(vector) == []


def test_structured_text_broken_block_caught_by_the_vectors(tmp_path: Path):
    # Mutant: the watchdog never goes stale. V03 (shed at the timeout) must catch it.
    source = (Path(__file__).resolve().parents[2] / "plc" / "FB_HeartbeatWatchdog.st").read_text()
    mutant = source.replace("bHealthy := rStaleFor < rShedTimeout;", "bHealthy := TRUE;")
    assert mutant != source
    (tmp_path / "FB_HeartbeatWatchdog.st").write_text(mutant)
    units = {**UNITS, **load_units([tmp_path / "FB_HeartbeatWatchdog.st"])}
    v03 = next(v for v in DOCUMENT["vectors"] if v["id"] == "V03")
    assert run_vector_st(v03, units) == [
        "row 3 (t = 2.5 s): mode = 2, expected 1",
        "row 4 (t = 4.5 s): mode = 2, expected 1",
    ]
