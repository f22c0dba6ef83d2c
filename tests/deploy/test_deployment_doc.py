"""docs/DEPLOYMENT.md followed step by step: every `sh` block, in order, as one bash script against the
wheel installed in a fresh environment, with this machine's folders and free ports as the site values.

Blocks marked `<!-- doc-test: not run (why) -->` need root on a real host or systemd as PID 1 (creating
the system user, enabling the unit); the test checks they are exactly those. Debian tools the steps use
(openssl, curl, systemd-analyze, promtool) must be installed: a missing one fails the script.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from tests.deploy.conftest import ROOT, run

DOC = ROOT / "docs" / "DEPLOYMENT.md"
BLOCK = re.compile(r"(?:<!-- doc-test: (?P<mark>[^>]*?) -->\n)?```sh\n(?P<body>.*?)```", re.S)
NOT_RUN_NEEDS = ("useradd", "systemctl", 'pip" install')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def blocks() -> list[tuple[str, str]]:
    return [(m["mark"] or "", m["body"]) for m in BLOCK.finditer(DOC.read_text())]


def test_deployment_doc_only_root_or_systemd_steps_are_not_run():
    for mark, body in blocks():
        if mark.startswith("not run"):
            assert any(word in body for word in NOT_RUN_NEEDS), f"a skipped step that could run:\n{body}"


@pytest.mark.timeout(600)
def test_deployment_doc_steps_run_on_this_machine(installed: tuple[Path, Path], tmp_path: Path):
    bin_dir, _ = installed
    site = tmp_path / "site"
    values = {
        "PREFIX": bin_dir.parent,
        "ETC": site / "etc" / "otgate",
        "STATE": site / "var" / "lib" / "otgate",
        "UNITDIR": site / "systemd",
        "ZONE": "tank",
        "PLC_HOST": "127.0.0.1",
        "PLC_PORT": free_port(),  # nothing listens: the trial gateway stays in fallback, as it starts
        "API_PORT": free_port(),
        "HMI_PORT": free_port(),
        "OPERATOR_PASSWORD": "a long site password",
    }
    script = ["set -euo pipefail", *(f"{k}='{v}'" for k, v in values.items())]
    ran = []
    for mark, body in blocks():
        if mark.startswith("not run") or mark.startswith("site values"):
            continue
        script.append(body)
        ran.append(body)
    assert len(ran) >= 8, "the doc's runnable steps went missing"
    work = tmp_path / "work"
    work.mkdir()
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(work)}
    result = run("bash", "-c", "\n".join(script), cwd=work, timeout=300, env=env)
    out = result.stdout
    assert '{"status":"ok"}' in out  # the trial's AI API answered over HTTPS
    assert "intact:" in out  # its keyed trail verified
    assert re.search(r"intact: \d+ records, seq 1\.\.\d+", out)  # and what was shipped of it
    config = (values["ETC"] / "tank.yaml").read_text()  # type: ignore[operator]
    assert "demo" not in config.split("operators:")[1] and "alice:" in config
    assert "tls: {certificate: tls/gateway.pem" in config
