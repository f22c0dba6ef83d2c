from __future__ import annotations

from pathlib import Path

import pytest

from otgate.assurance.results import Outcome, ResultError, read_benchmarks, read_junit

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest">
<testcase classname="tests.core.test_v" name="test_a[1]"><properties>
  <property name="requirement" value="R-03"/></properties></testcase>
<testcase classname="tests.core.test_v" name="test_a[2]"><failure message="assert 81 &lt;= 80">long</failure></testcase>
<testcase classname="tests.core.test_v" name="test_b"><skipped message="no chromium"/></testcase>
<testcase classname="tests.core.test_v.TestX" name="test_c"/>
<testcase classname="hil.A01" name="no_write: never above"/>
<testcase classname="hil.A01" name="chain: verifies"><failure message="chain broken at 4"/></testcase>
</testsuite></testsuites>
"""


def test_read_junit_parameters_merge_to_worst_outcome(tmp_path: Path):
    (tmp_path / "j.xml").write_text(JUNIT)
    results = read_junit([tmp_path / "j.xml"], {"tests.core.test_v"})
    a = results["tests.core.test_v::test_a"]
    assert (a.outcome, a.cases, a.failures, a.requirements) == (
        Outcome.FAILED,
        2,
        ["assert 81 <= 80"],
        {"R-03"},
    )
    assert results["tests.core.test_v::test_b"].outcome is Outcome.SKIPPED
    assert results["tests.core.test_v::TestX::test_c"].outcome is Outcome.PASSED
    assert results["hil:A01"].outcome is Outcome.FAILED
    assert results["hil:A01"].failures == ["chain broken at 4"]


def test_read_junit_not_xml_result_error(tmp_path: Path):
    (tmp_path / "j.xml").write_text("<testsuites>")
    with pytest.raises(ResultError, match=r"j\.xml"):
        read_junit([tmp_path / "j.xml"], set())


def test_read_benchmarks_shipped_results_sorted_by_name():
    rows = read_benchmarks(Path(__file__).resolve().parents[2] / "benchmarks" / "results.json")
    assert rows and [r.name for r in rows] == sorted(r.name for r in rows)


def test_read_benchmarks_wrong_shape_result_error(tmp_path: Path):
    (tmp_path / "r.json").write_text('{"validate": 1}')
    with pytest.raises(ResultError, match="not a benchmark results file"):
        read_benchmarks(tmp_path / "r.json")
