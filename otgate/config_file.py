"""Load plant configs from YAML files, reporting every problem as ``FILE:LINE:COL: message``.

YAML is read as YAML 1.2 (``no`` stays a string, ``1.0e9`` is a number) by composing the node tree and
building plain data ourselves, which keeps each node's position and refuses what a config never needs:
anchors and aliases (no billion-laughs expansion), non-standard tags (no Python objects), duplicate
keys and non-string keys.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from otgate.core.config import PlantConfig, reference_problems

MAX_FILE_BYTES = 1_000_000
Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Position:
    line: int  # 1-based
    column: int  # 1-based


@dataclass(frozen=True)
class ConfigProblem:
    file: str
    position: Position
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.position.line}:{self.position.column}: {self.message}"


class ConfigError(Exception):
    def __init__(self, problems: list[ConfigProblem]) -> None:
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


@dataclass(frozen=True)
class LoadedConfig:
    config: PlantConfig
    path: Path
    sha256: str  # of the file's bytes, recorded in the audit trail at every load


def load_config(path: str | Path) -> PlantConfig:
    return load_config_file(path).config


def load_config_file(path: str | Path) -> LoadedConfig:
    path = Path(path)
    name = str(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigError([ConfigProblem(name, Position(1, 1), f"cannot read: {error.strerror}")]) from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError([ConfigProblem(name, Position(1, 1), f"file larger than {MAX_FILE_BYTES} bytes")])
    return LoadedConfig(
        parse_config(data.decode("utf-8", errors="replace"), name), path, hashlib.sha256(data).hexdigest()
    )


def parse_config(text: str, file: str = "<config>") -> PlantConfig:
    tree, positions = _compose(text, file)
    try:
        config = PlantConfig.model_validate(tree, context={"defer_reference_checks": True})
    except ValidationError as error:
        raise ConfigError([_problem_from_pydantic(e, positions, file) for e in error.errors()]) from None
    problems = [
        ConfigProblem(file, _locate(problem.path, positions), f"{_dotted(problem.path)}: {problem.message}")
        for problem in reference_problems(config)
    ]
    if problems:
        raise ConfigError(problems)
    return config


# --------------------------------------------------------------------------------------------------- YAML


def _compose(text: str, file: str) -> tuple[Any, dict[Path_, Position]]:
    yaml = YAML(typ="safe", pure=True)
    try:
        root = yaml.compose(text)
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        position = Position(mark.line + 1, mark.column + 1) if mark else Position(1, 1)
        raise ConfigError([ConfigProblem(file, position, f"YAML syntax error: {error.problem}")]) from None
    except YAMLError as error:
        raise ConfigError([ConfigProblem(file, Position(1, 1), f"YAML error: {error}")]) from None
    if root is None:
        raise ConfigError([ConfigProblem(file, Position(1, 1), "the file is empty")])
    builder = _Builder(file)
    tree = builder.build(root, ())
    if builder.problems:
        raise ConfigError(builder.problems)
    return tree, builder.positions


_PLAIN_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("map", "seq", "str", "int", "float", "bool", "null")
)


class _Builder:
    """Turns a composed node tree into plain data, recording where each path came from."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.positions: dict[Path_, Position] = {}
        self.problems: list[ConfigProblem] = []
        self.seen: set[int] = set()

    def build(self, node: Node, path: Path_) -> Any:
        position = Position(node.start_mark.line + 1, node.start_mark.column + 1)
        self.positions.setdefault(path, position)
        if id(node) in self.seen or getattr(node, "anchor", None):
            self._fail(position, "anchors and aliases are not allowed in plant configs")
            return None
        self.seen.add(id(node))
        if node.tag not in _PLAIN_TAGS:
            self._fail(position, f"YAML tag {node.tag} is not allowed in plant configs")
            return None
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
        if isinstance(node, ScalarNode):
            return self._scalar(node, position)
        self._fail(position, "unsupported YAML node")
        return None

    def _mapping(self, node: MappingNode, path: Path_) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key_position = Position(key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if not isinstance(key_node, ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                self._fail(key_position, "mapping keys must be plain strings")
                continue
            key = str(key_node.value)
            if key == "<<":
                self._fail(key_position, "merge keys (<<) are not allowed in plant configs")
                continue
            if key in result:
                self._fail(key_position, f"duplicate key '{key}'")
                continue
            self.positions[(*path, key)] = key_position
            result[key] = self.build(value_node, (*path, key))
        return result

    def _scalar(self, node: ScalarNode, position: Position) -> Any:
        value = str(node.value)
        tag = node.tag
        if tag == "tag:yaml.org,2002:str":
            return value
        if tag == "tag:yaml.org,2002:null":
            return None
        if tag == "tag:yaml.org,2002:bool":
            return value.lower() == "true"
        if tag == "tag:yaml.org,2002:int":
            return _to_int(value)
        if tag == "tag:yaml.org,2002:float":
            number = _to_float(value)
            if number is not None:
                return number
        self._fail(position, f"unsupported YAML value {value!r} (tag {tag})")
        return None

    def _fail(self, position: Position, message: str) -> None:
        problem = ConfigProblem(self.file, position, message)
        if problem not in self.problems:
            self.problems.append(problem)


def _to_int(text: str) -> int:
    cleaned = text.replace("_", "")
    if cleaned.lower().startswith(("0x", "-0x", "+0x")):
        return int(cleaned, 16)
    if cleaned.lower().startswith(("0o", "-0o", "+0o")):
        return int(cleaned, 8)
    return int(cleaned, 10)


def _to_float(text: str) -> float | None:
    lowered = text.lower().replace("_", "")
    if lowered in (".nan",):
        return math.nan  # kept so that the schema reports "not finite" at the right place
    if lowered in (".inf", "+.inf"):
        return math.inf
    if lowered == "-.inf":
        return -math.inf
    try:
        return float(lowered)
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------------- errors


def _problem_from_pydantic(error: Any, positions: dict[Path_, Position], file: str) -> ConfigProblem:
    path = tuple(error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = f"unknown key '{path[-1]}'"
    elif error["type"] == "missing":
        message = f"missing required key '{path[-1]}'"
        path = path[:-1]
    elif error["type"] == "finite_number":
        message = "must be a finite number (not NaN or infinity)"
    where = _dotted(path)
    return ConfigProblem(file, _locate(path, positions), f"{where}: {message}" if where else message)


def _locate(path: Path_, positions: dict[Path_, Position]) -> Position:
    """The position of the deepest existing node on the path (pydantic adds union branch names)."""
    for end in range(len(path), -1, -1):
        position = positions.get(tuple(path[:end]))
        if position is not None:
            return position
    return Position(1, 1)


def _dotted(path: Path_) -> str:
    return ".".join(str(part) for part in path)
