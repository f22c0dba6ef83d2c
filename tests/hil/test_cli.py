"""`otgate hil run`: exit status, HTML report with plots, JUnit XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from otgate_hil.cli import main

LIBRARY = Path(__file__).resolve().parents[2] / "hil" / "scenarios"
SHORT = LIBRARY / "A08_stale_recommendation_tank.yaml"


def test_run_writes_report_and_junit_and_exits_zero(tmp_path: Path):
    junit = tmp_path / "junit.xml"
    assert main(["hil", "run", str(SHORT), "--report", str(tmp_path / "out"), "--junit", str(junit)]) == 0
    page = (tmp_path / "out" / "report.html").read_text()
    assert "<img src='A08/trend.png'" in page
    assert "decision latency p95" in page and " ms</td>" in page and "valve travel" in page
    assert "id='coverage'" in page and "HZ-ANY-REPLAY" in page and "UNCOVERED" in page  # only A08 ran
    assert (tmp_path / "out" / "A08" / "trend.png").read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "out" / "A08" / "trace.csv").exists()
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "0"
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["seed"] == "108" and props["plant"] == "tank" and len(props["trace_sha256"] or "") == 64


def test_failing_run_exits_one_with_failure_text_in_body(tmp_path: Path):
    junit = tmp_path / "junit.xml"
    assert main(["hil", "run", str(SHORT), "--junit", str(junit), "--subject", "passthrough"]) == 1
    failures = list(ET.parse(junit).getroot().iter("failure"))
    assert failures
    assert all(f.text and f.text == f.get("message") for f in failures)


def test_unloadable_scenario_exits_two(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: Scenario\n")
    assert main(["hil", "run", str(bad)]) == 2
    assert "bad.yaml" in capsys.readouterr().err


def test_coverage_lists_every_hazard_and_exits_zero_for_the_library(capsys: pytest.CaptureFixture[str]):
    assert main(["hil", "coverage"]) == 0
    out = capsys.readouterr().out
    assert "HZ-CSTR-RUNAWAY" in out and "UNCOVERED" not in out
    assert "hazards covered by at least one scenario" in out


def test_coverage_names_uncovered_and_unknown_hazards_and_exits_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    hazards = tmp_path / "hazards.yaml"
    hazards.write_text(
        "hazards:\n"
        "  - {id: HZ-CSTR-RUNAWAY, title: runaway, plant: cstr, description: d, requirements: [R-03]}\n"
        "  - {id: HZ-TANK-NOBODY, title: nobody tests me, plant: tank, description: d, requirements: [R-99]}\n"
    )
    scenario = LIBRARY / "A01_out_of_range_sp_cstr.yaml"
    assert main(["hil", "coverage", str(scenario), "--hazards", str(hazards)]) == 1
    out = capsys.readouterr().out
    assert "uncovered: HZ-TANK-NOBODY (nobody tests me)" in out
    assert "R-99" in out


def test_coverage_with_a_broken_hazard_list_exits_two(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    hazards = tmp_path / "hazards.yaml"
    hazards.write_text(
        "hazards:\n  - {id: bad id, title: t, plant: mars, description: d, requirements: []}\n"
    )
    assert main(["hil", "coverage", "--hazards", str(hazards)]) == 2
    assert "hazards.yaml" in capsys.readouterr().err
