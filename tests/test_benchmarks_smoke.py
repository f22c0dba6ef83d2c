"""Every benchmark runs end to end on a tiny size and writes both files. No timing is asserted here:
times are `make bench`'s business, compared as ratios, never in the test suite."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from benchmarks.__main__ import run
from benchmarks.figure import FIGURES

FIELDS = {"name", "value", "unit", "baseline", "ratio", "n", "spread"}


@pytest.mark.timeout(180)
def test_benchmarks_tiny_run_writes_every_figure_with_a_baseline(tmp_path: Path) -> None:
    figures = run([], tiny=True, out=tmp_path, say=lambda _line: None)

    rows = json.loads((tmp_path / "benchmarks" / "results.json").read_text())
    assert [row["name"] for row in rows] == [f.name for f in figures]
    assert {row["figure"] for row in rows} == set(FIGURES)
    for row in rows:
        assert row.keys() >= FIELDS
        assert row["name"].startswith(row["figure"])
        assert row["n"] >= 1
        assert all(math.isfinite(row[key]) for key in ("value", "baseline", "ratio", "spread"))
    report = (tmp_path / "BENCHMARKS.md").read_text()
    assert all(f"`{row['name']}`" in report for row in rows)
    assert "added by a later issue" not in report
