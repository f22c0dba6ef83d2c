"""Audit chain: the pinned record layout, HMAC against the RFC, and every kind of tampering caught."""

from __future__ import annotations

import dataclasses
import hmac
import json
import math
from typing import Any

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from otgate.core.audit_chain import (
    GENESIS_HASH,
    AuditEntry,
    AuditKind,
    AuditRecord,
    Checkpoint,
    canonical_bytes,
    chain,
    chain_texts,
    compute_hash,
    has_valid_hash,
    seal,
    verify,
)
from otgate.core.canonical_json import canonical_json, normal_text, normalize

KEY = b"otgate-test-key"
KNOWN_DATA = {"tag": "TIC-101.sp", "value": 12.5, "verdict": "accepted"}
KNOWN_TEXT = (
    '{"actor":"gateway","at":1700000000.25,"data":{"tag":"TIC-101.sp","value":12.5,"verdict":"accepted"},'
    '"kind":"decision","prev_hash":"' + "0" * 64 + '","seq":1}'
)
KNOWN_SHA256 = "d351b46bdcee13c4a1e558965134c5340e7c1e844c67762b57aa6daf215f3d2c"
KNOWN_HMAC = "dc674f42f2bfc5f3c0e96d883ffb46fa92e21f0c2b6ae965c866e2d9f138da23"


def trail(n: int, key: bytes | None = None) -> list[AuditRecord]:
    entries = [
        AuditEntry(AuditKind.DECISION, "gateway", {"i": i, "value": i / 4}, 1000.0 + i) for i in range(n)
    ]
    return chain(entries, None, key)


def test_canonical_bytes_known_record_known_text():
    assert (
        canonical_bytes(1, 1700000000.25, "decision", "gateway", KNOWN_DATA, GENESIS_HASH)
        == KNOWN_TEXT.encode()
    )


@pytest.mark.parametrize(("key", "digest"), [(None, KNOWN_SHA256), (KEY, KNOWN_HMAC)])
def test_seal_known_record_known_hash(key: bytes | None, digest: str):
    record = seal(AuditEntry("decision", "gateway", KNOWN_DATA, 1700000000.25), None, key)
    assert (record.seq, record.prev_hash, record.hash) == (1, GENESIS_HASH, digest)


# RFC 4231 test cases 1, 2 and 6 (a key longer than the block is hashed first).
@pytest.mark.parametrize(
    ("key", "message", "digest"),
    [
        (b"\x0b" * 20, b"Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        (
            b"Jefe",
            b"what do ya want for nothing?",
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        ),
        (
            b"\xaa" * 131,
            b"Test Using Larger Than Block-Size Key - Hash Key First",
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
        ),
    ],
)
@pytest.mark.requirement("R-36")
def test_compute_hash_rfc4231_vectors_match(key: bytes, message: bytes, digest: str):
    assert compute_hash(message, key) == digest


@given(st.binary(max_size=200), st.binary(max_size=200))
def test_compute_hash_any_key_equals_stdlib_hmac(key: bytes, message: bytes):
    assert compute_hash(message, key) == hmac.new(key, message, "sha256").hexdigest()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20,
)
any_text = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=10)


@given(json_values)
def test_canonical_json_equals_sorted_compact_json_dumps(value: Any):
    expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    assert canonical_json(value) == expected


@given(st.dictionaries(any_text, st.lists(any_text | st.floats(), max_size=3), max_size=4))
def test_canonical_json_round_trip_through_json_same_encoding(value: dict[str, Any]):
    text = canonical_json(value)
    text.encode("utf-8")  # valid UTF-8 even with lone surrogates
    assert json.loads(text) == normalize(value)
    assert canonical_json(normalize(value)) == text
    assert canonical_json(json.loads(text)) == text


wild_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=12,
)


@given(wild_values)
@example(
    {"lone": "\ud800", "pair": "\ud83d\ude00", "ctl": "\x00\x1f\x7f", "nan": math.nan, "key\ud800": -0.0}
)
def test_normal_text_any_normalised_value_equals_canonical_json(value: Any):
    # The C encoder's text must be the canonical one byte for byte, surrogates and non-finite floats included.
    assert normal_text(normalize(value)) == canonical_json(value)


@given(st.dictionaries(any_text, wild_values, max_size=4), st.floats(0, 2e9), any_text)
def test_chain_texts_hash_equals_canonical_bytes_hash(data: dict[str, Any], at: float, actor: str):
    ((record, text),) = chain_texts([AuditEntry("decision", actor, data, at)], None, KEY)
    assert text == canonical_json(data)
    assert has_valid_hash(record, KEY)


def test_canonical_json_surrogate_pair_joined_before_encoding():
    assert canonical_json("\ud83d\ude00") == '"😀"'
    assert canonical_json("\ud800") == '"\\ud800"'


@pytest.mark.parametrize(
    ("value", "text"),
    [(math.nan, '"NaN"'), (math.inf, '"Infinity"'), (-math.inf, '"-Infinity"'), ((1, 2.0), "[1,2.0]")],
)
def test_canonical_json_values_json_lacks_encoded_as_json(value: Any, text: str):
    assert canonical_json(value) == text


@pytest.mark.parametrize("value", [{1: "a"}, {"a": b"bytes"}, {"a": {1, 2}}, {"a": object()}])
def test_canonical_json_not_json_able_raises_type_error(value: Any):
    with pytest.raises(TypeError):
        canonical_json(value)


def test_chain_non_finite_timestamp_raises_value_error():
    with pytest.raises(ValueError):
        seal(AuditEntry("alarm", "gateway", {}, math.nan), None, None)


def test_seal_caller_mutates_data_afterwards_record_unchanged():
    data: dict[str, Any] = {"reasons": ["STALE"]}
    record = seal(AuditEntry(AuditKind.DECISION, "gateway", data, 1.0), None, None)
    data["reasons"].append("FUTURE")
    assert record.data == {"reasons": ["STALE"]}
    assert has_valid_hash(record, None)


def test_seal_kind_enum_stored_as_plain_string():
    record = seal(AuditEntry(AuditKind.PLC_WRITE, "gateway", {}, 1.0), None, None)
    assert type(record.kind) is str
    assert record.kind == "plc_write"


def test_chain_continues_from_head_same_as_one_chain():
    whole = trail(6)
    first = whole[:3]
    rest = chain(
        [AuditEntry(r.kind, r.actor, r.data, r.at) for r in whole[3:]],
        Checkpoint(first[-1].seq, first[-1].hash),
        None,
    )
    assert first + rest == whole


@pytest.mark.parametrize("key", [None, KEY])
@pytest.mark.requirement("R-36")
def test_verify_1000_records_ok(key: bytes | None):
    records = trail(1000, key)
    result = verify(records, key)
    assert (result.ok, result.count, result.first_bad_seq) == (True, 1000, None)
    assert result.last == Checkpoint(1000, records[-1].hash)


def test_verify_empty_trail_ok_with_zero_records():
    assert verify([], None) == verify([], KEY)
    assert verify([], None).count == 0


def _modified(records: list[AuditRecord]) -> list[AuditRecord]:
    records[4] = dataclasses.replace(records[4], data={"i": 4, "value": 99.0})
    return records


def _deleted(records: list[AuditRecord]) -> list[AuditRecord]:
    del records[4]
    return records


def _swapped(records: list[AuditRecord]) -> list[AuditRecord]:
    records[4], records[5] = records[5], records[4]
    return records


def _swapped_keeping_seq(records: list[AuditRecord]) -> list[AuditRecord]:
    a, b = records[4], records[5]
    records[4], records[5] = dataclasses.replace(b, seq=a.seq), dataclasses.replace(a, seq=b.seq)
    return records


def _first_deleted(records: list[AuditRecord]) -> list[AuditRecord]:
    return records[1:]


def _duplicated(records: list[AuditRecord]) -> list[AuditRecord]:
    return [*records[:5], records[4], *records[5:]]


@pytest.mark.parametrize(
    ("tamper", "bad_seq", "words"),
    [
        (_modified, 5, "does not match the record's contents"),
        (_deleted, 6, "seq 6 where 5 was expected"),
        (_swapped, 6, "seq 6 where 5 was expected"),
        (_swapped_keeping_seq, 5, "prev_hash is not record 4's hash"),
        (_first_deleted, 2, "seq 2 where 1 was expected"),
        (_duplicated, 5, "does not increase"),
    ],
    ids=lambda v: getattr(v, "__name__", None),
)
@pytest.mark.parametrize("key", [None, KEY])
@pytest.mark.requirement("R-36")
def test_verify_tampered_trail_names_first_bad_record(
    tamper: Any, bad_seq: int, words: str, key: bytes | None
):
    result = verify(tamper(trail(10, key)), key)
    assert not result.ok
    assert result.first_bad_seq == bad_seq
    assert words in result.problem


@pytest.mark.requirement("R-36")
def test_verify_inserted_record_consistent_unkeyed_caught_at_next():
    records = trail(10)
    forged = seal(
        AuditEntry("approval", "operator:mallory", {}, 1004.5), Checkpoint(4, records[3].hash), None
    )
    shifted = [dataclasses.replace(r, seq=r.seq + 1) for r in records[4:]]
    result = verify([*records[:4], forged, *shifted], None)
    assert (result.ok, result.first_bad_seq, result.count) == (False, 6, 5)


@pytest.mark.requirement("R-36")
def test_verify_inserted_record_with_plain_hash_caught_when_keyed():
    records = trail(10, KEY)
    forged = seal(
        AuditEntry("approval", "operator:mallory", {}, 1004.5), Checkpoint(4, records[3].hash), None
    )
    result = verify([*records[:4], forged], KEY)
    assert (result.ok, result.first_bad_seq) == (False, 5)


def test_verify_keyed_trail_without_key_fails_at_first_record_hinting_key():
    result = verify(trail(3, KEY), None)
    assert (result.ok, result.first_bad_seq) == (False, 1)
    assert "OTGATE_AUDIT_HMAC_KEY" in result.problem


@pytest.mark.requirement("R-36")
def test_verify_unkeyed_chain_rewritten_consistently_caught_only_by_checkpoint():
    original = trail(10)
    checkpoint = Checkpoint(8, original[7].hash)
    rewritten = chain([AuditEntry(r.kind, r.actor, {"forged": True}, r.at) for r in original], None, None)
    assert verify(rewritten, None).ok
    result = verify(rewritten, None, checkpoint=checkpoint)
    assert (result.ok, result.first_bad_seq) == (False, 8)


@pytest.mark.requirement("R-36")
def test_verify_truncated_after_checkpoint_reported():
    records = trail(10)
    result = verify(records[:7], None, checkpoint=Checkpoint(10, records[9].hash))
    assert (result.ok, result.first_bad_seq, result.count) == (False, 8, 7)
    assert "deleted at the end" in result.problem


@pytest.mark.requirement("R-39")
def test_verify_clock_stepped_back_chain_ok_with_warning():
    entries = [AuditEntry("alarm", "gateway", {}, at) for at in (100.0, 101.0, 96.0, 97.0)]
    result = verify(chain(entries, None, KEY), KEY)
    assert result.ok
    assert result.warnings == ("record 3: timestamp 5.000 s earlier than record 2's (clock stepped back)",)


FIELDS = {
    "seq": st.integers(min_value=-5, max_value=50),
    "at": st.floats(allow_nan=False, allow_infinity=False),
    "kind": st.text(max_size=8),
    "actor": st.text(max_size=8),
    "data": st.dictionaries(st.text(max_size=3), json_values, max_size=3),
    "prev_hash": st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
    "hash": st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
}


@given(
    n=st.integers(min_value=1, max_value=8),
    index=st.integers(min_value=0, max_value=7),
    field=st.sampled_from(sorted(FIELDS)),
    data=st.data(),
    key=st.sampled_from([None, KEY]),
)
@pytest.mark.requirement("R-36")
def test_verify_any_single_field_mutation_detected_at_that_record(
    n: int, index: int, field: str, data: st.DataObject, key: bytes | None
):
    records = trail(n, key)
    index %= n
    value = data.draw(FIELDS[field])
    old = getattr(records[index], field)
    assume(canonical_json(value) != canonical_json(old))
    records[index] = dataclasses.replace(records[index], **{field: value})
    result = verify(records, key)
    assert not result.ok
    assert result.first_bad_seq == records[index].seq
    assert result.count == index
