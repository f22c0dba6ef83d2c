"""The requirement and hazard catalogues (`docs/requirements.yaml`, `docs/hazards.yaml`) as typed values.

Requirement ids are `R-NN`, the requirement's number in the product requirements, zero-padded. Hazards are
owned by the HIL coverage work; their file is optional here, and when present every requirement a hazard
names must exist, so a renumbering cannot silently orphan a hazard.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

REQUIREMENT_ID = r"^R-\d{2}$"
RequirementId = Annotated[str, Field(pattern=REQUIREMENT_ID)]


class CatalogueError(Exception):
    """A catalogue file is missing, not YAML, or does not match its schema."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Requirement(_Model):
    id: RequirementId
    title: str
    section: str
    top15: bool = False
    statement: str
    source: str
    standards: dict[str, list[str]] = {}


class RequirementCatalogue(_Model):
    version: int
    standards: dict[str, str]
    requirements: list[Requirement]


class Hazard(BaseModel):
    # Owned by another document: unknown keys are kept out of the pack but do not fail the load.
    model_config = ConfigDict(frozen=True, extra="ignore")

    id: Annotated[str, Field(pattern=r"^HZ-[A-Z0-9]+-[A-Z0-9_-]+$")]
    title: str
    plant: str = ""
    description: str = ""
    requirements: list[RequirementId] = []


class HazardCatalogue(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    hazards: list[Hazard]


def _read_yaml(path: Path) -> object:
    try:
        return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    except (OSError, YAMLError) as error:
        raise CatalogueError(f"{path}: {error}") from error


def load_requirements(path: Path) -> RequirementCatalogue:
    try:
        catalogue = RequirementCatalogue.model_validate(_read_yaml(path))
    except ValidationError as error:
        raise CatalogueError(f"{path}: {error}") from error
    ids = [r.id for r in catalogue.requirements]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise CatalogueError(f"{path}: duplicate requirement ids {duplicates}")
    return catalogue


def load_hazards(path: Path, known: set[str]) -> tuple[Hazard, ...]:
    """The hazards of `path`, or none when the file does not exist (the hazard list is optional)."""
    if not path.is_file():
        return ()
    try:
        hazards = HazardCatalogue.model_validate(_read_yaml(path)).hazards
    except ValidationError as error:
        raise CatalogueError(f"{path}: {error}") from error
    for hazard in hazards:
        unknown = sorted(set(hazard.requirements) - known)
        if unknown:
            raise CatalogueError(f"{path}: hazard {hazard.id} names unknown requirements {unknown}")
    return tuple(hazards)
