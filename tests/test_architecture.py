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
    "json",  # pure: the C encoder writes the audit chain's canonical text
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


# What each part of the project may import (besides itself and libraries). Lower layers never import higher
# ones: core < adapters (field, audit, config) < runtime < doors (api, opcua_northbound) < host < cli.
# Only the command line wires the simulator and the HIL runner into otgate.
LAYERS: dict[str, set[str]] = {
    "otgate.core": set(),
    "otgate.field": {"otgate.core"},
    "otgate.audit": {"otgate.core"},
    "otgate.config": {"otgate.core"},
    "otgate.moc": {"otgate.core", "otgate.config"},
    "otgate.deploy": {"otgate.core", "otgate.audit"},
    "otgate.assurance": {"otgate.core", "otgate.config", "otgate.field"},
    "otgate.runtime": {"otgate.core", "otgate.field", "otgate.audit", "otgate.config"},
    "otgate.api": {"otgate.core", "otgate.audit", "otgate.config", "otgate.moc", "otgate.runtime"},
    "otgate.opcua_northbound": {"otgate.core", "otgate.field", "otgate.runtime"},
    "otgate.client": {"otgate.api.schemas", "otgate.core"},
    "otgate.mcp_door": {"otgate.client", "otgate.core"},
    "otgate.host": {
        "otgate.core",
        "otgate.field",
        "otgate.audit",
        "otgate.config",
        "otgate.runtime",
        "otgate.api",
        "otgate.opcua_northbound",
        "otgate.deploy",
    },
    "otgate_simulator": {"otgate.core", "otgate.config"},
}
ANYTHING_BUT_CLI = "otgate_hil"  # the test bench may use every part of otgate except the command line
# The folders simulator/ and hil/ are installed and imported under names that cannot clash (setup.py).
INSTALLED_AS = {"simulator": "otgate_simulator", "hil": "otgate_hil"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    parts = (INSTALLED_AS.get(parts[0], parts[0]), *parts[1:])
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_imports(path: Path) -> set[str]:
    """Every project module `path` imports, at the top or inside a function (a deferred import still couples)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return {name for name in found if name.split(".")[0] in {"otgate", *INSTALLED_AS.values()}}


def part_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "otgate" and len(parts) > 1 else parts[0]


def test_no_loose_shell_modules_at_the_package_root():
    loose = sorted(p.name for p in (ROOT / "otgate").glob("*.py"))
    assert loose == ["__init__.py", "__main__.py"], loose


@pytest.mark.parametrize(
    "path", python_files("otgate", "simulator", "hil"), ids=lambda p: str(p.relative_to(ROOT))
)
def test_imports_run_only_downward(path: Path):
    me = part_of(module_name(path))
    if me in {"otgate.cli", "otgate", "otgate.__main__"}:
        return  # the command line (and `python -m otgate`) may wire everything
    for target in project_imports(path):
        there = part_of(target)
        if there == me or target == "otgate":  # the package root holds only its version
            continue
        if me == ANYTHING_BUT_CLI:
            assert there != "otgate.cli", f"{path.name} imports {target}"
            continue
        allowed = LAYERS[me]
        assert there in allowed or target in allowed, (
            f"{module_name(path)} imports {target} (upward or sideways)"
        )


def test_no_import_cycles():
    graph = {module_name(p): project_imports(p) for p in python_files("otgate", "simulator", "hil")}

    # `from otgate.x import name` may name a module or an attribute: resolve to the longest known module.
    def resolve(name: str) -> str | None:
        while name and name not in graph:
            name = name.rpartition(".")[0]
        return name or None

    edges = {m: {r for t in targets if (r := resolve(t)) and r != m} for m, targets in graph.items()}
    # a package's __init__ importing its own submodules is how packages export; not a cycle of concepts
    edges = {m: {t for t in ts if not t.startswith(m + ".")} for m, ts in edges.items()}
    state: dict[str, int] = {}
    path_stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path_stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycle = [*path_stack[path_stack.index(nxt) :], nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        path_stack.pop()
        state[node] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module)


@pytest.mark.parametrize("path", python_files("otgate"), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_over_400_lines(path: Path):
    lines = len(path.read_text().splitlines())
    assert lines <= 420, f"{path.relative_to(ROOT)} has {lines} lines: split it by concept"


DOORS = ("otgate/api", "otgate/opcua_northbound")
# What a door may call on the gateway: its commands, each recorded in the trail. Everything it reads goes
# through otgate.runtime.view.GatewayView.
GATEWAY_COMMANDS = {
    "submit",
    "submit_durably",
    "heartbeat_from",
    "note_refusal",
    "record_engine_read",
    "record_operator_event",
    "operator_action",
    "is_toward_safety",
    "decide_approval",
    "set_manual_setpoint",
    "lift_quarantine",
    "acknowledge_alarm",
    "reload_config",
    "shelve_alarm",
    "unshelve_expired_alarms",
    "sign_off_autonomy",
    "demote_autonomy",
    "attach_certificate",
}


@pytest.mark.parametrize("path", python_files(*DOORS), ids=lambda p: str(p.relative_to(ROOT)))
def test_doors_read_the_gateway_only_through_its_view(path: Path):
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Attribute):
            owner = node.value
            named = (isinstance(owner, ast.Name) and owner.id == "gateway") or (
                isinstance(owner, ast.Attribute)
                and owner.attr == "gateway"
                and isinstance(owner.value, ast.Name)
                and owner.value.id == "self"
            )
            if named:
                assert node.attr in GATEWAY_COMMANDS, (
                    f"{path.relative_to(ROOT)}:{node.lineno} reaches into gateway.{node.attr}: "
                    "read through GatewayView, act through a command"
                )
