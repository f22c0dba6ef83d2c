"""`otgate evidence`: the pack from result files, and the pack turning red when a protection is removed."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from otgate.audit.store import AuditStore, audit_path
from otgate.cli import main

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "assurance" / "fixtures"


def evidence(out: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    code = main(["evidence", "--out", str(out), "--root", str(ROOT), *extra])
    return code, json.loads((out / "evidence.json").read_text())


def statuses(pack: dict[str, Any]) -> dict[str, str]:
    return {r["id"]: r["status"] for r in pack["requirements"]}


def test_evidence_no_results_every_requirement_listed_and_unproven_in_red(tmp_path: Path):
    code, pack = evidence(tmp_path / "pack")
    assert code == 0
    assert len(pack["requirements"]) == 57
    # Without test results only the site checks (the shipped configs pass check-config) prove anything.
    proven = [r for r in pack["requirements"] if r["status"] == "proven"]
    assert [r["id"] for r in proven] == ["R-49"]
    assert {p["kind"] for p in proven[0]["proofs"] if p["outcome"] == "passed"} == {"check"}
    assert pack["summary"]["unproven_ids"] == [i for i, s in statuses(pack).items() if s == "unproven"]
    assert pack["summary"]["unproven_ids"]
    page = (tmp_path / "pack" / "evidence.html").read_text()
    assert "Proved by nothing: " + ", ".join(pack["summary"]["unproven_ids"]) in page
    assert [c["name"] for c in pack["checks"]] == [
        "check-config plant_configs/cstr.yaml",
        "check-config plant_configs/ricker.yaml",
        "check-config plant_configs/tank.yaml",
    ]


def test_evidence_twice_same_bytes(tmp_path: Path):
    evidence(tmp_path / "a", "--hazards", str(FIXTURES / "hazards.yaml"))
    evidence(tmp_path / "b", "--hazards", str(FIXTURES / "hazards.yaml"))
    for name in ("evidence.json", "evidence.html"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_evidence_hazard_fixture_read_and_absent_file_tolerated(tmp_path: Path):
    _, pack = evidence(tmp_path / "with", "--hazards", str(FIXTURES / "hazards.yaml"))
    assert [h["id"] for h in pack["hazards"]] == ["HZ-CSTR-RUNAWAY", "HZ-TANK-OVERFLOW"]
    _, pack = evidence(tmp_path / "without", "--hazards", str(tmp_path / "no-such-hazards.yaml"))
    assert pack["hazards"] == []


def test_evidence_failed_junit_case_turns_its_requirement_red_and_exits_1(tmp_path: Path):
    junit = tmp_path / "junit.xml"
    junit.write_text(
        '<testsuites><testsuite name="pytest">'
        '<testcase classname="tests.core.test_validation" name="test_validate_seen_id_replay">'
        '<failure message="REPLAY not in codes"/></testcase></testsuite></testsuites>'
    )
    code, pack = evidence(tmp_path / "pack", "--junit", str(junit))
    assert code == 1
    assert statuses(pack)["R-10"] == "failed"
    assert pack["summary"]["failed_ids"] == ["R-10"]


def test_evidence_audit_trail_verified_or_broken(tmp_path: Path):
    with AuditStore(tmp_path / "data", None) as store:
        for i in range(3):
            store.append("decision", "engine:a", {"i": i}, 1e9 + i)
    code, pack = evidence(tmp_path / "ok", "--data-dir", str(tmp_path / "data"))
    [check] = [c for c in pack["checks"] if c["name"] == "audit verify"]
    assert (code, check["passed"], check["detail"].split(",")[0]) == (0, True, "intact: 3 records")
    db = sqlite3.connect(audit_path(tmp_path / "data"), isolation_level=None)
    db.execute("DROP TRIGGER IF EXISTS audit_no_update")
    db.execute("UPDATE audit SET data = '{\"i\": 7}' WHERE seq = 2")
    db.close()
    code, pack = evidence(tmp_path / "broken", "--data-dir", str(tmp_path / "data"))
    [check] = [c for c in pack["checks"] if c["name"] == "audit verify"]
    assert (code, check["passed"], statuses(pack)["R-36"]) == (1, False, "failed")
    assert check["detail"].startswith("BROKEN at record 2")


def test_evidence_unreadable_catalogue_exit_2(tmp_path: Path):
    (tmp_path / "r.yaml").write_text("requirements: [")
    assert (
        main(
            [
                "evidence",
                "--out",
                str(tmp_path),
                "--root",
                str(ROOT),
                "--requirements",
                str(tmp_path / "r.yaml"),
            ]
        )
        == 2
    )


def _copy_project(dest: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("otgate", "simulator", "hil", "plant_configs"):
        shutil.copytree(ROOT / name, dest / name, ignore=ignore)
    (dest / "tests").mkdir()
    for name in ("__init__.py", "conftest.py"):
        shutil.copy(ROOT / "tests" / name, dest / "tests" / name)
    shutil.copytree(ROOT / "tests" / "core", dest / "tests" / "core", ignore=ignore)
    (dest / "docs").mkdir()
    shutil.copy(ROOT / "docs" / "requirements.yaml", dest / "docs")
    shutil.copy(ROOT / "pyproject.toml", dest)
    return dest


def _remove_range_rule(project: Path) -> None:
    """Mutant: the hard-limit rule never fires (`if <limits violated>:` becomes `if False:`)."""
    rules = project / "otgate" / "core" / "rules.py"
    text = rules.read_text()
    mutated = re.sub(r"(def check_range\(.*?\n\s+if )[^\n]*:", r"\1False:", text, count=1, flags=re.S)
    assert mutated != text, "check_range changed shape: update the mutation point"
    rules.write_text(mutated)


@pytest.mark.timeout(240)
@pytest.mark.parametrize("mutant", [False, True], ids=["intact", "range_rule_removed"])
def test_evidence_protection_removed_in_a_copy_turns_r03_red(tmp_path: Path, mutant: bool):
    project = _copy_project(tmp_path / "project")
    if mutant:
        _remove_range_rule(project)
    junit = tmp_path / "junit.xml"
    env = {**os.environ, "PYTHONPATH": str(project)}
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "tests/core/test_validation.py", f"--junitxml={junit}"],
        cwd=project,
        env=env,
        check=False,
        capture_output=True,
        timeout=200,
    )
    code = main(["evidence", "--out", str(tmp_path / "pack"), "--root", str(project), "--junit", str(junit)])
    pack = json.loads((tmp_path / "pack" / "evidence.json").read_text())
    r03 = next(r for r in pack["requirements"] if r["id"] == "R-03")
    if mutant:
        assert (code, r03["status"]) == (1, "failed")
        assert any("OUT_OF_RANGE" in f for p in r03["proofs"] for f in p["failures"])
    else:
        assert (code, r03["status"]) == (0, "proven")


@pytest.mark.timeout(180)
def test_evidence_run_tests_collects_its_own_junit(tmp_path: Path):
    code, pack = evidence(tmp_path / "pack", "--run-tests", "--pytest-args", "tests/core/test_codec.py")
    assert code == 0
    assert (tmp_path / "pack" / "junit.xml").is_file()
    r11 = next(r for r in pack["requirements"] if r["id"] == "R-11")
    passed = {p["key"] for p in r11["proofs"] if p["outcome"] == "passed"}
    assert "tests.core.test_codec::test_encode_float32_12_5_known_answer" in passed
