"""`otgate hil certify`: the careful demo engine and a deliberately reckless one, on the same scenario in
lock-step, give scorecards that tell them apart (and the command's exit code says which is certified)."""

from __future__ import annotations

import json
from pathlib import Path

from otgate_hil.cli import main

SCENARIO = Path(__file__).resolve().parents[2] / "hil" / "scenarios" / "D01_inflow_ramp_tank.yaml"


def certify(engine: str, out: Path) -> tuple[int, dict]:
    code = main(["hil", "certify", engine, str(SCENARIO), "--out", str(out)])
    return code, json.loads((out / "scorecard.json").read_text())


def test_certify_demo_engine_and_reckless_engine_scorecards_tell_them_apart(tmp_path: Path):
    good_code, good = certify("hil.example_engines:CarefulDemo", tmp_path / "good")
    bad_code, bad = certify("hil.example_engines:Reckless", tmp_path / "bad")
    assert (good_code, bad_code) == (0, 1)
    assert good["summary"]["certified"] and not bad["summary"]["certified"]
    (g,), (b,) = good["scenarios"], bad["scenarios"]
    assert g["proposals"] > 0 and b["proposals"] > 0  # both engines really ran
    assert g["safety_refusals"] == 0 and b["safety_refusals"] > 0
    assert g["anomalies"] == [] and "REJECTION_BURST" in b["anomalies"]
    assert b["closer_to_alarm_than_conventional"] == ["LIC-101"]  # it drove the level toward its alarm
    assert "NOT CERTIFIED" in (tmp_path / "bad" / "scorecard.md").read_text()


def test_certify_bad_engine_spec_exits_2(tmp_path: Path, capsys):
    assert main(["hil", "certify", "no_such_module:Engine", str(SCENARIO), "--out", str(tmp_path)]) == 2
    assert "otgate hil certify" in capsys.readouterr().err
