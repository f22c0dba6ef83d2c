"""Results to join with the proofs: JUnit XML from pytest and from `otgate hil run`, and benchmark figures.

pytest's JUnit names a test case by `classname` (module, then class, dotted) and `name` (function, with
`[parameters]`). A parametrised test has one case per parameter set; its outcome is the worst of them
(failed > skipped > passed), so one failing parameter turns the requirement red. `otgate hil run` writes
one test case per assertion with classname `hil.<scenario id>`; a scenario's outcome is likewise the worst
of its assertions. Properties named `requirement` on a pytest case (added by the suite's conftest from the
marker) are returned too, so a marker applied dynamically still counts.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path


class Outcome(IntEnum):
    # Ordered by severity: the worst outcome of a group is its max().
    PASSED = 0
    SKIPPED = 1
    FAILED = 2


@dataclass
class CaseResult:
    outcome: Outcome
    cases: int = 1
    failures: list[str] = field(default_factory=list)
    requirements: set[str] = field(default_factory=set)

    def merge(self, other: CaseResult) -> None:
        self.outcome = max(self.outcome, other.outcome)
        self.cases += other.cases
        self.failures += other.failures
        self.requirements |= other.requirements


class ResultError(Exception):
    """A result file cannot be read or is not what it should be."""


def _outcome(case: ET.Element) -> tuple[Outcome, list[str]]:
    for tag in ("failure", "error"):
        bad = case.find(tag)
        if bad is not None:
            return Outcome.FAILED, [(bad.get("message") or bad.text or tag).strip().splitlines()[0][:300]]
    if case.find("skipped") is not None:
        return Outcome.SKIPPED, []
    return Outcome.PASSED, []


def _key(classname: str, name: str, modules: set[str]) -> str:
    if classname.startswith("hil."):
        return f"hil:{classname.removeprefix('hil.')}"
    function = name.split("[", 1)[0]
    parts = classname.split(".")
    # The module is the longest dotted prefix that is a known test module; the rest are classes.
    for cut in range(len(parts), 0, -1):
        module = ".".join(parts[:cut])
        if module in modules:
            return "::".join([module, *parts[cut:], function])
    return "::".join([classname, function])


def read_junit(paths: Iterable[Path], modules: set[str]) -> dict[str, CaseResult]:
    """Outcomes by proof key over every test case of every file (a later file's cases add to earlier)."""
    results: dict[str, CaseResult] = {}
    for path in paths:
        try:
            # The project's own result files, not network input.
            root = ET.parse(path).getroot()
        except (OSError, ET.ParseError) as error:
            raise ResultError(f"{path}: {error}") from error
        for case in root.iter("testcase"):
            key = _key(case.get("classname", ""), case.get("name", ""), modules)
            outcome, failures = _outcome(case)
            marks = {
                p.get("value", "")
                for p in case.iter("property")
                if p.get("name") == "requirement" and p.get("value")
            }
            result = CaseResult(outcome, failures=failures, requirements=marks)
            if key in results:
                results[key].merge(result)
            else:
                results[key] = result
    return results


@dataclass(frozen=True)
class Benchmark:
    name: str
    value: float
    unit: str
    target: float | None
    met: bool | None
    what: str


def read_benchmarks(path: Path) -> list[Benchmark]:
    """The figures of `make bench` (`benchmarks/results.json`), sorted by name."""
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
        return sorted(
            (
                Benchmark(
                    str(r["name"]),
                    float(r["value"]),
                    str(r["unit"]),
                    r.get("target"),
                    r.get("met"),
                    str(r["what"]),
                )
                for r in rows
            ),
            key=lambda b: b.name,
        )
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ResultError(f"{path}: not a benchmark results file ({error})") from error
