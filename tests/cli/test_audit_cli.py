"""`otgate audit verify` / `otgate audit export` on trails tampered with directly in SQLite."""

from __future__ import annotations

import argparse
import json
import sqlite3
from pathlib import Path

import pytest

from otgate.audit.store import AUDIT_KEY_ENV, AuditStore, audit_path
from otgate.cli.audit import add_audit_commands
from otgate.core.audit_chain import AuditEntry, AuditKind, AuditRecord, canonical_bytes, compute_hash, verify
from otgate.core.canonical_json import canonical_json

KEY = "a key the AI side never sees"
N = 1000


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="otgate")
    add_audit_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


@pytest.fixture(params=[None, KEY], ids=["unkeyed", "hmac"])
def key(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str | None:
    if request.param is None:
        monkeypatch.delenv(AUDIT_KEY_ENV, raising=False)
    else:
        monkeypatch.setenv(AUDIT_KEY_ENV, request.param)
    value: str | None = request.param
    return value


def make_trail(data_dir: Path, key: str | None, n: int = N) -> None:
    batch = [
        AuditEntry(AuditKind.DECISION, f"engine:{i % 3}", {"i": i, "value": i / 8}, 1e9 + i) for i in range(n)
    ]
    with AuditStore(data_dir, None if key is None else key.encode()) as store:
        store.append_many(batch)


def tamper(data_dir: Path, *statements: str, params: tuple[object, ...] = ()) -> None:
    """What someone with the file can do: drop the append-only triggers, then edit."""
    db = sqlite3.connect(audit_path(data_dir), isolation_level=None)
    db.execute("DROP TRIGGER IF EXISTS audit_no_update")
    db.execute("DROP TRIGGER IF EXISTS audit_no_delete")
    for sql in statements:
        db.execute(sql, params if "?" in sql else ())
    db.close()


def forged_row(data_dir: Path, seq: int, prev_seq: int) -> tuple[object, ...]:
    """A record whose plain SHA-256 is recomputed and linked correctly: all a forger without the key can do."""
    db = sqlite3.connect(audit_path(data_dir))
    (prev_hash,) = db.execute("SELECT hash FROM audit WHERE seq = ?", (prev_seq,)).fetchone()
    db.close()
    at, kind, actor, data = 1e9 + prev_seq + 0.5, "approval", "operator:mallory", {"approved": True}
    digest = compute_hash(canonical_bytes(seq, at, kind, actor, data, prev_hash), None)
    return (seq, at, kind, actor, canonical_json(data), prev_hash, digest)


INSERT = "INSERT INTO audit (seq, at, kind, actor, data, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)"
SWAP_499_500 = (
    "CREATE TEMP TABLE o AS SELECT * FROM audit WHERE seq IN (499, 500)",
    "UPDATE audit SET (at, kind, actor, data, prev_hash, hash) = "
    "(SELECT at, kind, actor, data, prev_hash, hash FROM o WHERE o.seq = 999 - audit.seq) WHERE seq IN (499, 500)",
)
MAKE_ROOM_AT_500 = (
    "UPDATE audit SET seq = seq + 1000000 WHERE seq >= 500",
    "UPDATE audit SET seq = seq - 1000000 + 1 WHERE seq >= 1000000",
)


@pytest.mark.requirement("R-36")
def test_audit_verify_1000_records_intact(
    tmp_path: Path, key: str | None, capsys: pytest.CaptureFixture[str]
):
    make_trail(tmp_path, key)
    assert run("audit", "verify", "--data-dir", str(tmp_path)) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "intact: 1000 records"
    assert "head: 1000:" in out


@pytest.mark.parametrize(
    ("statement", "bad_seq"),
    [
        ('UPDATE audit SET data = \'{"i":499,"value":99.0}\' WHERE seq = 500', 500),
        ("UPDATE audit SET at = at + 0.001 WHERE seq = 500", 500),
        ("UPDATE audit SET kind = 'approval' WHERE seq = 500", 500),
        ("UPDATE audit SET actor = 'operator:mallory' WHERE seq = 500", 500),
        ("UPDATE audit SET hash = replace(hash, substr(hash, 1, 1), 'x') WHERE seq = 500", 500),
        ("UPDATE audit SET prev_hash = hash WHERE seq = 500", 500),
        ("DELETE FROM audit WHERE seq = 500", 501),
        ("DELETE FROM audit WHERE seq = 1", 2),
        (SWAP_499_500, 499),
    ],
    ids=["data", "at", "kind", "actor", "hash", "prev_hash", "delete", "delete-first", "swap"],
)
@pytest.mark.requirement("R-36")
def test_audit_verify_tampered_exit_1_naming_record(
    tmp_path: Path, key: str | None, statement: str, bad_seq: int, capsys: pytest.CaptureFixture[str]
):
    make_trail(tmp_path, key)
    tamper(tmp_path, *([statement] if isinstance(statement, str) else statement))
    assert run("audit", "verify", "--data-dir", str(tmp_path)) == 1
    assert f"BROKEN at record {bad_seq}:" in capsys.readouterr().out


@pytest.mark.requirement("R-36")
def test_audit_verify_inserted_record_exit_1(
    tmp_path: Path, key: str | None, capsys: pytest.CaptureFixture[str]
):
    make_trail(tmp_path, key)
    row = forged_row(tmp_path, 500, 499)
    tamper(tmp_path, *MAKE_ROOM_AT_500, INSERT, params=row)
    assert run("audit", "verify", "--data-dir", str(tmp_path)) == 1
    # Without the key the forged record is self-consistent; the chain breaks at the record it displaced.
    bad_seq = 501 if key is None else 500
    assert f"BROKEN at record {bad_seq}:" in capsys.readouterr().out


@pytest.mark.requirement("R-36")
def test_audit_verify_forged_record_appended_with_plain_hash_caught_with_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setenv(AUDIT_KEY_ENV, KEY)
    make_trail(tmp_path, KEY)
    tamper(tmp_path, INSERT, params=forged_row(tmp_path, N + 1, N))
    assert run("audit", "verify", "--data-dir", str(tmp_path)) == 1
    assert f"BROKEN at record {N + 1}: hash does not match" in capsys.readouterr().out


def test_audit_verify_keyed_trail_without_key_exit_1_hinting_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    make_trail(tmp_path, KEY, n=5)
    monkeypatch.delenv(AUDIT_KEY_ENV, raising=False)
    assert run("audit", "verify", "--data-dir", str(tmp_path)) == 1
    out = capsys.readouterr().out
    assert "BROKEN at record 1:" in out
    assert AUDIT_KEY_ENV in out


@pytest.mark.requirement("R-36")
def test_audit_verify_truncated_after_checkpoint_exit_1(
    tmp_path: Path, key: str | None, capsys: pytest.CaptureFixture[str]
):
    make_trail(tmp_path, key)
    assert run("audit", "verify", "--data-dir", str(tmp_path)) == 0
    head = capsys.readouterr().out.splitlines()[1].removeprefix("head: ")
    tamper(tmp_path, f"DELETE FROM audit WHERE seq > {N - 10}")
    assert run("audit", "verify", "--data-dir", str(tmp_path)) == 0  # the chain alone cannot see this
    assert run("audit", "verify", "--data-dir", str(tmp_path), "--checkpoint", head) == 1
    assert f"BROKEN at record {N - 9}:" in capsys.readouterr().out


def test_audit_verify_row_not_a_record_exit_1_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    make_trail(tmp_path, None, n=5)
    tamper(tmp_path, "UPDATE audit SET data = '[1,' WHERE seq = 3")
    assert run("audit", "verify", "--data-dir", str(tmp_path)) == 1
    assert "BROKEN at record 3: data is not JSON" in capsys.readouterr().out


def test_audit_verify_no_trail_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert run("audit", "verify", "--data-dir", str(tmp_path / "nowhere")) == 2
    assert "no audit trail" in capsys.readouterr().err
    assert not (tmp_path / "nowhere").exists()


def test_audit_verify_empty_key_variable_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    make_trail(tmp_path, None, n=1)
    monkeypatch.setenv(AUDIT_KEY_ENV, "")
    assert run("audit", "verify", "--data-dir", str(tmp_path)) == 2
    assert "empty" in capsys.readouterr().err


def test_audit_verify_default_data_dir_is_otgate_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.delenv(AUDIT_KEY_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    make_trail(tmp_path / "otgate-data", None, n=3)
    assert run("audit", "verify") == 0
    assert "intact: 3 records" in capsys.readouterr().out


def records_from_jsonl(text: str) -> list[AuditRecord]:
    objects = [json.loads(line) for line in text.splitlines()]
    return [AuditRecord(**{k: v for k, v in obj.items() if k != "gateway"}) for obj in objects]


def test_audit_export_one_line_per_record_verifiable(
    tmp_path: Path, key: str | None, capsys: pytest.CaptureFixture[str]
):
    make_trail(tmp_path, key, n=20)
    assert run("audit", "export", "--data-dir", str(tmp_path)) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(lines) == 20
    first = json.loads(lines[0])
    assert list(first) == ["gateway", "seq", "at", "kind", "actor", "data", "prev_hash", "hash"]
    assert first["gateway"]  # every line names the trail it came from
    exported = records_from_jsonl(out)
    assert verify(exported, None if key is None else key.encode()).ok
    with AuditStore(tmp_path, None, read_only=True) as store:
        assert exported == list(store.records())


def test_audit_export_awkward_data_round_trips(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    with AuditStore(tmp_path, None) as store:
        store.append("recommendation", "engine:x", {"value": float("nan"), "why": "ünïcode \ud800 \n"}, 1.0)
    assert run("audit", "export", "--data-dir", str(tmp_path)) == 0
    assert verify(records_from_jsonl(capsys.readouterr().out), None).ok


def test_audit_export_no_trail_exit_2(tmp_path: Path):
    assert run("audit", "export", "--data-dir", str(tmp_path)) == 2
