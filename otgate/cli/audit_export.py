"""`otgate audit export` (one-shot or `--follow`) and `otgate audit verify --jsonl FILE`: shipping the
trail to a site's SIEM and checking what arrived. Line layouts: `otgate/core/audit_export.py`.

Resuming without loss or duplicates: with `--state FILE` the exporter writes the last seq it handed on
(after flushing stdout or sending to the socket) and the next run starts after it; without, `--from-seq N`
starts at N. The window between a send and the state write is one batch: after a hard kill that batch is
sent again, and a receiver that keys on (gateway, seq) drops the repeat (docs/DEPLOYMENT.md). `seq` is
dense and each line carries its chain hash, so any loss shows as a gap in `audit verify --jsonl`.

`--to tcp://HOST:PORT` sends RFC 5424 or JSON lines over TCP with octet-counting framing (RFC 6587 §3.4.1),
which rsyslog's imtcp and syslog-ng take as is; stdout serves any other shipper.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TextIO
from urllib.parse import urlsplit

from otgate.audit.store import AuditStore, AuditStoreError, audit_key_from_env, audit_path
from otgate.core.audit_chain import AuditRecord
from otgate.core.audit_export import ShippedRecord, jsonl_line, rfc5424_line, verify_segment

FORMATS = ("jsonl", "rfc5424")
BATCH = 500


class _Stop(Exception):
    """SIGTERM: leave the follow loop after the batch in hand (its state is written first)."""


def gateway_id(store: AuditStore, hostname: str) -> str:
    """`<host>/<plant>`: the plant from the trail's first config load (the trail of one gateway)."""
    for record in store.records():
        plant = record.data.get("plant") if record.kind == "config_load" else None
        if isinstance(plant, str):
            return f"{hostname}/{plant}"
        break
    return hostname


def read_state(path: Path | None) -> int:
    """The last seq a previous run handed on (0: none)."""
    if path is None or not path.is_file():
        return 0
    text = path.read_text().strip()
    return int(text) if text.isdigit() else 0


def write_state(path: Path, seq: int) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(f"{seq}\n")
    os.replace(temporary, path)  # atomic: a crash leaves the old or the new seq, never half a number


class TcpSink:
    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme != "tcp" or not parts.hostname or not parts.port:
            raise ValueError(f"--to expects tcp://HOST:PORT, got {url!r}")
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=30)

    def write(self, lines: list[str]) -> None:
        frames = b"".join(f"{len(line.encode())} ".encode() + line.encode() for line in lines)
        self.sock.sendall(frames)

    def close(self) -> None:
        self.sock.close()


class StreamSink:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, lines: list[str]) -> None:
        self.stream.write("".join(line + "\n" for line in lines))
        self.stream.flush()

    def close(self) -> None:
        pass


def batches(store: AuditStore, after: int) -> Iterator[list[AuditRecord]]:
    batch: list[AuditRecord] = []
    for record in store.records(after + 1):
        batch.append(record)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def export(
    store: AuditStore,
    sink: TcpSink | StreamSink,
    render: Callable[[AuditRecord], str],
    after: int,
    state: Path | None,
) -> int:
    """Hand on every record after seq `after`; returns the last seq handed on."""
    for batch in batches(store, after):
        sink.write([render(record) for record in batch])
        after = batch[-1].seq
        if state is not None:
            write_state(state, after)
    return after


def _on_term(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def cmd_audit_export(args: argparse.Namespace) -> int:
    if not audit_path(args.data_dir).is_file():
        print(f"otgate audit export: no audit trail at {audit_path(args.data_dir)}", file=sys.stderr)
        return 2
    try:
        # No key needed: exporting only copies; whoever reads the export verifies it.
        store = AuditStore(args.data_dir, None, read_only=True)
        sink: TcpSink | StreamSink = TcpSink(args.to) if args.to else StreamSink(sys.stdout)
    except (AuditStoreError, ValueError, OSError) as error:
        print(f"otgate audit export: {error}", file=sys.stderr)
        return 2
    hostname = socket.gethostname()
    gateway = args.gateway_id or gateway_id(store, hostname)
    if args.format == "rfc5424":
        render: Callable[[AuditRecord], str] = lambda r: rfc5424_line(r, gateway, hostname, rfc3339(r.at))  # noqa: E731
    else:
        render = lambda r: jsonl_line(r, gateway)  # noqa: E731
    after = max(args.from_seq - 1, read_state(args.state))
    previous = signal.signal(signal.SIGTERM, _on_term)
    try:
        after = export(store, sink, render, after, args.state)
        while args.follow:
            time.sleep(args.poll_s)
            after = export(store, sink, render, after, args.state)
    except (_Stop, KeyboardInterrupt):
        pass
    except BrokenPipeError:
        # `otgate audit export | head`: the reader left; not an error. Silence the flush at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (AuditStoreError, OSError) as error:
        print(f"otgate audit export: {error}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
        sink.close()
        store.close()
    return 0


def parse_jsonl_line(line: str) -> ShippedRecord:
    """A shipped line (JSON, or RFC 5424 whose MSG is the JSON) back to its record; ValueError if not one."""
    start = line.find("{")
    if start < 0:
        raise ValueError("no JSON object on the line")
    try:
        obj = json.loads(line[start:])
    except json.JSONDecodeError as error:
        raise ValueError(f"not JSON: {error.msg}") from None
    try:
        record = AuditRecord(
            int(obj["seq"]),
            float(obj["at"]),
            str(obj["kind"]),
            str(obj["actor"]),
            dict(obj["data"]),
            str(obj["prev_hash"]),
            str(obj["hash"]),
        )
        return ShippedRecord(str(obj["gateway"]), record)
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"not an audit line: {error!r}") from None


def parsed_lines(lines: Iterable[str]) -> Iterator[tuple[int, ShippedRecord | str]]:
    for number, line in enumerate(lines, start=1):
        if line.strip():
            try:
                yield number, parse_jsonl_line(line)
            except ValueError as error:
                yield number, str(error)


def rfc3339(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def cmd_audit_verify_jsonl(args: argparse.Namespace) -> int:
    try:
        key = audit_key_from_env(os.environ)
        with open(args.jsonl, encoding="utf-8", errors="replace") as lines:
            result = verify_segment(parsed_lines(lines), key)
    except (ValueError, OSError) as error:
        print(f"otgate audit verify: {error}", file=sys.stderr)
        return 2
    if not result.ok:
        print(f"BROKEN at {result.problem}")
        print(f"({result.count} records before it verified)")
        return 1
    if result.count == 0:
        print(f"otgate audit verify: no records in {args.jsonl}", file=sys.stderr)
        return 1
    print(f"intact: {result.count} records, seq {result.first_seq}..{result.last_seq}")
    return 0


def add_export_options(export: argparse.ArgumentParser) -> None:
    export.add_argument("--format", choices=FORMATS, default="jsonl", help="line layout (default: jsonl)")
    export.add_argument(
        "--from-seq", type=int, default=1, metavar="N", help="first record to export (default: 1)"
    )
    export.add_argument(
        "--follow", action="store_true", help="keep exporting new records as they are written (default: off)"
    )
    export.add_argument(
        "--state",
        type=Path,
        metavar="FILE",
        help="remember the last seq handed on here and resume after it (default: none)",
    )
    export.add_argument(
        "--to", metavar="tcp://HOST:PORT", help="send to a syslog receiver over TCP (default: stdout)"
    )
    export.add_argument("--gateway-id", help="the id on every line (default: HOST/PLANT)")
    export.add_argument(
        "--poll-s", type=float, default=1.0, help="with --follow, how often to look (default: 1.0)"
    )
    export.set_defaults(handler=cmd_audit_export)


def add_verify_jsonl_option(verify: argparse.ArgumentParser) -> None:
    verify.add_argument(
        "--jsonl",
        type=Path,
        metavar="FILE",
        help="verify an exported file (JSON Lines or RFC 5424) instead of the data dir's trail (default: none)",
    )
