"""`otgate check-config` and `otgate schema` as users run them."""

from __future__ import annotations

import json
import subprocess
import sys

import jsonschema
import pytest
from ruamel.yaml import YAML

from otgate.cli import main
from tests.config.test_loader import BROKEN, EXPECTED
from tests.conftest import PLANT_CONFIGS


def test_check_config_shipped_configs_exit_zero(capsys: pytest.CaptureFixture[str]):
    assert main(["check-config", *map(str, sorted(PLANT_CONFIGS.glob("*.yaml")))]) == 0
    assert capsys.readouterr().out.count(": ok") == 3


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.requirement("R-49")
def test_check_config_broken_config_exit_one_with_location(name: str, capsys: pytest.CaptureFixture[str]):
    path = BROKEN / f"{name}.yaml"
    assert main(["check-config", str(path)]) == 1
    err = capsys.readouterr().err
    line, words = EXPECTED[name]
    assert f"{path}:{line}:" in err
    assert words in err


def test_check_config_mixed_files_fails_and_reports_only_bad_one(capsys: pytest.CaptureFixture[str]):
    assert main(["check-config", str(PLANT_CONFIGS / "tank.yaml"), str(BROKEN / "nan_limit.yaml")]) == 1
    captured = capsys.readouterr()
    assert "tank.yaml: ok" in captured.out
    assert "nan_limit.yaml:66:" in captured.err


def test_check_config_console_script_runs_as_installed():
    result = subprocess.run(
        [sys.executable, "-m", "otgate", "check-config", str(BROKEN / "writable_trip_tag.yaml")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "writable_trip_tag.yaml:47:3:" in result.stderr


@pytest.mark.parametrize("plant", ["tank", "cstr", "ricker"])
def test_schema_validates_shipped_config(plant: str, capsys: pytest.CaptureFixture[str]):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    data = YAML(typ="safe", pure=True).load((PLANT_CONFIGS / f"{plant}.yaml").read_text())
    jsonschema.Draft202012Validator(schema).validate(data)


def test_schema_rejects_unknown_key(capsys: pytest.CaptureFixture[str]):
    main(["schema"])
    schema = json.loads(capsys.readouterr().out)
    data = YAML(typ="safe", pure=True).load((BROKEN / "unknown_key.yaml").read_text())
    with pytest.raises(jsonschema.ValidationError, match="max_move"):
        jsonschema.Draft202012Validator(schema).validate(data)


def test_config_reference_doc_matches_schema():
    from otgate.config.reference import render_reference

    committed = (PLANT_CONFIGS.parent / "docs" / "CONFIG_REFERENCE.md").read_text()
    assert committed == render_reference(), (
        "regenerate with: otgate schema --markdown > docs/CONFIG_REFERENCE.md"
    )


DEEP_YAML = b"plant: " + b"[" * 50_000 + b"]" * 50_000 + b"\n"


@pytest.mark.parametrize("command", [["check-config"], ["run", "--config"]])
def test_check_config_and_run_deep_yaml_exit_one_with_location(command: list[str], tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_bytes(DEEP_YAML)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "otgate",
            *command,
            str(path),
            *(["--data-dir", str(tmp_path)] if "run" in command else []),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "RecursionError" not in result.stderr
    assert f"{path}:1:" in result.stderr and "nested" in result.stderr
