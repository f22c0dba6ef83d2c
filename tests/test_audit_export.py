"""`otgate audit export` (follow, resume, RFC 5424, TCP) and `otgate audit verify --jsonl`."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from otgate.audit.store import AuditStore
from otgate.cli import main
from otgate.core.audit_chain import AuditEntry, AuditKind

TIMEOUT_S = 30.0


def append(data_dir: Path, first: int, n: int, plant: str = "tank") -> None:
    entries = (
        [AuditEntry(AuditKind.CONFIG_LOAD, "gateway", {"plant": plant, "sha256": "x"}, 1e9)]
        if first == 1
        else []
    )
    entries += [
        AuditEntry(AuditKind.DECISION, "engine:e", {"i": i, "v": i / 8}, 1e9 + i)
        for i in range(first, first + n)
    ]
    with AuditStore(data_dir, None) as store:
        store.append_many(entries[:n])


def seqs(path: Path) -> list[int]:
    return [json.loads(line[line.index("{") :])["seq"] for line in path.read_text().splitlines() if line]


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S  # a bound on waiting, not an assertion on speed
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def otgate(*args: str, **kwargs: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "otgate", *args], **kwargs)  # type: ignore[call-overload]


def test_audit_export_state_file_resumes_without_gap_or_duplicate(tmp_path: Path, capsys):
    data, state, shipped = tmp_path / "data", tmp_path / "ship.seq", tmp_path / "shipped.jsonl"
    append(data, 1, 30)
    assert main(["audit", "export", "--data-dir", str(data), "--state", str(state)]) == 0
    append(data, 31, 20)
    assert main(["audit", "export", "--data-dir", str(data), "--state", str(state)]) == 0
    shipped.write_text(capsys.readouterr().out)
    assert seqs(shipped) == list(range(1, 51))
    assert state.read_text().strip() == "50"
    assert all(
        json.loads(line)["gateway"] == f"{socket.gethostname()}/tank"
        for line in shipped.read_text().splitlines()
    )
    assert main(["audit", "verify", "--jsonl", str(shipped)]) == 0
    assert "intact: 50 records, seq 1..50" in capsys.readouterr().out


def test_audit_export_from_seq_starts_there_and_segment_verifies(tmp_path: Path, capsys):
    append(tmp_path, 1, 40)
    assert (
        main(["audit", "export", "--data-dir", str(tmp_path), "--from-seq", "25", "--gateway-id", "zone-a"])
        == 0
    )
    segment = tmp_path / "segment.jsonl"
    segment.write_text(capsys.readouterr().out)
    assert seqs(segment) == list(range(25, 41))
    assert main(["audit", "verify", "--jsonl", str(segment)]) == 0


@pytest.fixture
def exported(tmp_path: Path, capsys) -> list[str]:
    append(tmp_path, 1, 10)
    assert main(["audit", "export", "--data-dir", str(tmp_path), "--format", "rfc5424"]) == 0
    return capsys.readouterr().out.splitlines()


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda lines: lines[:4] + lines[5:], "seq 6 after 4"),
        (lambda lines: lines[:5] + lines[4:], "seq 5 after 5"),
        (lambda lines: [*lines[:3], lines[3].replace('"i":3', '"i":33'), *lines[4:]], "hash does not match"),
        (
            lambda lines: [*lines[:3], lines[3].replace('"gateway":"', '"gateway":"x'), *lines[4:]],
            "two trails",
        ),
        (lambda lines: [*lines[:3], "not a record", *lines[4:]], "line 4"),
    ],
    ids=["lost", "duplicated", "edited", "mixed-gateways", "garbage"],
)
def test_audit_verify_jsonl_tampered_export_exit_1_naming_it(
    tmp_path: Path, exported: list[str], change: Callable[[list[str]], list[str]], problem: str, capsys
):
    assert exported[0].startswith("<109>1 ")
    path = tmp_path / "shipped.log"
    path.write_text("\n".join(change(exported)) + "\n")
    assert main(["audit", "verify", "--jsonl", str(path)]) == 1
    assert problem in capsys.readouterr().out


def test_audit_export_follow_killed_and_restarted_ships_every_record_once(tmp_path: Path):
    data, state = tmp_path / "data", tmp_path / "ship.seq"
    append(data, 1, 5)
    outputs = [tmp_path / "part1.jsonl", tmp_path / "part2.jsonl"]
    follow = [
        "audit",
        "export",
        "--data-dir",
        str(data),
        "--follow",
        "--poll-s",
        "0.05",
        "--state",
        str(state),
    ]
    with outputs[0].open("wb") as out:
        process = otgate(*follow, stdout=out)
        try:
            append(data, 6, 10)
            wait_for(lambda: outputs[0].read_text().count("\n") >= 15, "the follower to ship 15 records")
            process.send_signal(signal.SIGTERM)
            assert process.wait(TIMEOUT_S) == 0
        finally:
            process.kill()
    append(data, 16, 10)  # written while no exporter runs
    with outputs[1].open("wb") as out:
        process = otgate(*follow, stdout=out)
        try:
            wait_for(lambda: outputs[1].read_text().count("\n") >= 10, "the restarted follower to catch up")
            append(data, 26, 5)
            wait_for(lambda: outputs[1].read_text().count("\n") >= 15, "the restarted follower to follow")
            process.send_signal(signal.SIGTERM)
            assert process.wait(TIMEOUT_S) == 0
        finally:
            process.kill()
    combined = tmp_path / "combined.jsonl"
    combined.write_text(outputs[0].read_text() + outputs[1].read_text())
    assert seqs(combined) == list(range(1, 31))
    assert main(["audit", "verify", "--jsonl", str(combined)]) == 0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


RSYSLOG_CONF = """\
global(workDirectory="{dir}")
module(load="imtcp")
template(name="fields" type="string" string="%app-name%|%msgid%|%structured-data%|%msg%\\n")
ruleset(name="ship") {{ action(type="omfile" file="{dir}/received.log" template="fields") }}
input(type="imtcp" address="127.0.0.1" port="{port}" ruleset="ship")
"""


@pytest.fixture
def rsyslog(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A real rsyslogd (Debian package) receiving RFC 5424 over TCP into a file. Missing: the test fails."""
    binary = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
    assert os.access(binary, os.X_OK), "rsyslogd is not installed (apt-get install rsyslog; .ci/run does)"
    folder = tmp_path / "rsyslog"
    folder.mkdir()
    port = free_port()
    conf = folder / "rsyslog.conf"
    conf.write_text(RSYSLOG_CONF.format(dir=folder, port=port))
    process = subprocess.Popen([binary, "-n", "-f", str(conf), "-i", str(folder / "pid")])
    try:

        def listening() -> bool:
            assert process.poll() is None, "rsyslogd exited"
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", port)) == 0

        wait_for(listening, "rsyslogd to listen")
        yield port, folder / "received.log"
    finally:
        process.terminate()
        process.wait(TIMEOUT_S)


def test_audit_export_rfc5424_to_real_rsyslog_received_intact(tmp_path: Path, rsyslog, capsys):
    port, received = rsyslog
    data = tmp_path / "data"
    append(data, 1, 25)
    ship = [
        "audit",
        "export",
        "--data-dir",
        str(data),
        "--format",
        "rfc5424",
        "--to",
        f"tcp://127.0.0.1:{port}",
    ]
    assert main([*ship, "--gateway-id", "zone-a/tank"]) == 0
    wait_for(
        lambda: received.is_file() and received.read_text().count("\n") >= 25, "rsyslog to write 25 lines"
    )
    lines = received.read_text().splitlines()
    assert len(lines) == 25
    for seq, line in enumerate(lines, start=1):
        app, msgid, sd, _ = line.split("|", 3)
        # rsyslog parsed each line as RFC 5424: its own fields, not one opaque message.
        assert app == "otgate"
        assert msgid in {"config_load", "decision"}
        assert sd.startswith('[otgate@32473 gateway="zone-a/tank" ') and f'seq="{seq}"' in sd
    assert main(["audit", "verify", "--jsonl", str(received)]) == 0
    assert "intact: 25 records, seq 1..25" in capsys.readouterr().out
