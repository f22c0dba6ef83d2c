"""Structural rules: the core stays pure, I/O libraries stay in their adapters, nothing executes strings."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT_DIRS = ("otgate", "simulator", "hil", "tests", "benchmarks")
CORE = ROOT / "otgate" / "core"
CORE_ALLOWED = {
    "__future__",
    "collections",
    "dataclasses",
    "enum",
    "functools",
    "itertools",
    "math",
    "operator",
    "re",
    "struct",
    "typing",
    "numpy",
    "pydantic",
    "hashlib",
    "bisect",
    "statistics",
    "unicodedata",  # pure: NFKC folding of names (look-alike duplicates)
    "otgate",
}
IO_MODULES = {
    "asyncio",
    "socket",
    "time",
    "logging",
    "os",
    "sqlite3",
    "pymodbus",
    "asyncua",
    "fastapi",
    "uvicorn",
    "starlette",
    "httpx",
    "subprocess",
    "threading",
    "ruamel",
    "yaml",
    "pathlib",
    "io",
}


def python_files(*dirs: str) -> list[Path]:
    return sorted(p for d in dirs for p in (ROOT / d).rglob("*.py") if ".venv" not in p.parts)


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", python_files("otgate/core"), ids=lambda p: p.name)
def test_core_module_imports_no_io_library(path: Path):
    roots = imported_roots(path)
    assert not roots & IO_MODULES, f"{path.name} imports I/O: {sorted(roots & IO_MODULES)}"
    assert roots <= CORE_ALLOWED, (
        f"{path.name} imports outside the core's allowance: {sorted(roots - CORE_ALLOWED)}"
    )


def test_core_imports_nothing_from_the_shell():
    for path in python_files("otgate/core"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("otgate."):
                assert node.module.startswith("otgate.core"), f"{path.name} imports {node.module}"


@pytest.mark.parametrize("path", python_files(*PROJECT_DIRS), ids=lambda p: str(p.relative_to(ROOT)))
@pytest.mark.requirement("R-52")
def test_no_eval_or_exec_anywhere(path: Path):
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in {"eval", "exec", "compile", "__import__"}, f"{path}:{node.lineno}"


@pytest.mark.parametrize(
    ("library", "allowed"),
    [
        ("pymodbus", {"modbus"}),
        ("asyncua", {"opcua"}),
        ("fastapi", {"api"}),
        ("mcp", {"mcp_door"}),
        ("mcp_types", {"mcp_door"}),
    ],
)
def test_io_library_imported_only_in_its_adapter(library: str, allowed: set[str]):
    for path in python_files("otgate"):
        if library in imported_roots(path):
            parts = set(path.relative_to(ROOT).with_suffix("").parts)
            names = {part for part in parts for word in allowed if word in part}
            assert names, f"{path} imports {library}"


@pytest.mark.parametrize(
    "path", python_files("otgate", "simulator", "hil"), ids=lambda p: str(p.relative_to(ROOT))
)
@pytest.mark.requirement("R-52")
def test_no_unsafe_deserialisation_or_shell(path: Path):
    """Nothing that turns bytes or text into code: no pickle/marshal/shelve, no unsafe YAML, no shell."""
    tree = ast.parse(path.read_text(), str(path))
    assert not imported_roots(path) & {"pickle", "marshal", "shelve", "dill", "yaml"}, path
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                assert not (keyword.arg == "shell" and getattr(keyword.value, "value", False) is True), path
                assert not (
                    keyword.arg == "typ" and getattr(keyword.value, "value", "") in ("unsafe", "full")
                ), path
        if isinstance(node, ast.Attribute):
            assert node.attr not in {"unsafe_load", "full_load", "load_all"}, f"{path}:{node.lineno}"
