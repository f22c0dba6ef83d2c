"""Config loading: the shipped configs load; every broken config fails at its line with a clear message."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from otgate.config.loader import ConfigError, load_config_file, parse_config
from tests.conftest import PLANT_CONFIGS

BROKEN = Path(__file__).parent.parent / "configs" / "broken"

# file -> (line of the offending node, words the message must contain)
EXPECTED = {
    "syntax_error": (67, "YAML syntax error"),
    "unknown_key": (75, "unknown key 'max_move'"),
    "nan_limit": (66, "limits.lo: must be a finite number"),
    "infinite_rate": (71, "rate_up_per_s: must be a finite number"),
    "lo_not_below_hi": (66, "must be below hi"),
    "limit_outside_alarm_band": (65, "hard limits must lie strictly inside the alarm limits"),
    "alarm_outside_trip_band": (65, "alarm limits must lie strictly inside the trip limits"),
    "writable_trip_tag": (47, "safety tag (trip, bypass, trip setting) can never be writable"),
    "unknown_tag_in_interlock": (102, "unknown tag 'LIT-102'"),
    "interlock_function_call": (102, "function calls are not allowed"),
    "interlock_attribute_access": (102, "unexpected character '['"),
    "interlock_not_a_condition": (102, "must be a condition"),
    "engine_unknown_tag": (111, "unknown tag 'FIC-999.RSP'"),
    "engine_writes_output": (111, "engines may only write setpoints"),
    "missing_fallback": (65, "missing required key 'fallback'"),
    "missing_unit": (56, "needs its engineering unit"),
    "negative_max_move": (69, "max_move_up: Input should be greater than 0"),
    "duplicate_key": (75, "duplicate key 'deadband'"),
    "python_tag": (4, "python/object/apply:os.system is not allowed"),
    "alias_bomb": (5, "anchors and aliases are not allowed"),
    "register_overlap": (39, "input register 6 is already used by tag LIC-101.MODE"),
    "setpoint_without_loop": (56, "must belong to exactly one loop"),
    "deadband_swallows_every_move": (74, "must be below the smallest legal step"),
    "insecure_opcua_not_allowed": (18, "needs allow_insecure: true"),
    "safe_value_outside_limits": (65, "safe_value 900.0 lies outside the hard limits"),
    "limit_not_representable": (56, "not representable as int16"),
    "opcua_secure_without_pinned_server": (18, "needs server_certificate"),
    "replay_window_within_staleness": (122, "must be below gateway.replay_window_s"),
    "integer_step_finer_than_resolution": (70, "finer than the int16 resolution"),
}


def test_broken_config_catalogue_covers_every_file():
    assert {p.stem for p in BROKEN.glob("*.yaml")} == set(EXPECTED)


@pytest.mark.parametrize("plant", ["tank", "cstr", "ricker"])
def test_load_config_shipped_plant_valid(plant: str):
    loaded = load_config_file(PLANT_CONFIGS / f"{plant}.yaml")
    assert loaded.config.plant == plant
    assert re.fullmatch(r"[0-9a-f]{64}", loaded.sha256)


# Defects a requirement names explicitly; every case proves the linter.
PROVES = {
    "limit_outside_alarm_band": ("R-08",),
    "alarm_outside_trip_band": ("R-08",),
    "missing_fallback": ("R-16",),
    "writable_trip_tag": ("R-07",),
    "engine_writes_output": ("R-01",),
}


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.requirement(*PROVES.get(n, ()))) for n in sorted(EXPECTED)]
)
@pytest.mark.requirement("R-49")
def test_load_config_broken_file_located_problem(name: str):
    line, words = EXPECTED[name]
    with pytest.raises(ConfigError) as caught:
        load_config_file(BROKEN / f"{name}.yaml")
    first = str(caught.value.problems[0])
    assert first.startswith(f"{BROKEN / name}.yaml:{line}:")
    assert re.match(r".+:\d+:\d+: .+", first)
    assert words in first


def test_parse_config_yaml_1_2_scalars_keep_their_type():
    config = parse_config(
        (PLANT_CONFIGS / "tank.yaml").read_text().replace("scan_interval_s: 1.0", "scan_interval_s: 1e0")
    )
    assert config.gateway.scan_interval_s == 1.0
    with pytest.raises(ConfigError, match="plant: Input should be a valid string"):
        parse_config("plant: 1.0e9\nplcs: {}\ntags: {}\n")


def test_load_config_missing_file_reported_not_raised_raw(tmp_path: Path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config_file(tmp_path / "absent.yaml")


def test_load_config_empty_file_reported(tmp_path: Path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(ConfigError, match="the file is empty"):
        load_config_file(empty)


# ------------------------------------------------------------------------------------ hostile files

LOCATED = re.compile(r"^.+:\d+:\d+: \S")


def _hostile_files() -> dict[str, bytes]:
    return {
        "deep_flow": b"plant: " + b"[" * 50_000 + b"]" * 50_000 + b"\n",
        "deep_block": b"plant: tank\nx:\n" + b"".join(b" " * i + b"- \n" for i in range(1, 3000)),
        "deep_mapping": b"a: " + b"{b: " * 50_000 + b"1" + b"}" * 50_000 + b"\n",
        "binary": bytes(range(256)) * 8,
        "utf16": "plant: tank\n".encode("utf-16"),
        "latin1": "plant: tank\ndescription: caf\u00e9 Sch\u00f6n\n".encode("latin-1"),
        "nul_bytes": b"plant: tank\x00\x00\n",
        "huge": b"# " + b"x" * 2_000_000 + b"\n",
    }


@pytest.mark.parametrize("name", sorted(_hostile_files()))
def test_load_config_hostile_file_refused_with_location(name: str, tmp_path: Path):
    path = tmp_path / f"{name}.yaml"
    path.write_bytes(_hostile_files()[name])
    with pytest.raises(ConfigError) as caught:
        load_config_file(path)
    assert caught.value.problems
    for problem in caught.value.problems:
        assert LOCATED.match(str(problem)), str(problem)
        assert str(problem).startswith(str(path))
        assert "Traceback" not in str(problem) and "codec" not in str(problem)


def test_load_config_wrong_encoding_names_the_first_bad_byte(tmp_path: Path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("plant: tank\ndescription: caf\u00e9\n".encode("latin-1"))
    with pytest.raises(ConfigError) as caught:
        load_config_file(path)
    assert str(caught.value.problems[0]) == f"{path}:2:17: not UTF-8 text (byte 0xe9)"


def _renamed(text: str, section_key: str, old: str, new: str) -> str:
    """The tank config with one more entry in a section, named like an existing one but for case/NFKC."""
    lines = text.splitlines(keepends=True)
    start = lines.index(f"{section_key}:\n")
    block = [lines[start + 1]]
    for line in lines[start + 2 :]:
        if not line.startswith("    ") and not line.startswith("#") and line.strip():
            break
        block.append(line)
    assert block[0].strip() == f"{old}:", block[0]
    copy = [block[0].replace(old, new, 1), *block[1:]]
    index = start + 1 + len(block)
    return "".join([*lines[:index], *copy, *lines[index:]])


@pytest.mark.parametrize(
    ("section", "old", "new"),
    [
        ("tags", "LIT-101", "lit-101"),
        ("loops", "LIC-101", "Lic-101"),
        ("engines", "optimizer", "optimiz\u0435r"),  # Cyrillic е: refused by the name pattern already
        ("engines", "optimizer", "\uff4fptimizer"),  # fullwidth o: NFKC folds it onto "optimizer"
    ],
)
def test_load_config_names_equal_but_for_case_or_nfkc_refused(
    section: str, old: str, new: str, tmp_path: Path
):
    text = _renamed((PLANT_CONFIGS / "tank.yaml").read_text(), section, old, new)
    path = tmp_path / "twins.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config_file(path)
    messages = [str(p) for p in caught.value.problems]
    assert all(LOCATED.match(m) for m in messages), messages
    if new.isascii():
        assert any(f"duplicate of '{old}'" in m for m in messages), messages


def test_reference_problems_case_twins_in_interlocks_refused():
    from otgate.core.config import PlantConfig, reference_problems

    text = (PLANT_CONFIGS / "tank.yaml").read_text()
    config = parse_config(text)
    (name, interlock), *_ = config.interlocks.items()
    twin = name.swapcase()
    doubled = config.model_copy(update={"interlocks": {name: interlock, twin: interlock}})
    problems = reference_problems(
        PlantConfig.model_validate(doubled.model_dump(), context={"defer_reference_checks": True})
    )
    assert any(p.path == ("interlocks", twin) and f"duplicate of '{name}'" in p.message for p in problems)
