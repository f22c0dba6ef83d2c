"""`otgate audit verify` and `otgate audit export`: read-only commands over `<data-dir>/audit.sqlite3`.

Exit codes: 0 intact / exported; 1 the chain is broken or a record is unreadable (the first bad record is
named); 2 there is no trail to check or it cannot be opened (wrong --data-dir, bad key variable).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from otgate.audit.store import (
    AUDIT_KEY_ENV,
    AuditStore,
    AuditStoreError,
    UnreadableRecordError,
    audit_key_from_env,
    audit_path,
)
from otgate.cli.audit_export import add_export_options, add_verify_jsonl_option, cmd_audit_verify_jsonl
from otgate.cli.parsers import command
from otgate.core.audit_chain import Checkpoint

DEFAULT_DATA_DIR = Path("otgate-data")


def _open(args: argparse.Namespace, key: bytes | None) -> AuditStore | None:
    if not audit_path(args.data_dir).is_file():
        print(f"otgate audit: no audit trail at {audit_path(args.data_dir)}", file=sys.stderr)
        return None
    try:
        return AuditStore(args.data_dir, key, read_only=True)
    except AuditStoreError as error:
        print(f"otgate audit: {error}", file=sys.stderr)
        return None


def _checkpoint(text: str) -> Checkpoint:
    seq, _, digest = text.partition(":")
    if not seq.isdigit() or len(digest) != 64:
        raise argparse.ArgumentTypeError("expected SEQ:HASH, e.g. 1200:3fa4…(64 hex digits)")
    return Checkpoint(int(seq), digest.lower())


def cmd_audit_verify(args: argparse.Namespace) -> int:
    if args.jsonl is not None:
        return cmd_audit_verify_jsonl(args)
    try:
        key = audit_key_from_env(os.environ)
    except ValueError as error:
        print(f"otgate audit verify: {error}", file=sys.stderr)
        return 2
    store = _open(args, key)
    if store is None:
        return 2
    with store:
        try:
            result = store.verify(args.checkpoint)
        except UnreadableRecordError as error:
            print(f"BROKEN at record {error.seq}: {error.why}")
            return 1
        except AuditStoreError as error:
            print(f"BROKEN: {error}")
            return 1
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if not result.ok:
        print(f"BROKEN at record {result.first_bad_seq}: {result.problem}")
        print(f"({result.count} records before it verified)")
        return 1
    print(f"intact: {result.count} records")
    if result.last is not None:
        # Kept off-box, this line is a checkpoint for `--checkpoint`: it shows later truncation or rewriting.
        print(f"head: {result.last.seq}:{result.last.hash}")
    if key is None:
        print(
            f"note: {AUDIT_KEY_ENV} is not set; an unkeyed chain shows edits, not a forger who rewrites "
            "every later hash (compare the head with a checkpoint kept elsewhere)",
            file=sys.stderr,
        )
    return 0


def add_audit_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `audit verify` and `audit export` to the `otgate` sub-command parsers."""
    audit = command(
        subparsers,
        "audit",
        "check or export the tamper-evident audit trail",
        "Checks or exports the gateway's audit trail (<data-dir>/audit.sqlite3).",
        "otgate audit verify --data-dir otgate-data",
        "otgate audit export > trail.jsonl",
    )
    commands = audit.add_subparsers(dest="audit_command", required=True, metavar="COMMAND")
    data_dir_help = f"the gateway's data directory (default: ./{DEFAULT_DATA_DIR})"

    verify = command(
        commands,
        "verify",
        "check the audit trail's hash chain end to end",
        "Checks the audit trail's hash chain end to end: any edited, deleted, inserted or\n"
        "reordered record is found. Exit 0 when intact, 1 naming the first bad record.",
        "otgate audit verify --data-dir otgate-data",
    )
    verify.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help=data_dir_help)
    verify.add_argument(
        "--checkpoint",
        type=_checkpoint,
        metavar="SEQ:HASH",
        help="a head printed by an earlier verify; the trail must still contain it unchanged (default: none)",
    )
    add_verify_jsonl_option(verify)
    verify.set_defaults(handler=cmd_audit_verify)

    export = command(
        commands,
        "export",
        "print or ship the audit trail (JSON Lines or RFC 5424)",
        "Prints the audit trail's records, one line each with the gateway's id, on stdout or to\n"
        "a syslog receiver; --follow keeps shipping new ones, --state resumes where the last run stopped.",
        "otgate audit export --follow --format rfc5424 --state ship.seq --to tcp://siem:514",
    )
    export.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help=data_dir_help)
    add_export_options(export)
