from __future__ import annotations

import json
from pathlib import Path

from otgate.assurance.html import render_html
from otgate.assurance.pack import Check, build_pack
from otgate.assurance.proofs import Proof
from otgate.assurance.requirements import Hazard, Requirement, RequirementCatalogue
from otgate.assurance.results import CaseResult, Outcome

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _catalogue(*ids: str) -> RequirementCatalogue:
    return RequirementCatalogue(
        version=1,
        standards={"owasp_llm": "OWASP"},
        requirements=[
            Requirement(id=i, title=f"title {i}", section="A", statement="s", source="src", standards={})
            for i in ids
        ],
    )


def _proof(key: str, *ids: str, hazards: tuple[str, ...] = ()) -> Proof:
    return Proof(key, "scenario" if key.startswith("hil:") else "test", key, ids, hazards)


def test_build_pack_status_per_requirement():
    proofs = [_proof("t::pass", "R-01", "R-02"), _proof("t::fail", "R-02"), _proof("t::norun", "R-03")]
    results = {
        "t::pass": CaseResult(Outcome.PASSED),
        "t::fail": CaseResult(Outcome.FAILED, failures=["assert 1 == 2"]),
    }
    pack = build_pack(_catalogue("R-01", "R-02", "R-03", "R-04"), (), proofs, results)
    assert {r["id"]: r["status"] for r in pack["requirements"]} == {
        "R-01": "proven",
        "R-02": "failed",
        "R-03": "not_run",
        "R-04": "unproven",
    }
    assert pack["summary"]["unproven_ids"] == ["R-04"]
    assert pack["summary"]["failed_ids"] == ["R-02"]


def test_build_pack_only_skipped_is_not_proven():
    pack = build_pack(_catalogue("R-01"), (), [_proof("t::s", "R-01")], {"t::s": CaseResult(Outcome.SKIPPED)})
    assert pack["requirements"][0]["status"] == "not_run"


def test_build_pack_failed_site_check_turns_its_requirement_red():
    pack = build_pack(
        _catalogue("R-36"),
        (),
        [_proof("t::ok", "R-36")],
        {"t::ok": CaseResult(Outcome.PASSED)},
        [Check("audit verify", False, "BROKEN at record 4", ("R-36",))],
    )
    assert pack["requirements"][0]["status"] == "failed"


def test_build_pack_marker_known_only_from_results_counts_and_unknown_id_is_a_problem():
    results = {"t::dyn": CaseResult(Outcome.PASSED, requirements={"R-01", "R-99"})}
    pack = build_pack(_catalogue("R-01"), (), [], results)
    assert pack["requirements"][0]["status"] == "proven"
    assert pack["problems"] == ["t::dyn declares unknown requirement R-99"]


def test_build_pack_hazard_takes_worst_requirement_and_lists_its_scenarios():
    hazards = (
        Hazard(id="HZ-TANK-OVERFLOW", title="overflow", plant="tank", requirements=["R-01", "R-02"]),
        Hazard(id="HZ-TANK-DRY", title="dry run", plant="tank", requirements=["R-01"]),
    )
    proofs = [_proof("hil:A02", "R-01", hazards=("HZ-TANK-OVERFLOW",))]
    pack = build_pack(_catalogue("R-01", "R-02"), hazards, proofs, {"hil:A02": CaseResult(Outcome.PASSED)})
    rows = {h["id"]: (h["status"], h["scenarios"]) for h in pack["hazards"]}
    assert rows == {"HZ-TANK-DRY": ("proven", []), "HZ-TANK-OVERFLOW": ("unproven", ["hil:A02"])}
    assert pack["requirements"][0]["hazards"] == ["HZ-TANK-DRY", "HZ-TANK-OVERFLOW"]


def test_build_pack_same_inputs_in_any_order_same_bytes():
    proofs = [_proof("t::b", "R-02", "R-01"), _proof("t::a", "R-01")]
    results = {"t::a": CaseResult(Outcome.PASSED), "t::b": CaseResult(Outcome.FAILED, failures=["x"])}
    one = build_pack(_catalogue("R-01", "R-02"), (), proofs, results)
    two = build_pack(_catalogue("R-01", "R-02"), (), list(reversed(proofs)), dict(reversed(results.items())))
    assert json.dumps(one, sort_keys=True) == json.dumps(two, sort_keys=True)
    assert render_html(one) == render_html(two)


def test_render_html_unproven_in_red_and_test_names_escaped():
    proofs = [_proof("t::<script>", "R-01")]
    pack = build_pack(_catalogue("R-01", "R-02"), (), proofs, {"t::<script>": CaseResult(Outcome.PASSED)})
    page = render_html(pack)
    assert '<tr class="unproven" id="R-02">' in page
    assert "nothing proves this requirement" in page
    assert "<script>" not in page and "&lt;script&gt;" in page
