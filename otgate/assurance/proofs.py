"""What claims to prove each requirement: test functions marked `requirement(...)` and HIL scenarios.

Tests are found by reading their source (an AST walk, nothing imported or run), so the mapping is known
even for tests that did not run. A test proves the ids on its own decorator, on its class and in its
module's `pytestmark`. A scenario proves the `R-NN` ids in `metadata.requirements` (other ids there are
older free-form labels and are ignored) and names hazards in `metadata.hazards` when the field exists.

Proof keys are the ones results are matched on: `tests.core.test_rules::test_x` (module, then class and
function joined by `::`) and `hil:A01` for a scenario.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

MARKER = "requirement"
_REQUIREMENT = re.compile(r"^R-\d{2}$")


@dataclass(frozen=True, order=True)
class Proof:
    key: str
    kind: str  # "test" or "scenario"
    title: str
    requirements: tuple[str, ...]
    hazards: tuple[str, ...] = ()


def _marker_ids(node: ast.expr) -> list[str]:
    """Ids of `pytest.mark.requirement("R-01", ...)` in a decorator or `pytestmark` expression."""
    if isinstance(node, ast.List | ast.Tuple):
        return [i for element in node.elts for i in _marker_ids(element)]
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return []
    if node.func.attr != MARKER:
        return []
    return [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]


def _decorated(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> list[str]:
    return [i for decorator in node.decorator_list for i in _marker_ids(decorator)]


def _module_marks(tree: ast.Module) -> list[str]:
    ids: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets
        ):
            ids += _marker_ids(node.value)
    return ids


def _tests(body: Iterable[ast.stmt], prefix: str, inherited: list[str]) -> Iterable[tuple[str, list[str]]]:
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
            yield f"{prefix}::{node.name}", inherited + _decorated(node)
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            yield from _tests(node.body, f"{prefix}::{node.name}", inherited + _decorated(node))


def find_test_proofs(root: Path, tests_dir: str = "tests") -> list[Proof]:
    """Every test function under `root/tests_dir` that declares at least one requirement."""
    proofs = []
    for path in sorted((root / tests_dir).rglob("test_*.py")):
        module = ".".join(path.relative_to(root).with_suffix("").parts)
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for key, ids in _tests(tree.body, module, _module_marks(tree)):
            if ids:
                title = key.rsplit("::", 1)[1]
                proofs.append(Proof(key, "test", title, tuple(sorted(set(ids)))))
    return proofs


def find_scenario_proofs(scenario_dir: Path) -> list[Proof]:
    """Every HIL scenario in `scenario_dir` that names at least one `R-NN` requirement or a hazard."""
    yaml = YAML(typ="safe", pure=True)
    proofs = []
    for path in sorted(scenario_dir.glob("*.yaml")):
        try:
            document = yaml.load(path.read_text(encoding="utf-8"))
        except YAMLError:
            continue  # a broken scenario is `otgate hil run`'s to report; it proves nothing here
        metadata = document.get("metadata", {}) if isinstance(document, dict) else {}
        ids = [str(i) for i in metadata.get("requirements", []) if _REQUIREMENT.match(str(i))]
        hazards = [str(h) for h in metadata.get("hazards", [])]
        if ids or hazards:
            key = f"hil:{metadata.get('id', path.stem)}"
            title = str(metadata.get("title", path.stem))
            proofs.append(Proof(key, "scenario", title, tuple(sorted(set(ids))), tuple(sorted(set(hazards)))))
    return proofs
