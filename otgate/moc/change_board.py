"""The candidate configs engineers propose at the HMI, with what the approver needs to see: the check, the
diff against the running config and the replay of the trail under the candidate.

Each candidate is kept as a file, `<data-dir>/changes/<id>.yaml`, so its check names real positions
(`FILE:LINE:COL`), the reload that applies it reads exactly the bytes that were approved (their SHA-256
is compared), and the file the gateway then runs from stays on disk next to the trail that names it.
The engineer's own config file is never overwritten: deploying the approved file for the next restart is
the site's configuration management. The state of the requests is in memory (a restart drops proposals
not yet applied; each step is in the trail). Blocking I/O: call `propose` and `load_approved` from a
worker thread.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from otgate.config.loader import ConfigError, ConfigProblem, LoadedConfig, Position, load_config_file
from otgate.core.audit_chain import AuditRecord
from otgate.core.change_control import ChangeRequest
from otgate.core.plant import compile_plant
from otgate.core.replay import recorded_recommendations, replay

MAX_CANDIDATE_CHARS = 512 * 1024
DIFF_MAX_LINES = 2000
REPLAY_LISTED = 100
MAX_CHANGES = 50  # kept in memory; the oldest final ones are dropped first


@dataclass
class ProposedChange:
    request: ChangeRequest
    path: Path
    diff: str
    replay: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        r = self.request
        return {
            "id": r.id,
            "state": r.state.value,
            "proposed_by": r.proposed_by,
            "approved_by": r.approved_by,
            "decided_by": r.decided_by,
            "reason": r.reason,
            "file": str(self.path),
            "base_sha256": r.base_sha256,
            "candidate_sha256": r.candidate_sha256,
            "diff": self.diff,
            "replay": self.replay,
        }


@dataclass
class ChangeBoard:
    directory: Path
    changes: dict[str, ProposedChange] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def new_id(self) -> str:
        while True:
            candidate = f"chg-{next(self._ids)}"
            if not (self.directory / f"{candidate}.yaml").exists():
                return candidate

    def check(self, change_id: str, text: str) -> LoadedConfig:
        """The candidate written to its own file and checked like any config; ConfigError if invalid."""
        path = self.directory / f"{change_id}.yaml"
        if len(text) > MAX_CANDIDATE_CHARS:
            raise ConfigError(
                [ConfigProblem(str(path), Position(1, 1), f"over {MAX_CANDIDATE_CHARS} characters")]
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return load_config_file(path)

    def add(self, change: ProposedChange) -> None:
        self.changes[change.request.id] = change
        while len(self.changes) > MAX_CHANGES:
            del self.changes[next(iter(self.changes))]

    def load_approved(self, change: ProposedChange) -> LoadedConfig | None:
        """The approved file as it is now, or None when its bytes are no longer the approved ones."""
        try:
            loaded = load_config_file(change.path)
        except ConfigError:
            return None
        return loaded if loaded.sha256 == change.request.candidate_sha256 else None


def running_text(path: Path | None) -> tuple[str, str]:
    """(text, sha256) of the running config's file; empty when unknown or unreadable."""
    if path is None:
        return "", ""
    try:
        data = path.read_bytes()
    except OSError:
        return "", ""
    return data.decode("utf-8", errors="replace"), hashlib.sha256(data).hexdigest()


def unified_diff(base: str, base_name: str, candidate: str, candidate_name: str) -> str:
    lines = list(
        difflib.unified_diff(
            base.splitlines(keepends=True), candidate.splitlines(keepends=True), base_name, candidate_name
        )
    )
    if len(lines) > DIFF_MAX_LINES:
        lines = [*lines[:DIFF_MAX_LINES], f"... {len(lines) - DIFF_MAX_LINES} more lines\n"]
    return "".join(lines)


def replay_summary(records: list[AuditRecord], candidate: LoadedConfig) -> dict[str, Any]:
    report = replay(recorded_recommendations(records), compile_plant(candidate.config)).as_dict()
    report["decisions"] = report["decisions"][:REPLAY_LISTED]
    return report
