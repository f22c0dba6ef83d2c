from __future__ import annotations

from pathlib import Path

import pytest

from otgate.assurance.requirements import CatalogueError, load_hazards, load_requirements

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def test_load_requirements_shipped_catalogue_r01_to_r57_in_order():
    catalogue = load_requirements(ROOT / "docs" / "requirements.yaml")
    assert [r.id for r in catalogue.requirements] == [f"R-{n:02d}" for n in range(1, 58)]
    assert sum(r.top15 for r in catalogue.requirements) == 15
    assert set(catalogue.requirements[0].standards) <= set(catalogue.standards)


def test_load_requirements_duplicate_id_refused(tmp_path: Path):
    text = (ROOT / "docs" / "requirements.yaml").read_text()
    (tmp_path / "r.yaml").write_text(text.replace("id: R-02", "id: R-01"))
    with pytest.raises(CatalogueError, match="duplicate requirement ids"):
        load_requirements(tmp_path / "r.yaml")


def test_load_hazards_missing_file_gives_no_hazards(tmp_path: Path):
    assert load_hazards(tmp_path / "hazards.yaml", {"R-01"}) == ()


def test_load_hazards_fixture_names_requirements():
    hazards = load_hazards(FIXTURES / "hazards.yaml", {"R-03", "R-04", "R-20"})
    assert [h.id for h in hazards] == ["HZ-TANK-OVERFLOW", "HZ-CSTR-RUNAWAY"]
    assert hazards[1].requirements == ["R-03", "R-20"]


def test_load_hazards_unknown_requirement_refused():
    with pytest.raises(CatalogueError, match="HZ-CSTR-RUNAWAY names unknown requirements"):
        load_hazards(FIXTURES / "hazards.yaml", {"R-03", "R-04"})


def test_requirements_md_is_rendered_from_the_yaml():
    from otgate.assurance.requirements_doc import render_requirements_md

    rendered = render_requirements_md(load_requirements(ROOT / "docs" / "requirements.yaml"))
    assert (ROOT / "docs" / "REQUIREMENTS.md").read_text() == rendered, (
        "regenerate: python -m otgate.assurance.requirements_doc > docs/REQUIREMENTS.md"
    )
