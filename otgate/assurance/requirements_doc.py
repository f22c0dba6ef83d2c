"""docs/REQUIREMENTS.md, rendered from docs/requirements.yaml (the YAML is the source; a test keeps the two
equal). Regenerate with `python -m otgate.assurance.requirements_doc > docs/REQUIREMENTS.md`."""

from __future__ import annotations

import sys

from otgate.assurance.requirements import RequirementCatalogue, load_requirements
from otgate.config.bundled import catalogue_path

CATALOGUE = catalogue_path("requirements.yaml")  # in the installed package, or the checkout's docs/


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_requirements_md(catalogue: RequirementCatalogue) -> str:
    lines = [
        "# Requirements",
        "",
        "<!-- Generated from requirements.yaml by otgate/assurance/requirements_doc.py: edit the YAML. -->",
        "",
        "The requirements otgate is built against, with stable ids (`R-NN`), and the clauses each is designed",
        "against. Tests declare the ids they prove with `@pytest.mark.requirement(...)`, HIL scenarios in",
        "`metadata.requirements`; `otgate evidence` shows, requirement by requirement, what proves it and the",
        "latest result (docs/ASSURANCE.md). ★ marks the fifteen that matter most. Clause numbers of the",
        "CISA/NSA guidance and of IEC 62443-3-3 come partly from secondary summaries: check them against the",
        "originals before quoting them. *Designed against* is not *certified* or *compliant*.",
        "",
        "Standards keys: " + "; ".join(f"`{k}` {v}" for k, v in catalogue.standards.items()) + ".",
        "",
    ]
    section = ""
    for req in catalogue.requirements:
        if req.section != section:
            section = req.section
            lines += ["", f"## {section}", "", "| id | requirement | designed against |", "|---|---|---|"]
        star = " ★" if req.top15 else ""
        standards = "<br>".join(f"{k}: {', '.join(v)}" for k, v in sorted(req.standards.items()))
        lines.append(
            f"| {req.id}{star} | **{_cell(req.title)}.** {_cell(req.statement)} | {_cell(standards)} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render_requirements_md(load_requirements(CATALOGUE)))
