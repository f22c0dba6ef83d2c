from __future__ import annotations

from pathlib import Path

from otgate.assurance.proofs import find_scenario_proofs, find_test_proofs

TESTS = """
import pytest

pytestmark = [pytest.mark.timeout(5), pytest.mark.requirement("R-53")]


@pytest.mark.requirement("R-03", "R-04")
def test_limits():
    pass


def test_only_module_mark():
    pass


@pytest.mark.requirement("R-36")
class TestChain:
    @pytest.mark.requirement("R-39")
    async def test_clock(self):
        pass

    def helper(self):
        pass
"""


def test_find_test_proofs_decorator_class_and_module_marks(tmp_path: Path):
    (tmp_path / "tests" / "sub").mkdir(parents=True)
    (tmp_path / "tests" / "sub" / "test_x.py").write_text(TESTS)
    (tmp_path / "tests" / "sub" / "test_none.py").write_text("def test_nothing():\n    pass\n")
    proofs = {p.key: p.requirements for p in find_test_proofs(tmp_path)}
    assert proofs == {
        "tests.sub.test_x::test_limits": ("R-03", "R-04", "R-53"),
        "tests.sub.test_x::test_only_module_mark": ("R-53",),
        "tests.sub.test_x::TestChain::test_clock": ("R-36", "R-39", "R-53"),
    }


def test_find_scenario_proofs_keeps_r_ids_and_hazards_only(tmp_path: Path):
    (tmp_path / "A01.yaml").write_text(
        "metadata: {id: A01, title: Limits, requirements: [GW-REQ-LIMITS, R-03], hazards: [HZ-TANK-OVERFLOW]}\n"
    )
    (tmp_path / "A02.yaml").write_text("metadata: {id: A02, title: Old, requirements: [GW-REQ-RATE]}\n")
    (tmp_path / "bad.yaml").write_text("metadata: [unclosed\n")
    [proof] = find_scenario_proofs(tmp_path)
    assert (proof.key, proof.requirements, proof.hazards) == ("hil:A01", ("R-03",), ("HZ-TANK-OVERFLOW",))
