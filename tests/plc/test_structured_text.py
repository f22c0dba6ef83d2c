"""The PLC companion logic in plc/*.st is valid IEC 61131-3 Structured Text (parsed with blark)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from blark.parse import parse_source_code

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted((ROOT / "plc").glob("*.st"))
EXPECTED = {"FB_HeartbeatWatchdog", "FB_LoopModeSelect", "FB_SetpointRamp", "PRG_SupervisedLoop"}


def _declared(text: str) -> set[str]:
    return set(re.findall(r"^(?:FUNCTION_BLOCK|PROGRAM)\s+(\w+)", text, re.M))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_structured_text_parses_with_blark(path: Path):
    result = parse_source_code(path.read_text(), fn=str(path))
    assert result.exception is None, f"{path.name}: {result.exception}"


def test_structured_text_every_block_in_its_own_file():
    assert {p.stem for p in SOURCES} == EXPECTED
    for path in SOURCES:
        assert _declared(path.read_text()) == {path.stem}


def test_structured_text_parser_rejects_broken_source():
    # The check above could not fail if the parser accepted anything.
    text = (ROOT / "plc" / "FB_LoopModeSelect.st").read_text().replace("END_IF", "", 1)
    assert parse_source_code(text, fn="broken.st").exception is not None


def test_plc_integration_doc_links_the_sources_and_the_vectors():
    doc = (ROOT / "docs" / "PLC_INTEGRATION.md").read_text()
    for path in [*SOURCES, ROOT / "plc" / "test_vectors.yaml"]:
        assert f"../plc/{path.name}" in doc, path.name
