"""docs/INTEGRATION.md's example engine, run by `otgate engine run` (a real process) against the demo."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from pathlib import Path

from otgate.audit.store import AuditStore
from otgate.cli.demo import run_demo
from tests.conftest import ROOT

DOC = ROOT / "docs" / "INTEGRATION.md"


def example_engine_source() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    (source,) = [b for b in blocks if "class MidpointEngine" in b]
    return source


def test_integration_example_is_about_twenty_lines():
    code = [line for line in example_engine_source().splitlines() if line.strip()]
    assert len(code) <= 20


async def test_engine_run_drives_the_doc_example_against_the_demo(tmp_path: Path):
    (tmp_path / "midpoint.py").write_text(example_engine_source())
    lines: list[str] = []
    demo = asyncio.create_task(run_demo("cstr", 9.0, tmp_path / "data", say=lines.append))
    while not any("engaged AI control" in line for line in lines):
        assert not demo.done(), lines
        await asyncio.sleep(0.1)
    (url,) = [m.group(1) for line in lines if (m := re.search(r"AI API\s+(http://\S+?)/v1", line))]
    process = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "otgate", "engine", "run", "midpoint:MidpointEngine"],
        *["--gateway", url, "--app-dir", str(tmp_path), "--cycles", "3", "--period", "1"],
        *["--model-name", "midpoint"],
        env={**os.environ, "OTGATE_ENGINE_TOKEN": "demo-cstr-engine-token"},
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    out, _ = await process.communicate()
    await demo
    assert process.returncode == 0
    stats = json.loads(out.decode().strip().splitlines()[-1])
    assert stats["cycles"] == 3 and stats["sent"] >= 1
    store = AuditStore(tmp_path / "data", None, read_only=True)
    try:
        records = list(store.records())
    finally:
        store.close()
    ours = [r for r in records if r.kind == "recommendation" and "midpoint" in str(r.data.get("rationale"))]
    assert len(ours) == stats["sent"]
    assert {r.actor for r in ours} == {"engine:optimizer"}
    decided = {r.data["id"]: r.data["decision"] for r in records if r.kind == "decision"}
    assert {decided[r.data["id"]] for r in ours} <= {"accepted", "ramping", "rejected"}
    assert any(decided[r.data["id"]] in ("accepted", "ramping") for r in ours), [
        decided[r.data["id"]] for r in ours
    ]
