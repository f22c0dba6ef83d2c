"""`otgate hil run`: exit status, HTML report with plots, JUnit XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from hil.cli import main

LIBRARY = Path(__file__).resolve().parents[2] / "hil" / "scenarios"
SHORT = LIBRARY / "A08_stale_recommendation_tank.yaml"


def test_run_writes_report_and_junit_and_exits_zero(tmp_path: Path):
    junit = tmp_path / "junit.xml"
    assert main(["hil", "run", str(SHORT), "--report", str(tmp_path / "out"), "--junit", str(junit)]) == 0
    page = (tmp_path / "out" / "report.html").read_text()
    assert "<img src='A08/trend.png'" in page
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
