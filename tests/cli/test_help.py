"""The command line a newcomer meets: `--version`, and help that says what, which defaults and how."""

from __future__ import annotations

import argparse
import subprocess
import sys
import tomllib
from collections.abc import Iterator

import pytest
from packaging.licenses import canonicalize_license_expression
from packaging.requirements import Requirement

import otgate
from otgate.cli import build_parser
from tests.conftest import ROOT

NOT_A_DEFAULT = (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)


def parsers(
    parser: argparse.ArgumentParser, name: str = "otgate"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from parsers(sub, f"{name} {sub_name}")


ALL = dict(parsers(build_parser()))


def test_help_covers_every_command():
    assert {"otgate", "otgate demo", "otgate run", "otgate audit verify", "otgate hil run"} <= set(ALL)


@pytest.mark.parametrize("name", sorted(ALL))
def test_help_of_every_command_says_what_and_gives_an_example(name: str):
    parser = ALL[name]
    description = parser.description or ""
    assert description.strip().endswith("."), f"{name}: description missing or cut off: {description!r}"
    for developer_words in ("Thin:", "imperative shell", "hands over", "``", "Register `"):
        assert developer_words not in description, f"{name}: a developer docstring as help"
    epilog = parser.epilog or ""
    assert "example" in epilog and "\n  otgate " in epilog, f"{name}: no example"
    assert "(default" not in parser.format_usage()


@pytest.mark.parametrize("name", sorted(ALL))
def test_help_of_every_option_names_its_default(name: str):
    for action in ALL[name]._actions:
        if isinstance(action, NOT_A_DEFAULT) or action.help == argparse.SUPPRESS:
            continue
        assert action.help, f"{name} {action.dest}: no help text"
        if action.option_strings and not action.required:
            assert "(default" in action.help, f"{name} {action.option_strings[0]}: default not stated"


def test_version_prints_the_package_version():
    result = subprocess.run(
        [sys.executable, "-m", "otgate", "--version"], capture_output=True, text=True, timeout=30, cwd=ROOT
    )
    assert result.returncode == 0
    assert result.stdout.strip() == f"otgate {otgate.__version__}"


def test_pyproject_license_is_an_spdx_expression_the_build_backend_accepts():
    """A license table makes setuptools warn on every install; an SPDX string needs setuptools >= 77."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    license_ = project["project"]["license"]
    assert isinstance(license_, str) and canonicalize_license_expression(license_) == license_
    backend = [Requirement(r) for r in project["build-system"]["requires"] if r.startswith("setuptools")]
    assert backend and not backend[0].specifier.contains("76.9"), backend
    assert not any(c.startswith("License ::") for c in project["project"].get("classifiers", []))


def test_readme_says_how_to_run_otgate_after_make_demo():
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme
    assert ".venv/bin/otgate" in readme and "source .venv/bin/activate" in readme
