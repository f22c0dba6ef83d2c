"""Load plant configs from YAML files, reporting every problem as ``FILE:LINE:COL: message``.

YAML is read as YAML 1.2 (``no`` stays a string, ``1.0e9`` is a number) by composing the node tree and
building plain data ourselves, which keeps each node's position and refuses what a config never needs:
anchors and aliases (no billion-laughs expansion), non-standard tags (no Python objects), duplicate
keys and non-string keys.

Whatever the file holds (nested 50,000 levels deep, megabytes, binary, UTF-16), loading ends in a
`ConfigError` with located problems, never in a stack trace: the size is capped before reading on, the
text must be UTF-8 without control characters, and the nesting depth is measured on the parser's event
stream (which is iterative) before the recursive composer ever sees the document.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from otgate.core.config import PlantConfig, reference_problems

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 1_000_000
# A plant config nests about six levels; 32 leaves room and keeps the composer's recursion far from
# Python's limit.
MAX_DEPTH = 32
_ALLOWED_CONTROLS = frozenset("\t\n\r")
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
        with path.open("rb") as stream:  # bounded read: a FIFO or /dev/zero must not hang the loader
            data = stream.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise ConfigError([ConfigProblem(name, Position(1, 1), f"cannot read: {error.strerror}")]) from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError([ConfigProblem(name, Position(1, 1), f"file larger than {MAX_FILE_BYTES} bytes")])
    text = _decode(data, name)
    try:
        config = parse_config(text, name)
    except ConfigError:
        raise
    except (RecursionError, MemoryError):
        raise ConfigError([ConfigProblem(name, Position(1, 1), "too complex to read")]) from None
    except Exception:  # a loader bug must refuse the file, not kill `otgate run` or the HMI reload
        log.exception("loading %s failed", name)
        raise ConfigError([ConfigProblem(name, Position(1, 1), "cannot be read (internal error)")]) from None
    return LoadedConfig(config, path, hashlib.sha256(data).hexdigest())


def _decode(data: bytes, file: str) -> str:
    """UTF-8 text without control characters, or a problem at the first offending byte or character."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line, column = _line_column(data[: error.start].decode("utf-8"))
        message = f"not UTF-8 text (byte 0x{data[error.start]:02x})"
        raise ConfigError([ConfigProblem(file, Position(line, column), message)]) from None
    for index, char in enumerate(text):
        if (char < " " and char not in _ALLOWED_CONTROLS) or "\x7f" <= char <= "\x9f" or char == "\ufeff":
            line, column = _line_column(text[:index])
            message = f"control character U+{ord(char):04X} is not allowed"
            raise ConfigError([ConfigProblem(file, Position(line, column), message)])
    return text


def _line_column(prefix: str) -> tuple[int, int]:
    """1-based line and column of the character that follows `prefix`."""
    return prefix.count("\n") + 1, len(prefix) - (prefix.rfind("\n") + 1) + 1


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


def _check_depth(yaml: YAML, text: str, file: str) -> None:
    """Refuse a document nested deeper than MAX_DEPTH, measured on the (iterative) event stream."""
    depth = 0
    for event in yaml.parse(text):
        kind = type(event).__name__
        if kind in ("MappingStartEvent", "SequenceStartEvent"):
            depth += 1
            if depth > MAX_DEPTH:
                mark = event.start_mark
                message = f"nested deeper than {MAX_DEPTH} levels"
                raise ConfigError([ConfigProblem(file, Position(mark.line + 1, mark.column + 1), message)])
        elif kind in ("MappingEndEvent", "SequenceEndEvent"):
            depth -= 1


def _compose(text: str, file: str) -> tuple[Any, dict[Path_, Position]]:
    yaml = YAML(typ="safe", pure=True)
    try:
        _check_depth(yaml, text, file)
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
