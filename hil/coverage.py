"""Hazard coverage: which scenarios exercise which hazard of `docs/hazards.yaml`, and which none does.

The hazard list is the project's own (`hazards: [{id, title, plant, description, requirements}]`, ids
`HZ-<PLANT>-<NAME>`, requirements `R-NN`). Each scenario names the hazards and requirements it exercises in
its metadata. `otgate hil coverage` prints the matrix (hazard -> scenarios), the hazards no scenario covers
and the requirements the hazard list ties to no scenario, and exits 1 when a hazard is uncovered or a
scenario names a hazard the list does not have. The HTML report shows the same matrix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from otgate.config.bundled import catalogue_path
from otgate_hil.scenario import Scenario

DEFAULT_HAZARDS = catalogue_path("hazards.yaml")  # in the installed package, or the checkout's docs/


class Hazard(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[str, Field(pattern=r"^HZ-[A-Z]+-[A-Z0-9-]+$")]
    title: str
    plant: Literal["tank", "cstr", "ricker", "any"]
    description: str
    requirements: list[Annotated[str, Field(pattern=r"^R-[0-9]{2}$")]]


class HazardList(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    hazards: list[Hazard]


class HazardListError(Exception):
    """The hazard list cannot be read or does not validate."""


def load_hazards(path: Path = DEFAULT_HAZARDS) -> list[Hazard]:
    yaml = YAML(typ="safe", pure=True)
    yaml.version = (1, 2)
    try:
        listed = HazardList.model_validate(yaml.load(path.read_text(encoding="utf-8"))).hazards
    except (OSError, YAMLError, ValidationError) as error:
        raise HazardListError(f"{path}: {error}") from None
    ids = [h.id for h in listed]
    if len(ids) != len(set(ids)):
        raise HazardListError(f"{path}: hazard ids must be unique")
    return listed


@dataclass(frozen=True)
class Coverage:
    hazards: list[Hazard]
    by_hazard: dict[str, list[str]]  # hazard id -> scenario ids
    unknown: dict[str, list[str]]  # scenario id -> hazard ids the list does not have
    requirements: dict[str, list[str]]  # requirement -> scenario ids (as the scenarios name them)

    @property
    def uncovered(self) -> list[Hazard]:
        return [h for h in self.hazards if not self.by_hazard[h.id]]

    @property
    def untested_requirements(self) -> list[str]:
        """Requirements the hazard list ties to its hazards that no scenario names."""
        wanted = sorted({r for h in self.hazards for r in h.requirements})
        return [r for r in wanted if not self.requirements.get(r)]

    @property
    def ok(self) -> bool:
        return not self.uncovered and not self.unknown


def coverage(scenarios: Sequence[Scenario], hazards: Sequence[Hazard]) -> Coverage:
    known = {h.id for h in hazards}
    by_hazard: dict[str, list[str]] = {h.id: [] for h in hazards}
    unknown: dict[str, list[str]] = {}
    requirements: dict[str, list[str]] = {}
    for s in scenarios:
        meta = s.metadata
        for hz in meta.hazards:
            if hz in known:
                by_hazard[hz].append(meta.id)
            else:
                unknown.setdefault(meta.id, []).append(hz)
        for req in meta.requirements:
            requirements.setdefault(req, []).append(meta.id)
    return Coverage(list(hazards), by_hazard, unknown, requirements)


def format_text(cov: Coverage) -> str:
    width = max((len(h.id) for h in cov.hazards), default=10)
    lines = [f"{'hazard':<{width}}  {'n':>2}  scenarios"]
    for h in cov.hazards:
        ids = cov.by_hazard[h.id]
        lines.append(f"{h.id:<{width}}  {len(ids):>2}  {' '.join(ids) or '-- UNCOVERED --'}")
    lines.append("")
    covered = len(cov.hazards) - len(cov.uncovered)
    lines.append(f"{covered}/{len(cov.hazards)} hazards covered by at least one scenario")
    for h in cov.uncovered:
        lines.append(f"uncovered: {h.id} ({h.title})")
    for scenario, ids in sorted(cov.unknown.items()):
        lines.append(f"unknown hazard id in {scenario}: {', '.join(ids)}")
    untested = cov.untested_requirements
    lines.append(
        "requirements of the hazard list named by no scenario: "
        + (", ".join(untested) if untested else "none")
    )
    return "\n".join(lines)
