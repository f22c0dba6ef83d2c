"""Shipped audit line layouts (known answers) and segment verification."""

from __future__ import annotations

from otgate.cli.audit_export import parse_jsonl_line, parsed_lines, rfc3339
from otgate.core.audit_chain import AuditEntry, chain
from otgate.core.audit_export import jsonl_line, rfc5424_line, verify_segment

RECORDS = chain(
    [AuditEntry("decision", "gateway", {"tag": "TIC\u2010101", "v": 12.5}, 1700000000.25)] * 3, None, None
)


def test_rfc5424_line_known_layout():
    line = rfc5424_line(RECORDS[0], "host/tank", "host", rfc3339(RECORDS[0].at))
    head = '<109>1 2023-11-14T22:13:20.250000Z host otgate - decision [otgate@32473 gateway="host/tank" seq="1" hash="'
    assert line.startswith(head)
    assert line.endswith(jsonl_line(RECORDS[0], "host/tank")) and line.isascii()
    assert "TIC\\u2010101" in line  # a look-alike dash stays visible


def test_parse_jsonl_line_round_trips_both_layouts():
    for line in (jsonl_line(RECORDS[1], "g"), rfc5424_line(RECORDS[1], "g", "h", "-")):
        shipped = parse_jsonl_line(line)
        assert shipped.gateway == "g" and shipped.record == RECORDS[1]


def test_verify_segment_mid_trail_start_ok_and_key_mismatch_fails():
    lines = [jsonl_line(r, "g") for r in RECORDS[1:]]
    assert verify_segment(parsed_lines(lines), None).ok
    keyed = verify_segment(parsed_lines(lines), b"another key")
    assert not keyed.ok and "hash does not match" in keyed.problem


def test_verify_segment_first_record_not_genesis_linked_fails():
    forged = jsonl_line(RECORDS[0], "g").replace(RECORDS[0].prev_hash, "1" * 64)
    result = verify_segment(parsed_lines([forged]), None)
    assert not result.ok and "prev_hash" in result.problem
