"""The evidence pack as a value: requirement by requirement, what proves it and how that went.

Pure: catalogues, proofs and results in, a JSON-ready dict out. Deterministic by construction (every list
sorted, no clock, no host name, no absolute path), so two packs of the same inputs are byte-identical and
the packs of two releases diff line by line.

Status of a requirement, worst first:
    failed     a proof that ran failed (a test, a scenario assertion, or a site check naming it)
    unproven   nothing declares that it proves it
    not_run    proofs are declared but none of them has a result in the inputs (or all were skipped)
    proven     at least one proof passed and none failed
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from otgate.assurance.proofs import Proof
from otgate.assurance.requirements import Hazard, RequirementCatalogue
from otgate.assurance.results import Benchmark, CaseResult, Outcome

PACK_FORMAT = 1
SEVERITY = {"proven": 0, "not_run": 1, "unproven": 2, "failed": 3}
_OUTCOME = {Outcome.PASSED: "passed", Outcome.SKIPPED: "skipped", Outcome.FAILED: "failed"}


@dataclass(frozen=True)
class Check:
    """A site check run by the evidence command (config hash, check-config, audit verify)."""

    name: str
    passed: bool
    detail: str
    requirements: tuple[str, ...] = ()


def _with_result_marks(proofs: Sequence[Proof], results: Mapping[str, CaseResult]) -> list[Proof]:
    """The declared proofs plus tests whose markers only the result file knows (applied at run time)."""
    by_key = {p.key: p for p in proofs}
    for key, result in results.items():
        if not result.requirements:
            continue
        known = by_key.get(key)
        if known is None:
            by_key[key] = Proof(key, "test", key.rsplit("::", 1)[-1], tuple(sorted(result.requirements)))
        elif not result.requirements <= set(known.requirements):
            ids = tuple(sorted(set(known.requirements) | result.requirements))
            by_key[key] = Proof(known.key, known.kind, known.title, ids, known.hazards)
    return sorted(by_key.values())


def _proof_row(proof: Proof, result: CaseResult | None) -> dict[str, Any]:
    row: dict[str, Any] = {"key": proof.key, "kind": proof.kind, "title": proof.title}
    if result is None:
        row.update(outcome="not_run", cases=0, failures=[])
    else:
        row.update(outcome=_OUTCOME[result.outcome], cases=result.cases, failures=sorted(result.failures))
    return row


def _status(rows: Sequence[Mapping[str, Any]]) -> str:
    outcomes = {row["outcome"] for row in rows}
    if "failed" in outcomes:
        return "failed"
    if not rows:
        return "unproven"
    return "proven" if "passed" in outcomes else "not_run"


def _worst(statuses: Sequence[str]) -> str:
    return max(statuses, key=SEVERITY.__getitem__, default="unproven")


def build_pack(
    catalogue: RequirementCatalogue,
    hazards: Sequence[Hazard],
    proofs: Sequence[Proof],
    results: Mapping[str, CaseResult],
    checks: Sequence[Check] = (),
    benchmarks: Sequence[Benchmark] = (),
    label: str = "",
) -> dict[str, Any]:
    all_proofs = _with_result_marks(proofs, results)
    known = {r.id for r in catalogue.requirements}
    rows_by_requirement: dict[str, list[dict[str, Any]]] = {i: [] for i in known}
    problems: list[str] = []
    for proof in all_proofs:
        row = _proof_row(proof, results.get(proof.key))
        for rid in proof.requirements:
            if rid in rows_by_requirement:
                rows_by_requirement[rid].append(row)
            else:
                problems.append(f"{proof.key} declares unknown requirement {rid}")
    for check in checks:
        row = {
            "key": f"check:{check.name}",
            "kind": "check",
            "title": check.detail,
            "cases": 1,
            "failures": [],
        }
        row["outcome"] = "passed" if check.passed else "failed"
        for rid in check.requirements:
            rows_by_requirement.setdefault(rid, []).append(row)
    hazards_of: dict[str, list[str]] = {}
    for hazard in hazards:
        for rid in hazard.requirements:
            hazards_of.setdefault(rid, []).append(hazard.id)
    requirements: list[dict[str, Any]] = []
    for req in catalogue.requirements:
        rows = sorted(rows_by_requirement[req.id], key=lambda r: (r["kind"], r["key"]))
        requirements.append(
            {
                "id": req.id,
                "title": req.title,
                "section": req.section,
                "top15": req.top15,
                "standards": {k: sorted(v) for k, v in sorted(req.standards.items())},
                "hazards": sorted(hazards_of.get(req.id, [])),
                "status": _status(rows),
                "proofs": rows,
            }
        )
    status_of = {r["id"]: r["status"] for r in requirements}
    hazard_rows = [
        {
            "id": h.id,
            "title": h.title,
            "plant": h.plant,
            "requirements": sorted(h.requirements),
            "scenarios": sorted(p.key for p in all_proofs if h.id in p.hazards),
            "status": _worst([status_of[r] for r in h.requirements]),
        }
        for h in sorted(hazards, key=lambda h: h.id)
    ]
    counts = {s: sum(r["status"] == s for r in requirements) for s in SEVERITY}
    return {
        "format": PACK_FORMAT,
        "label": label,
        "summary": {
            "requirements": len(requirements),
            **counts,
            "unproven_ids": [r["id"] for r in requirements if r["status"] == "unproven"],
            "failed_ids": [r["id"] for r in requirements if r["status"] == "failed"],
            "tests_declaring": sum(p.kind == "test" for p in all_proofs),
            "scenarios_declaring": sum(p.kind == "scenario" for p in all_proofs),
        },
        "standards": dict(sorted(catalogue.standards.items())),
        "requirements": requirements,
        "hazards": hazard_rows,
        "checks": [
            {"name": c.name, "passed": c.passed, "detail": c.detail, "requirements": sorted(c.requirements)}
            for c in sorted(checks, key=lambda c: c.name)
        ],
        "benchmarks": [
            {
                "name": b.name,
                "value": b.value,
                "unit": b.unit,
                "target": b.target,
                "met": b.met,
                "what": b.what,
            }
            for b in benchmarks
        ],
        "problems": sorted(problems),
    }
